package clientauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

const issuer = "https://as.example"

type clients map[string]*clientauth.Client

func (c clients) Client(_ context.Context, id string) (*clientauth.Client, error) {
	if cl, ok := c[id]; ok {
		return cl, nil
	}
	return nil, clientauth.ErrUnknownClient
}

func setup(t *testing.T) (*clientauth.Authenticator, *ecdsa.PrivateKey) {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir()+"/t.db", []string{replay.Migration})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg := clients{
		"basic-only": {ID: "basic-only", SecretHash: clientauth.HashSecret("s3cret"), Methods: []string{oauth.AuthMethodClientSecretBasic}},
		"raw":        {ID: "raw", SecretHash: clientauth.HashSecret("a+b%2F"), Methods: []string{oauth.AuthMethodClientSecretBasic}},
		"any": {ID: "any", SecretHash: clientauth.HashSecret("p@ss:word"), Methods: clientauth.Methods,
			Keys: jwks.Static{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256"}}}},
	}
	return &clientauth.Authenticator{Clients: reg, Audiences: []string{issuer, issuer + "/token"}, Replay: &replay.Store{DB: db}, Skew: 5 * time.Second}, key
}

func assertion(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestAuthenticate(t *testing.T) {
	a, key := setup(t)
	now := time.Now()
	claims := func(jti string, mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "any", "sub": "any", "aud": issuer, "jti": jti, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	reused := assertion(t, key, claims("reused", nil))
	tests := []struct {
		name       string
		header     string
		form       url.Values
		wantClient string
		wantCode   string
		wantStatus int
		challenge  bool
	}{
		{name: "basic", header: basic("basic-only", "s3cret"), wantClient: "basic-only"},
		// RFC 6749 2.3.1: id and secret are form-urlencoded inside Basic
		{name: "basic with urlencoded special characters", header: basic("any", "p@ss:word"), wantClient: "any"},
		{name: "basic with matching client_id in body", header: basic("basic-only", "s3cret"), form: url.Values{"client_id": {"basic-only"}}, wantClient: "basic-only"},
		{name: "basic with raw (not urlencoded) special characters, as the TypeScript SDK sends", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("raw:a+b%2F")), wantClient: "raw"},
		{name: "basic with the urlencoded form of the same secret", header: basic("raw", "a+b%2F"), wantClient: "raw"},
		{name: "post (the MCP SDKs' token-exchange habit)", form: url.Values{"client_id": {"any"}, "client_secret": {"p@ss:word"}}, wantClient: "any"},
		{name: "private_key_jwt", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a1", nil))}}, wantClient: "any"},
		{name: "private_key_jwt aud = token endpoint", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a2", func(c map[string]any) { c["aud"] = issuer + "/token" }))}}, wantClient: "any"},
		{name: "first use of an assertion", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {reused}}, wantClient: "any"},
		// failures
		{name: "no credentials", wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "client_id only (public client)", form: url.Values{"client_id": {"any"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "wrong secret basic", header: basic("basic-only", "nope"), wantCode: oauth.ErrInvalidClient, wantStatus: 401, challenge: true},
		{name: "wrong secret post", form: url.Values{"client_id": {"any"}, "client_secret": {"nope"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "unknown client", header: basic("ghost", "x"), wantCode: oauth.ErrInvalidClient, wantStatus: 401, challenge: true},
		{name: "method not registered", form: url.Values{"client_id": {"basic-only"}, "client_secret": {"s3cret"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "two methods at once (RFC 6749 2.3)", header: basic("any", "p@ss:word"), form: url.Values{"client_secret": {"p@ss:word"}}, wantCode: oauth.ErrInvalidRequest, wantStatus: 400},
		{name: "Bearer in Authorization", header: "Bearer abc", wantCode: oauth.ErrInvalidClient, wantStatus: 401, challenge: true},
		{name: "client_id in body differs from Basic user", header: basic("basic-only", "s3cret"), form: url.Values{"client_id": {"any"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401, challenge: true},
		{name: "assertion replayed", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {reused}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion wrong aud", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a3", func(c map[string]any) { c["aud"] = "https://other.example" }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion expired", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a4", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion without jti", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("", func(c map[string]any) { delete(c, "jti") }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		// RFC 7523 3 as profiled here: iat required, lifetime (exp - iat) at most an hour.
		{name: "assertion without iat", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a6", func(c map[string]any) { delete(c, "iat") }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion valid for ten years", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a7", func(c map[string]any) { c["exp"] = now.Add(10 * 365 * 24 * time.Hour).Unix() }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion valid for an hour", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a8", func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() }))}}, wantClient: "any"},
		{name: "assertion iss != sub", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {assertion(t, key, claims("a5", func(c map[string]any) { c["iss"] = "basic-only" }))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion wrong type", form: url.Values{"client_assertion_type": {"urn:x"}, "client_assertion": {"x.y.z"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		// RFC 7521 4.2: client_assertion_type is checked even when the assertion itself is valid.
		{name: "valid assertion, wrong client_assertion_type", form: url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}, "client_assertion": {assertion(t, key, claims("a6", nil))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "valid assertion, no client_assertion_type", form: url.Values{"client_assertion": {assertion(t, key, claims("a7", nil))}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
		{name: "assertion garbage", form: url.Values{"client_assertion_type": {oauth.ClientAssertionTypeJWTBearer}, "client_assertion": {"garbage"}}, wantCode: oauth.ErrInvalidClient, wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(""))
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			form := tc.form
			if form == nil {
				form = url.Values{}
			}
			c, _, err := a.Authenticate(r, form)
			if tc.wantClient != "" {
				if err != nil || c.ID != tc.wantClient {
					t.Fatalf("Authenticate = %v, %v; want %s", c, err, tc.wantClient)
				}
				return
			}
			oe := oauth.AsError(err)
			if err == nil || oe.Code != tc.wantCode || oe.HTTPStatus() != tc.wantStatus {
				t.Fatalf("Authenticate error = %v (status %d); want %s %d", err, oe.HTTPStatus(), tc.wantCode, tc.wantStatus)
			}
			// RFC 6749 5.2: WWW-Authenticate when the client used the Authorization header.
			if got := oe.Challenge != ""; got != tc.challenge {
				t.Fatalf("challenge = %q, want present=%v", oe.Challenge, tc.challenge)
			}
			w := httptest.NewRecorder()
			oauth.WriteError(w, r, err)
			var body map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if strings.Contains(w.Body.String(), "s3cret") || strings.Contains(w.Body.String(), "p@ss") {
				t.Fatalf("error body leaks a secret: %s", w.Body)
			}
			if body["error"] != tc.wantCode || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("written error = %d %v %v", w.Code, body, w.Header())
			}
		})
	}
}
