package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Test keys are generated once per test binary: RSA generation is slow on a
// shared 2-core machine.
var (
	keyOnce                      sync.Once
	idpKey, idpKey2, strangerKey *rsa.PrivateKey
)

func testKeys(t *testing.T) {
	t.Helper()
	keyOnce.Do(func() {
		for _, k := range []**rsa.PrivateKey{&idpKey, &idpKey2, &strangerKey} {
			var err error
			if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		}
	})
}

// fakeIdP is the IdP Todo0 trusts in these tests: OIDC discovery plus a JWKS
// whose fetches it counts. Keys are published with publish.
type fakeIdP struct {
	*httptest.Server
	mu          sync.Mutex
	published   []jose.JSONWebKey
	jwksFetches atomic.Int64
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	testKeys(t)
	f := &fakeIdP{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"issuer": f.URL, "jwks_uri": f.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksFetches.Add(1)
		f.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), f.published...)}
		f.mu.Unlock()
		oauth.WriteJSON(w, http.StatusOK, set)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	f.publish(idpKey, "idp-key-1")
	return f
}

func (f *fakeIdP) publish(k *rsa.PrivateKey, kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"})
}

// env is a Todo0 served on 127.0.0.1 that trusts a fake IdP.
type env struct {
	t   *testing.T
	s   *Server
	url string
	idp *fakeIdP
}

func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	idp := newFakeIdP(t)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := Config{
		PublicURL: srv.URL, DataDir: t.TempDir(), IdPIssuer: idp.URL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h = s.Handler()
	return &env{t: t, s: s, url: srv.URL, idp: idp}
}

// claims is a well-formed ID-JAG payload for alice, Agent0 and Todo0 MCP.
func (e *env) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.idp.URL, "sub": "00u_alice", "aud": e.url,
		"client_id": demo.Agent0Todo0ClientID, "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"resource": demo.Todo0MCPURL + demo.MCPPath, "scope": "todos.read todos.write",
		"email": "alice@acme.example", "name": "Alice Anderson",
	}
}

// jwtSpec says how to sign a test JWT.
type jwtSpec struct {
	alg    jose.SignatureAlgorithm // RS256 when empty
	key    any                     // idpKey when nil
	typ    string                  // oauth-id-jag+jwt when empty; "-" for none
	kid    string                  // idp-key-1 when empty; "-" for none
	header map[string]any          // extra headers (jku, x5u)
}

func sign(t *testing.T, sp jwtSpec, claims map[string]any) string {
	t.Helper()
	if sp.alg == "" {
		sp.alg = jose.RS256
	}
	if sp.key == nil {
		sp.key = idpKey
	}
	opts := &jose.SignerOptions{}
	switch sp.typ {
	case "":
		opts = opts.WithType(oauth.TypIDJAG)
	case "-":
	default:
		opts = opts.WithType(jose.ContentType(sp.typ))
	}
	switch sp.kid {
	case "":
		opts = opts.WithHeader("kid", "idp-key-1")
	case "-":
	default:
		opts = opts.WithHeader("kid", sp.kid)
	}
	for k, v := range sp.header {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: sp.alg, Key: sp.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds an alg "none" JWT by hand; go-jose refuses to make one.
func unsigned(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// post sends a form to Todo0's token endpoint with Agent0's Basic credentials
// unless the form carries client credentials of its own or basic is false.
func (e *env) post(form url.Values, basic bool) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) redeem(assertion string) *http.Response {
	return e.post(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {assertion}}, true)
}

// decode reads a JSON body and closes it.
func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, b)
	}
	return m
}

// wantOAuthError checks an RFC 6749 5.2 error response.
func wantOAuthError(t *testing.T, resp *http.Response, status int, code string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	m := decode(t, resp)
	if m["error"] != code {
		t.Fatalf("error %v (%v), want %s", m["error"], m["error_description"], code)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description")
	}
	return m
}

// dbState is what a refused request must not change. seenJTI counts the
// replay records: seen_jti rows (client assertions) and the grants that
// record their ID-JAG as redeemed.
type dbState struct{ grants, users, seenJTI, todos int }

func (e *env) state() dbState {
	e.t.Helper()
	var st dbState
	err := e.s.db.QueryRow(`SELECT (SELECT COUNT(*) FROM grants), (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM seen_jti) + (SELECT COUNT(*) FROM grants WHERE replay_id IS NOT NULL), (SELECT COUNT(*) FROM todos)`).
		Scan(&st.grants, &st.users, &st.seenJTI, &st.todos)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}
