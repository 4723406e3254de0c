package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// env is one IdP under test on a loopback httptest server, plus an
// "Agent0" that serves the JWKS for its private_key_jwt key.
type env struct {
	t        *testing.T
	dir      string
	s        *Server
	ts       *httptest.Server
	agent    *httptest.Server
	agentKey jose.JSONWebKey
	cfg      Config

	mu    sync.Mutex
	clock time.Time
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// handlerSwitch lets the httptest server start (so its URL, the issuer, is
// known) before the IdP exists.
type handlerSwitch struct {
	mu sync.RWMutex
	h  http.Handler
}

func (hs *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hs.mu.RLock()
	h := hs.h
	hs.mu.RUnlock()
	if h == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

func newEnv(t *testing.T, mods ...func(*Config)) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), mods...)
}

func newEnvAt(t *testing.T, dir string, mods ...func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, dir, "", mods...)
}

// restart closes the IdP and starts a new one on the same data directory
// and the same address, so the issuer is unchanged.
func (e *env) restart(t *testing.T) *env {
	t.Helper()
	addr := e.ts.Listener.Addr().String()
	e.ts.Close()
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, e.dir, addr)
}

func newEnvOn(t *testing.T, dir, addr string, mods ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dir: dir, clock: time.Now()}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.agentKey = jose.JSONWebKey{Key: priv, KeyID: "agent0-test-key", Algorithm: "ES256", Use: "sig"}
	e.agent = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{e.agentKey.Public()}})
	}))
	t.Cleanup(e.agent.Close)
	hs := &handlerSwitch{}
	e.ts = httptest.NewUnstartedServer(hs)
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		e.ts.Listener.Close()
		e.ts.Listener = ln
	}
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	e.cfg = Config{Issuer: e.ts.URL, DataDir: dir, SigningAlg: "ES256", Agent0URL: e.agent.URL, Logger: quiet}
	for _, m := range mods {
		m(&e.cfg)
	}
	e.s, err = New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.s.now = e.now
	t.Cleanup(func() { e.s.Close() })
	hs.mu.Lock()
	hs.h = e.s.Handler()
	hs.mu.Unlock()
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

// advance moves the IdP's clock, and back at the end of the (sub)test.
func (e *env) advance(t *testing.T, d time.Duration) {
	e.mu.Lock()
	e.clock = e.clock.Add(d)
	e.mu.Unlock()
	t.Cleanup(func() {
		e.mu.Lock()
		e.clock = e.clock.Add(-d)
		e.mu.Unlock()
	})
}

// grant is what a sign-in gave a client.
type grant struct {
	IDToken, RefreshToken, SID string
	AccessToken                string
}

