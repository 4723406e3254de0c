package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// fakeWorld is an IdP, an authorization server and an MCP server, each a few
// lines of httptest, around a real Agent0. They record every request Agent0
// makes and can be told to refuse, so a test can assert on what Agent0 does
// (discovery order, caching, silent re-exchange, ID token renewal, refusals)
// and on what it logs, without the real parties' rules in the way.
type fakeWorld struct {
	t                 *testing.T
	idp, as, mcp      *httptest.Server
	agent0            *Server
	logs              *bytes.Buffer
	key               *ecdsa.PrivateKey
	mu                sync.Mutex
	requests          []fakeRequest
	seq               int
	validAccess       map[string]bool // access tokens the MCP server accepts
	issued            []string        // every token the fakes issued, to look for in logs and URLs
	profiles          []string        // the AS metadata's authorization_grant_profiles_supported
	refuseExchange    string          // error code the IdP answers token exchanges with
	idTokenTTL        time.Duration
	mcpOpen           bool              // the MCP server answers without a token (no 401)
	prmAt             string            // resource_metadata URL the 401 names (default: the MCP server's own)
	prmNoAS           bool              // the PRM names no authorization server
	dpopIgnored       bool              // the IdP ignores a DPoP proof (a downgrade)
	boundTo           map[string]string // access token -> DPoP jkt
	dpopErrors        []string          // proofs the fakes refused, and why
	lastSubjectTokens []string          // subject_token of each token exchange
}

// fakeRequest is one request a fake received.
type fakeRequest struct {
	Party  string // "idp", "as", "mcp"
	Method string
	URL    string // path and query as received
	Header http.Header
	Form   url.Values // token requests
}

// kind names a request in protocol terms, for readable sequences.
func (r fakeRequest) kind() string {
	switch r.Form.Get("grant_type") {
	case oauth.GrantTypeTokenExchange:
		return r.Party + " token-exchange"
	case oauth.GrantTypeJWTBearer:
		return r.Party + " jwt-bearer"
	case oauth.GrantTypeRefreshToken:
		return r.Party + " refresh"
	}
	if strings.Contains(r.URL, "/.well-known/") {
		return r.Party + " metadata " + strings.TrimPrefix(strings.SplitN(r.URL, "?", 2)[0], "/.well-known/")
	}
	if r.Party == "mcp" {
		if r.Header.Get("Authorization") == "" {
			return "mcp call without token"
		}
		return "mcp call with token"
	}
	return r.Party + " " + r.Method + " " + r.URL
}

func newFakeWorld(t *testing.T, mods ...func(*Config)) *fakeWorld {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWorld{t: t, key: k, validAccess: map[string]bool{}, boundTo: map[string]string{}, profiles: []string{oauth.GrantProfileIDJAG}, idTokenTTL: time.Hour, logs: &bytes.Buffer{}}
	w.idp = httptest.NewServer(w.recording("idp", http.HandlerFunc(w.serveIdP)))
	w.as = httptest.NewServer(w.recording("as", http.HandlerFunc(w.serveAS)))
	w.mcp = httptest.NewServer(w.recording("mcp", w.mcpHandler()))
	t.Cleanup(func() { w.idp.Close(); w.as.Close(); w.mcp.Close() })
	cfg := Config{
		PublicURL: "http://agent0.test", DataDir: t.TempDir(), IdPIssuer: w.idp.URL, MCPURL: w.mcp.URL + "/mcp",
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: w.logs, mu: &w.mu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.agent0 = s
	return w
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (w *fakeWorld) recording(party string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fr := fakeRequest{Party: party, Method: r.Method, URL: r.URL.RequestURI(), Header: r.Header.Clone()}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			_ = r.ParseForm()
			fr.Form = r.PostForm
		}
		w.mu.Lock()
		w.requests = append(w.requests, fr)
		w.mu.Unlock()
		h.ServeHTTP(rw, r)
	})
}

// newToken is a fresh opaque token, remembered as issued.
func (w *fakeWorld) newToken(prefix string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	tok := fmt.Sprintf("%s-%d-%s", prefix, w.seq, strings.Repeat("x", 24))
	w.issued = append(w.issued, tok)
	return tok
}

