package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// agent0Keys serves an ES256 key the way Agent0 publishes its
// private_key_jwt keys, and returns the private key and the JWKS URL.
func agent0Keys(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "agent0-k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	return k, srv.URL + "/.well-known/jwks.json"
}

func clientAssertion(t *testing.T, k *ecdsa.PrivateKey, aud string) string {
	now := time.Now()
	return sign(t, jwtSpec{alg: jose.ES256, key: k, typ: "-", kid: "agent0-k1"}, map[string]any{
		"iss": demo.Agent0Todo0ClientID, "sub": demo.Agent0Todo0ClientID, "aud": aud,
		"jti": randomID(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
}

// TestTokenEndpoint covers the token endpoint around the grant: request
// shape, client authentication (RFC 6749 2.3, RFC 7523 2.2), grant types and
// scope narrowing (checklist 3.9). Each row says which rule it enforces.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	ak, jwksURI := agent0Keys(t)
	e := newEnv(t, func(c *Config) { c.Agent0JWKSURI = jwksURI })
	jag := func() string { return sign(t, jwtSpec{}, e.claims()) }
	bearer := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {jag()}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Add(extra[i], extra[i+1])
		}
		return v
	}
	type req struct {
		method, ctype, body string
		query               string
		basicUser, basicPwd string
		header              string // raw Authorization header
	}
	do := func(r req) *http.Response {
		t.Helper()
		if r.method == "" {
			r.method = http.MethodPost
		}
		if r.ctype == "" {
			r.ctype = "application/x-www-form-urlencoded"
		}
		hr, _ := http.NewRequest(r.method, e.url+"/oauth2/token"+r.query, strings.NewReader(r.body))
		hr.Header.Set("Content-Type", r.ctype)
		if r.basicUser != "" {
			hr.SetBasicAuth(r.basicUser, r.basicPwd)
		}
		if r.header != "" {
			hr.Header.Set("Authorization", r.header)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	basic := func(body string) req {
		return req{body: body, basicUser: demo.Agent0Todo0ClientID, basicPwd: demo.Agent0Todo0ClientSecret}
	}
	post := func(v url.Values) req {
		v.Set("client_id", demo.Agent0Todo0ClientID)
		v.Set("client_secret", demo.Agent0Todo0ClientSecret)
		return req{body: v.Encode()}
	}

	for _, tc := range []struct {
		name      string
		req       func() req
		status    int
		code      string // "" means success
		challenge bool   // WWW-Authenticate expected
		scope     string // granted scope on success
	}{
		// RFC 6749 2.3.1: client_secret_basic
		{"client_secret_basic", func() req { return basic(bearer().Encode()) }, 200, "", false, "todos.read todos.write"},
		// RFC 6749 2.3.1: client_secret_post
		{"client_secret_post", func() req { return post(bearer()) }, 200, "", false, "todos.read todos.write"},
		// RFC 7523 2.2: private_key_jwt with the keys at Agent0JWKSURI, aud = issuer
		{"private_key_jwt aud issuer", func() req {
			v := bearer("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", clientAssertion(t, ak, e.url))
			return req{body: v.Encode()}
		}, 200, "", false, "todos.read todos.write"},
		// RFC 7523 3 item 3: the token endpoint URL is an accepted aud for a client assertion
		{"private_key_jwt aud token endpoint", func() req {
			v := bearer("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", clientAssertion(t, ak, e.url+"/oauth2/token"))
			return req{body: v.Encode()}
		}, 200, "", false, "todos.read todos.write"},
		// RFC 7523 3: a client assertion for another server is refused
		{"private_key_jwt wrong aud", func() req {
			v := bearer("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", clientAssertion(t, ak, "https://other-as.example"))
			return req{body: v.Encode()}
		}, 401, oauth.ErrInvalidClient, false, ""},
		// RFC 7523 3: signed by a key the client did not publish
		{"private_key_jwt wrong key", func() req {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			v := bearer("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", clientAssertion(t, other, e.url))
			return req{body: v.Encode()}
		}, 401, oauth.ErrInvalidClient, false, ""},
		// RFC 6749 5.2: wrong secret over Basic -> 401 with WWW-Authenticate
		{"wrong secret basic", func() req {
			return req{body: bearer().Encode(), basicUser: demo.Agent0Todo0ClientID, basicPwd: "wrong"}
		}, 401, oauth.ErrInvalidClient, true, ""},
		// RFC 6749 5.2: wrong secret in the body -> 401, no Basic challenge
		{"wrong secret post", func() req {
			v := bearer("client_id", demo.Agent0Todo0ClientID, "client_secret", "wrong")
			return req{body: v.Encode()}
		}, 401, oauth.ErrInvalidClient, false, ""},
		// RFC 6749 5.2: unknown client
		{"unknown client", func() req { return req{body: bearer().Encode(), basicUser: "nobody", basicPwd: "x"} }, 401, oauth.ErrInvalidClient, true, ""},
		// checklist 3: confidential clients only
		{"no client authentication", func() req { return req{body: bearer().Encode()} }, 401, oauth.ErrInvalidClient, false, ""},
		{"client_id only", func() req { return req{body: bearer("client_id", demo.Agent0Todo0ClientID).Encode()} }, 401, oauth.ErrInvalidClient, false, ""},
		// RFC 6749 5.2: a non-Basic Authorization header is a failed attempt
		{"Bearer header instead of Basic", func() req { return req{body: bearer().Encode(), header: "Bearer abc"} }, 401, oauth.ErrInvalidClient, true, ""},
		// RFC 6749 2.3: exactly one authentication method
		{"two methods at once", func() req {
			r := basic(bearer("client_secret", demo.Agent0Todo0ClientSecret).Encode())
			return r
		}, 400, oauth.ErrInvalidRequest, false, ""},
		// the service client (todo API) may not redeem ID-JAGs
		{"service client redeems", func() req {
			return req{body: bearer().Encode(), basicUser: demo.MCPServiceClientID, basicPwd: demo.MCPServiceClientSecret}
		}, 400, oauth.ErrUnauthorizedClient, false, ""},
		// checklist 6: unsupported grant_type
		{"grant_type authorization_code", func() req {
			return basic(url.Values{"grant_type": {"authorization_code"}, "code": {"abc"}}.Encode())
		}, 400, oauth.ErrUnsupportedGrantType, false, ""},
		{"grant_type token-exchange", func() req {
			return basic(url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {"x"}}.Encode())
		}, 400, oauth.ErrUnsupportedGrantType, false, ""},
		// checklist 6: missing parameters are invalid_request
		{"grant_type missing", func() req { return basic(url.Values{"assertion": {jag()}}.Encode()) }, 400, oauth.ErrInvalidRequest, false, ""},
		{"assertion missing", func() req {
			return basic(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}}.Encode())
		}, 400, oauth.ErrInvalidRequest, false, ""},
		// query parameters are ignored: an assertion in the URL is not accepted (tokens never in URLs)
		{"assertion in the query string", func() req {
			r := basic(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}}.Encode())
			r.query = "?assertion=" + url.QueryEscape(jag())
			return r
		}, 400, oauth.ErrInvalidRequest, false, ""},
		// RFC 6749 3.1: an empty parameter counts as omitted
		{"assertion empty", func() req {
			return basic("grant_type=" + url.QueryEscape(oauth.GrantTypeJWTBearer) + "&assertion=")
		}, 400, oauth.ErrInvalidRequest, false, ""},
		// RFC 6749 3.2: POST only
		{"GET", func() req { r := basic(""); r.method = http.MethodGet; return r }, 405, oauth.ErrInvalidRequest, false, ""},
		// RFC 6749 3.2: form encoding only
		{"JSON body", func() req {
			r := basic(`{"grant_type":"` + oauth.GrantTypeJWTBearer + `"}`)
			r.ctype = "application/json"
			return r
		}, 400, oauth.ErrInvalidRequest, false, ""},
		{"malformed form", func() req { return basic("grant_type=%zz&assertion=%") }, 400, oauth.ErrInvalidRequest, false, ""},
		{"oversized body", func() req {
			return basic(bearer("padding", strings.Repeat("a", 80<<10)).Encode())
		}, 413, oauth.ErrInvalidRequest, false, ""},
		// RFC 6749 3.2: parameters must not repeat
		{"repeated assertion", func() req {
			v := bearer()
			v.Add("assertion", jag())
			return basic(v.Encode())
		}, 400, oauth.ErrInvalidRequest, false, ""},
		{"repeated grant_type", func() req {
			v := bearer()
			v.Add("grant_type", oauth.GrantTypeJWTBearer)
			return basic(v.Encode())
		}, 400, oauth.ErrInvalidRequest, false, ""},
		// checklist 3.9: the requested scope narrows the ID-JAG's
		{"scope narrows", func() req { return basic(bearer("scope", "todos.read").Encode()) }, 200, "", false, "todos.read"},
		{"scope narrows, unknown dropped", func() req { return basic(bearer("scope", "todos.write bogus").Encode()) }, 200, "", false, "todos.write"},
		// checklist 3.9: nothing left -> invalid_scope
		{"scope disjoint", func() req { return basic(bearer("scope", "bogus").Encode()) }, 400, oauth.ErrInvalidScope, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state()
			resp := do(tc.req())
			if tc.code == "" {
				m := decode(t, resp)
				if resp.StatusCode != tc.status || m["token_type"] != "Bearer" || m["scope"] != tc.scope {
					t.Fatalf("status %d body %v, want %d scope %q", resp.StatusCode, m, tc.status, tc.scope)
				}
				return
			}
			wantOAuthError(t, resp, tc.status, tc.code)
			got := resp.Header.Get("WWW-Authenticate")
			if tc.challenge != (got != "") || (tc.challenge && !strings.HasPrefix(got, "Basic ")) {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge: %v", got, tc.challenge)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			if after := e.state(); after.grants != before.grants || after.users != before.users {
				t.Errorf("database changed: %+v -> %+v", before, after)
			}
		})
	}
}