// signIn creates an IdP session for username and issues the client's tokens
// through the same code the authorization code grant uses.
func (e *env) signIn(username, clientID, scope string) grant {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.s.userBy(ctx, "username", username)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.s.client(ctx, clientID)
	if err != nil {
		e.t.Fatal(err)
	}
	sess := &session{SID: "sid_" + randomToken()[:22], UserID: u.ID, AuthTime: e.now()}
	if _, err := e.s.db.Exec(`INSERT INTO sessions(sid, cookie_hash, user_id, auth_time, expires_at) VALUES (?,?,?,?,?)`,
		sess.SID, hashToken(randomToken()), u.ID, sess.AuthTime.Unix(), e.now().Add(time.Hour).Unix()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.s.issueTokens(ctx, c, u, sess, scope, "n", true)
	if err != nil {
		e.t.Fatal(err)
	}
	return grant{IDToken: resp.IDToken, RefreshToken: resp.RefreshToken, SID: sess.SID, AccessToken: resp.AccessToken}
}

func (e *env) todo0Audience() string { return e.s.cfg.Todo0URL }
func (e *env) mcpResource() string   { return e.s.cfg.Todo0MCPURL + demo.MCPPath }

// exchangeForm is a valid token exchange for the subject's ID token.
func (e *env) exchangeForm(idToken string) url.Values {
	return url.Values{
		"grant_type":           {oauth.GrantTypeTokenExchange},
		"requested_token_type": {oauth.TokenTypeIDJAG},
		"audience":             {e.todo0Audience()},
		"resource":             {e.mcpResource()},
		"scope":                {"todos.read todos.write"},
		"subject_token":        {idToken},
		"subject_token_type":   {oauth.TokenTypeIDToken},
	}
}

type response struct {
	Status int
	Header http.Header
	JSON   map[string]any
	Body   string
}

func (r response) str(k string) string { s, _ := r.JSON[k].(string); return s }

// post sends a form to the token endpoint; auth adds client credentials.
func (e *env) post(path string, form url.Values, auth func(*http.Request, url.Values)) response {
	e.t.Helper()
	if auth != nil {
		form = cloneValues(form)
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, nil)
	if auth != nil {
		auth(req, form)
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	_ = json.Unmarshal(b, &r.JSON)
	return r
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func basic(id, secret string) func(*http.Request, url.Values) {
	return func(r *http.Request, _ url.Values) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

func postSecret(id, secret string) func(*http.Request, url.Values) {
	return func(_ *http.Request, f url.Values) { f.Set("client_id", id); f.Set("client_secret", secret) }
}

var agent0Basic = basic(demo.Agent0IdPClientID, demo.Agent0IdPClientSecret)

// assertion is a private_key_jwt client assertion signed with Agent0's key.
func (e *env) assertion(mod func(*jwt.Claims)) func(*http.Request, url.Values) {
	return func(_ *http.Request, f url.Values) {
		c := jwt.Claims{Issuer: demo.Agent0IdPClientID, Subject: demo.Agent0IdPClientID, Audience: jwt.Audience{e.ts.URL + "/oauth2/token"},
			IssuedAt: jwt.NewNumericDate(time.Now()), Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute)), ID: randomToken()}
		if mod != nil {
			mod(&c)
		}
		f.Set("client_assertion_type", oauth.ClientAssertionTypeJWTBearer)
		f.Set("client_assertion", e.sign(e.agentKey, "JWT", c))
	}
}

func (e *env) sign(k jose.JSONWebKey, typ string, claims ...any) string {
	e.t.Helper()
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		e.t.Fatal(err)
	}
	b := jwt.Signed(sg)
	for _, c := range claims {
		b = b.Claims(c)
	}
	raw, err := b.Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// lastAudit is the newest audit record of event. It fails t, the caller's
// (sub)test, never the env's parent test, so one bad row does not abort
// the rows after it.
func (e *env) lastAudit(t testing.TB, event string) AuditEntry {
	t.Helper()
	return e.auditSince(t, event, 0)
}

// auditMark is the id of the newest audit record, for auditSince.
func (e *env) auditMark(t testing.TB) int64 {
	t.Helper()
	got, err := e.s.QueryAudit(context.Background(), AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return 0
	}
	return got[0].ID
}

// auditSince is the newest record of event written after mark: the record
// the step under test caused, not an older one of the same event.
func (e *env) auditSince(t testing.TB, event string, mark int64) AuditEntry {
	t.Helper()
	got, err := e.s.QueryAudit(context.Background(), AuditFilter{Event: event, Limit: 1})
	if err != nil || len(got) == 0 || got[0].ID <= mark {
		t.Fatalf("no new %s audit record (err %v)", event, err)
		return AuditEntry{}
	}
	return got[0]
}

// admin sends a JSON admin API request with the admin token.
func (e *env) admin(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.ts.URL+"/admin/api"+path, rd)
	req.Header.Set("Authorization", "Bearer "+demo.IdPAdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(req)
}

// mustAdmin is admin that fails the test on a non-2xx answer.
func (e *env) mustAdmin(method, path string, body any) response {
	e.t.Helper()
	r := e.admin(method, path, body)
	if r.Status/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	return r
}

// peek decodes a JWT's header and claims without verifying.
func peek(t *testing.T, raw string) (map[string]any, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	var claims map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	h := map[string]any{"alg": tok.Headers[0].Algorithm, "kid": tok.Headers[0].KeyID}
	if typ, ok := tok.Headers[0].ExtraHeaders["typ"]; ok {
		h["typ"] = typ
	}
	return h, claims
}

// port is the test server's port.
func (e *env) port() string {
	u, _ := url.Parse(e.ts.URL)
	return u.Port()
}