// idToken signs an ID token for alice, aud Agent0's client at the IdP.
func (w *fakeWorld) idToken(ttl time.Duration) string {
	w.t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		w.t.Fatal(err)
	}
	now := time.Now()
	b, _ := json.Marshal(map[string]any{"iss": w.idp.URL, "sub": "alice-sub", "aud": "agent0", "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "email": "alice@example.com", "name": "Alice"})
	jws, err := sig.Sign(b)
	if err != nil {
		w.t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	w.mu.Lock()
	w.issued = append(w.issued, raw)
	w.mu.Unlock()
	return raw
}

func (w *fakeWorld) serveIdP(rw http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		oauth.WriteJSON(rw, http.StatusOK, map[string]any{
			"issuer": w.idp.URL, "authorization_endpoint": w.idp.URL + "/authorize", "token_endpoint": w.idp.URL + "/token",
			"jwks_uri": w.idp.URL + "/jwks", "response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
		})
	case "/jwks":
		oauth.WriteJSON(rw, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &w.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	case "/token":
		switch r.PostForm.Get("grant_type") {
		case oauth.GrantTypeRefreshToken:
			oauth.WriteJSON(rw, http.StatusOK, map[string]any{"access_token": w.newToken("idp-at"), "token_type": "Bearer", "expires_in": 3600,
				"id_token": w.idToken(w.idTokenTTL), "refresh_token": w.newToken("rt")})
		case oauth.GrantTypeTokenExchange:
			w.mu.Lock()
			w.lastSubjectTokens = append(w.lastSubjectTokens, r.PostForm.Get("subject_token"))
			refuse := w.refuseExchange
			w.mu.Unlock()
			if refuse != "" {
				oauth.WriteError(rw, r, oauth.Errorf(refuse, "user alice is deactivated"))
				return
			}
			jag := w.newToken("idjag")
			if r.Header.Get(dpop.Header) != "" {
				p, err := w.checkProof(r, w.idp.URL+"/token", "")
				if err != nil {
					oauth.WriteError(rw, r, oauth.Errorf(dpop.ErrCodeInvalidProof, "%v", err))
					return
				}
				w.mu.Lock()
				ignored := w.dpopIgnored
				w.mu.Unlock()
				claims := map[string]any{"jti": jag}
				if !ignored {
					claims["cnf"] = map[string]string{"jkt": p.JKT}
				}
				jag = unsignedJWT(claims)
			}
			oauth.WriteJSON(rw, http.StatusOK, map[string]any{"access_token": jag, "issued_token_type": oauth.TokenTypeIDJAG, "token_type": "N_A", "expires_in": 300})
		default:
			oauth.WriteError(rw, r, oauth.Errorf(oauth.ErrUnsupportedGrantType, "fake IdP"))
		}
	default:
		http.NotFound(rw, r)
	}
}

func (w *fakeWorld) serveAS(rw http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		w.mu.Lock()
		profiles := w.profiles
		w.mu.Unlock()
		oauth.WriteJSON(rw, http.StatusOK, map[string]any{
			"issuer": w.as.URL, "token_endpoint": w.as.URL + "/token", "response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"},
			"grant_types_supported": []string{oauth.GrantTypeJWTBearer}, "authorization_grant_profiles_supported": profiles,
		})
	case "/token":
		if r.PostForm.Get("grant_type") != oauth.GrantTypeJWTBearer || r.PostForm.Get("assertion") == "" {
			oauth.WriteError(rw, r, oauth.InvalidGrant("fake AS"))
			return
		}
		at, tokenType := w.newToken("at"), "Bearer"
		if r.Header.Get(dpop.Header) != "" {
			p, err := w.checkProof(r, w.as.URL+"/token", "")
			if err != nil {
				oauth.WriteError(rw, r, oauth.Errorf(dpop.ErrCodeInvalidProof, "%v", err))
				return
			}
			w.mu.Lock()
			w.boundTo[at] = p.JKT
			w.mu.Unlock()
			tokenType = dpop.Scheme
		}
		w.mu.Lock()
		w.validAccess[at] = true
		w.mu.Unlock()
		oauth.WriteJSON(rw, http.StatusOK, map[string]any{"access_token": at, "token_type": tokenType, "expires_in": 300, "scope": "todos.read todos.write"})
	default:
		http.NotFound(rw, r)
	}
}