// TestAgent0SeededForPrivateKeyJWT: the seeded agent0-at-todo0 client uses
// Config.Agent0JWKSURI, defaulting to Agent0's published key set.
func TestAgent0SeededForPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.s.client(t.Context(), demo.Agent0Todo0ClientID)
	if err != nil {
		t.Fatal(err)
	}
	var uri string
	if err := e.s.db.QueryRow(`SELECT jwks_uri FROM clients WHERE id = ?`, demo.Agent0Todo0ClientID).Scan(&uri); err != nil {
		t.Fatal(err)
	}
	if uri != demo.Agent0URL+"/.well-known/jwks.json" || c.Keys == nil {
		t.Errorf("jwks_uri %q keys %v", uri, c.Keys)
	}
	want := []string{oauth.AuthMethodClientSecretBasic, oauth.AuthMethodClientSecretPost, oauth.AuthMethodPrivateKeyJWT}
	if strings.Join(c.Methods, " ") != strings.Join(want, " ") {
		t.Errorf("methods %v", c.Methods)
	}
}

// TestAgent0KeysAfterRestart: Agent0's jwks_uri and methods follow
// Config.Agent0JWKSURI on every start, also on a database seeded before.
func TestAgent0KeysAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func(uri string) *Server {
		s, err := New(t.Context(), Config{PublicURL: "http://127.0.0.1:1", DataDir: dir, IdPIssuer: "http://127.0.0.1:2", Agent0JWKSURI: uri})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jwksURI := func(s *Server) string {
		var u string
		if err := s.db.QueryRow(`SELECT jwks_uri FROM clients WHERE id = ?`, demo.Agent0Todo0ClientID).Scan(&u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	s := open("http://127.0.0.1:3/jwks")
	if _, err := s.db.Exec(`UPDATE clients SET jwks_uri = '', auth_methods = '["client_secret_basic"]' WHERE id = ?`, demo.Agent0Todo0ClientID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open("http://127.0.0.1:4/jwks")
	if u := jwksURI(s); u != "http://127.0.0.1:4/jwks" {
		t.Errorf("old database not upgraded: %q", u)
	}
	s.Close()
	s = open("http://127.0.0.1:5/jwks")
	defer s.Close()
	if u := jwksURI(s); u != "http://127.0.0.1:5/jwks" {
		t.Errorf("jwks_uri %q does not follow the configuration", u)
	}
	if c, err := s.client(t.Context(), demo.Agent0Todo0ClientID); err != nil || len(c.Methods) != 3 {
		t.Errorf("methods %v %v", c, err)
	}
}
