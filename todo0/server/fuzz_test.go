package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Finding F1 of this fuzzer: an ID-JAG whose sub or jti is the empty
// string was redeemed (an empty sub provisions a user with no subject, an
// empty jti is one one-time id shared by every such token). Todo0 refuses
// them since beb68b1; the model below requires both non-empty and the
// inputs are kept in testdata/fuzz/FuzzJWTBearer/F1-*.

// fuzzTodo0 is a Todo0 whose token endpoint is driven in-process, trusting a
// fake IdP on 127.0.0.1 that publishes one RS256 key.
type fuzzTodo0 struct {
	h      http.Handler
	idp    *httptest.Server
	key    *rsa.PrivateKey
	public string
}

func newFuzzTodo0(f *testing.F) *fuzzTodo0 {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	z := &fuzzTodo0{key: key, public: "http://todo0.fuzz.test"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"issuer": z.idp.URL, "jwks_uri": z.idp.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	z.idp = httptest.NewServer(mux)
	f.Cleanup(z.idp.Close)
	s, err := New(context.Background(), Config{PublicURL: z.public, DataDir: f.TempDir(), IdPIssuer: z.idp.URL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	z.h = s.Handler()
	return z
}

func (z *fuzzTodo0) sign(typ string, claims map[string]any) string {
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: z.key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "k1"))
	tok, _ := jwt.Signed(s).Claims(claims).Serialize()
	return tok
}

// FuzzJWTBearer drives Todo0's token endpoint with the jwt-bearer grant:
// either a random/mutated assertion string, or an ID-JAG signed by the
// trusted IdP key from fuzzed claims. Properties: no panic and never a 5xx;
// every refusal is RFC 6749 JSON with no-store and an allowed code; an
// access token is issued only for an ID-JAG that is valid by an independent
// model of checklist 3 (typ, aud = issuer exactly, client_id =
// authenticated client, resource ours, scopes known, exp/iat, sub and jti
// non-empty, jti never redeemed before).
func FuzzJWTBearer(f *testing.F) {
	z := newFuzzTodo0(f)
	ok := "oauth-id-jag+jwt"
	res := demo.Todo0MCPURL + demo.MCPPath
	// raw, signed, typ, aud, clientID, resource, scope, sub, jti, expMin, iatMin, reqScope
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read todos.write", "00u_alice", "seed-1", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, "", "todos.read", "00u_alice", "seed-2", int8(5), int8(-1), "todos.read")
	f.Add("", true, "JWT", z.public, demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "seed-3", int8(5), int8(0), "")
	f.Add("", true, ok, z.public+"/", demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "seed-4", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, "agent0", res, "todos.read", "00u_alice", "seed-5", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, "http://evil.test/mcp", "todos.read", "00u_alice", "seed-6", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "admin", "00u_alice", "seed-7", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "seed-8", int8(-5), int8(-10), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "seed-9", int8(5), int8(-30), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read", "", "seed-10", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "", int8(5), int8(0), "")
	f.Add("", true, ok, z.public, demo.Agent0Todo0ClientID, res, "todos.read", "00u_alice", "seed-12", int8(5), int8(0), "todos.write")
	f.Add("a.b.c", false, "", "", "", "", "", "", "", int8(0), int8(0), "")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoib2F1dGgtaWQtamFnK2p3dCJ9.e30.", false, "", "", "", "", "", "", "", int8(0), int8(0), "")
	f.Add(z.sign(ok, map[string]any{"iss": z.idp.URL, "sub": "x", "aud": z.public, "client_id": demo.Agent0Todo0ClientID, "jti": "raw-1", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})+"x",
		false, "", "", "", "", "", "", "", int8(0), int8(0), "")

	redeemed := map[string]bool{}
	f.Fuzz(func(t *testing.T, raw string, signed bool, typ, aud, clientID, resource, scope, sub, jti string, expMin, iatMin int8, reqScope string) {
		now := time.Now()
		valid := false
		if signed {
			claims := map[string]any{"iss": z.idp.URL, "sub": sub, "aud": aud, "client_id": clientID, "jti": jti,
				"iat": now.Add(time.Duration(iatMin) * time.Minute).Unix(), "exp": now.Add(time.Duration(expMin) * time.Minute).Unix(), "scope": scope}
			if resource != "" {
				claims["resource"] = resource
			}
			raw = z.sign(typ, claims)
			granted := oauth.SplitScope(scope)
			if req := oauth.SplitScope(reqScope); len(req) > 0 {
				granted = oauth.Intersect(req, granted)
			}
			known := true
			for _, s := range oauth.SplitScope(scope) {
				known = known && slices.Contains(demo.Todo0Scopes, s)
			}
			valid = strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), ok) &&
				aud == z.public && clientID == demo.Agent0Todo0ClientID && (resource == "" || resource == res) &&
				known && len(granted) > 0 && sub != "" && jti != "" && !redeemed[jti] &&
				expMin > 0 && iatMin <= 0 && iatMin >= -10
		}
		form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {raw}}
		if reqScope != "" {
			form.Set("scope", reqScope)
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
		r.Host = strings.TrimPrefix(z.public, "http://")
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
		w := httptest.NewRecorder()
		z.h.ServeHTTP(w, r)
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d without Cache-Control: no-store", w.Code)
		}
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d, body is not JSON: %q", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			if !signed || !valid {
				t.Fatalf("issued an access token for an ID-JAG the checklist refuses (signed=%v): %q", signed, raw)
			}
			if body.AccessToken == "" {
				t.Fatal("200 without access_token")
			}
			for _, s := range oauth.SplitScope(body.Scope) {
				if !slices.Contains(oauth.SplitScope(scope), s) {
					t.Fatalf("granted scope %q beyond the ID-JAG's %q", s, scope)
				}
			}
			redeemed[jti] = true
			return
		}
		switch {
		case w.Code == http.StatusBadRequest && slices.Contains([]string{oauth.ErrInvalidGrant, oauth.ErrInvalidRequest, oauth.ErrInvalidScope}, body.Error):
		default:
			t.Fatalf("refusal %d %q (%s)", w.Code, body.Error, body.Description)
		}
		// Boundary seconds are left to chance; anything clearly valid must pass.
		if signed && valid && body.Error != "" {
			t.Fatalf("refused a valid ID-JAG: %s %s", body.Error, body.Description)
		}
	})
}