// expireAccessTokens makes the MCP server refuse every access token issued
// so far, as when they expire.
func (w *fakeWorld) expireAccessTokens() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.validAccess)
}

func (w *fakeWorld) mcpHandler() http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "fake-todo0-mcp", Version: "0"}, nil)
	type listOut struct {
		Todos []map[string]any `json:"todos"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "list_todos"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, listOut, error) {
		return nil, listOut{Todos: []map[string]any{{"id": 1, "title": "buy milk", "done": false}}}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		open, prmAt, noAS := w.mcpOpen, w.prmAt, w.prmNoAS
		w.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
			as := []string{w.as.URL}
			if noAS {
				as = []string{}
			}
			oauth.WriteJSON(rw, http.StatusOK, map[string]any{"resource": w.mcp.URL + "/mcp", "authorization_servers": as, "bearer_methods_supported": []string{"header"}})
			return
		}
		if open && r.Header.Get("Authorization") == "" && r.Method == http.MethodPost {
			oauth.WriteJSON(rw, http.StatusOK, map[string]any{"jsonrpc": "2.0", "id": 1, "result": map[string]any{}})
			return
		}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		w.mu.Lock()
		jkt := w.boundTo[tok]
		ok := w.validAccess[tok] && ((jkt == "" && strings.EqualFold(scheme, "Bearer")) || (jkt != "" && scheme == dpop.Scheme))
		w.mu.Unlock()
		if ok && jkt != "" {
			p, err := w.checkProof(r, w.mcp.URL+r.URL.Path, tok)
			ok = err == nil && p.JKT == jkt
		}
		if !ok {
			if prmAt == "" {
				prmAt = w.mcp.URL + "/.well-known/oauth-protected-resource/mcp"
			}
			challenge := fmt.Sprintf(`Bearer resource_metadata="%s"`, prmAt)
			if tok != "" {
				challenge += `, error="invalid_token"`
			}
			rw.Header().Set("WWW-Authenticate", challenge)
			http.Error(rw, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(rw, r)
	})
}

// signIn makes an Agent0 session for alice as a finished sign-in would, with
// the given ID token and IdP refresh token, and returns its id.
func (w *fakeWorld) signIn(idToken string, idTokenExp time.Time, refreshToken string) string {
	w.t.Helper()
	sid := randomID()
	now := time.Now()
	_, err := w.agent0.db.Exec(`INSERT INTO sessions(id, cookie_hash, sub, name, email, id_token, id_token_exp, refresh_token, csrf, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		sid, hash(randomID()), "alice-sub", "Alice", "alice@example.com", idToken, idTokenExp.Unix(), refreshToken, randomID(), now.Unix(), now.Add(time.Hour).Unix())
	if err != nil {
		w.t.Fatal(err)
	}
	return sid
}

// requestsSince returns the requests received after the first n.
func (w *fakeWorld) requestsSince(n int) []fakeRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]fakeRequest(nil), w.requests[n:]...)
}

func (w *fakeWorld) requestCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.requests)
}

// count is how many requests of the given kind are in rs.
func count(rs []fakeRequest, kind string) int {
	n := 0
	for _, r := range rs {
		if r.kind() == kind {
			n++
		}
	}
	return n
}

func kinds(rs []fakeRequest) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.kind()
	}
	return out
}

// checkProof verifies a request's DPoP proof, recording a refusal.
func (w *fakeWorld) checkProof(r *http.Request, htu, token string) (*dpop.Proof, error) {
	p, err := (&dpop.Verifier{}).Verify(r.Context(), r.Header.Values(dpop.Header), dpop.Request{Method: r.Method, URL: htu, AccessToken: token})
	if err != nil {
		w.mu.Lock()
		w.dpopErrors = append(w.dpopErrors, err.Error())
		w.mu.Unlock()
	}
	return p, err
}

// unsignedJWT is a JWT-shaped token whose claims a client can read; the
// fake IdP's ID-JAGs need no signature because Agent0 only reads cnf.
func unsignedJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": oauth.TypIDJAG})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + ".sig"
}
