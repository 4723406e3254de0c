package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// FuzzBearer drives the MCP endpoint's bearer check with random
// Authorization headers and with access tokens signed by the trusted AS key
// from fuzzed claims. Properties: no panic and never a 5xx; a 401/400 carries
// a Bearer challenge with resource_metadata and a JSON body (RFC 6750 3,
// RFC 9728 5.1); a request gets past the check only with a token that is
// valid by an independent model (typ at+jwt, iss = the AS, aud = this
// resource exactly, not expired, sub/client_id/jti/iat present); a
// tools/call of create_todo without todos.write is 403 insufficient_scope.
func FuzzBearer(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var as *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"issuer": as.URL, "jwks_uri": as.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "at1", Algorithm: "ES256", Use: "sig"}}})
	})
	as = httptest.NewServer(mux)
	f.Cleanup(as.Close)
	s, err := New(Config{PublicURL: "http://mcp.fuzz.test", AuthServer: as.URL, Todo0API: as.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	resource := s.Resource()
	sign := func(typ string, claims map[string]any) string {
		sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "at1"))
		tok, _ := jwt.Signed(sg).Claims(claims).Serialize()
		return tok
	}
	// authz, signed, typ, iss, aud, scope, sub, expMin, toolCall
	f.Add("", true, "at+jwt", "", resource, "todos.read todos.write", "t0u_1", int8(5), false)
	f.Add("", true, "at+jwt", "", resource, "todos.read", "t0u_1", int8(5), true)
	f.Add("", true, "at+jwt", "", resource, "todos.write", "t0u_1", int8(5), true)
	f.Add("", true, "oauth-id-jag+jwt", "", resource, "todos.read", "t0u_1", int8(5), false)
	f.Add("", true, "at+jwt", "", "http://mcp.fuzz.test", "todos.read", "t0u_1", int8(5), false)
	f.Add("", true, "at+jwt", "http://other.test", resource, "todos.read", "t0u_1", int8(5), false)
	f.Add("", true, "at+jwt", "", resource, "todos.read", "t0u_1", int8(-5), false)
	f.Add("Bearer a.b.c", false, "", "", "", "", "", int8(0), false)
	f.Add("Basic YTpi", false, "", "", "", "", "", int8(0), false)
	f.Add("Bearer ", false, "", "", "", "", "", int8(0), false)
	f.Add("", false, "", "", "", "", "", int8(0), false)
	f.Add("bearer \"x\\y\"\x01é", false, "", "", "", "", "", int8(0), true)
	f.Fuzz(func(t *testing.T, authz string, signed bool, typ, iss, aud, scope, sub string, expMin int8, toolCall bool) {
		valid := false
		if signed {
			if iss == "" {
				iss = as.URL
			}
			now := time.Now()
			authz = "Bearer " + sign(typ, map[string]any{"iss": iss, "sub": sub, "aud": aud, "client_id": "agent0-at-todo0", "jti": "j", "scope": scope,
				"iat": now.Unix(), "exp": now.Add(time.Duration(expMin) * time.Minute).Unix()})
			// RFC 9068 2.2: sub must be non-empty (client_id and jti are fixed here).
			valid = strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "at+jwt") && iss == as.URL && aud == resource && expMin > 0 && sub != ""
		}
		body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`
		if toolCall {
			body = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_todo","arguments":{"title":"x"}}}`
		}
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Host = "mcp.fuzz.test"
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if valid && !toolCall && w.Code != http.StatusOK {
			t.Fatalf("initialize with a valid token: HTTP %d %s", w.Code, w.Body)
		}
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		challenge := w.Header().Get("WWW-Authenticate")
		switch w.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			if !strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, `resource_metadata="`) {
				t.Fatalf("%d without a Bearer challenge naming resource_metadata: %q", w.Code, challenge)
			}
			var b struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Description == "" {
				t.Fatalf("%d body is not an error object: %q", w.Code, w.Body)
			}
			// RFC 6750 3.1: an error code in the body only when the challenge has one.
			if (b.Error == "") != !strings.Contains(challenge, `error="`) {
				t.Fatalf("%d body error %q with challenge %q", w.Code, b.Error, challenge)
			}
			if w.Code == http.StatusForbidden {
				if !valid || !toolCall || strings.Contains(" "+scope+" ", " todos.write ") || b.Error != oauth.ErrInsufficientScope {
					t.Fatalf("403 %s for valid=%v toolCall=%v scope=%q", b.Error, valid, toolCall, scope)
				}
				return
			}
			if valid {
				t.Fatalf("a valid token was refused: %s", challenge)
			}
			// RFC 6750 3.1: a Bearer attempt gets an error code; another
			// scheme (an unsupported method) gets none.
			scheme, _, _ := strings.Cut(authz, " ")
			bearer := strings.EqualFold(scheme, "bearer")
			if bearer && !strings.Contains(challenge, `error="`) {
				t.Fatalf("a token was sent but the challenge names no error: %q", challenge)
			}
			if authz != "" && !bearer && strings.Contains(challenge, `error="`) {
				t.Fatalf("an unsupported scheme got an error code (RFC 6750 3.1): %q", challenge)
			}
			return
		case http.StatusBadRequest:
			if valid && !toolCall {
				t.Fatalf("initialize with a valid token: 400 %s", w.Body)
			}
			if challenge != "" && !strings.Contains(challenge, `resource_metadata="`) {
				t.Fatalf("400 challenge %q", challenge)
			}
		}
		if w.Code < 300 || (w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden && challenge == "") {
			// Past the bearer check: only a valid token gets here.
			if !valid {
				t.Fatalf("got past the bearer check (HTTP %d) with %q", w.Code, authz)
			}
			if toolCall && !strings.Contains(" "+scope+" ", " todos.write ") {
				t.Fatalf("create_todo reached the MCP server without todos.write (scope %q)", scope)
			}
		}
	})
}
