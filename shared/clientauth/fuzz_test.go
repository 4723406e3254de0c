package clientauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
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

// FuzzAuthenticate sends random Authorization headers and form bodies to
// the client authenticator. Properties: no panic; a refusal is
// invalid_request (400) or invalid_client (401, with a Basic challenge when
// the Authorization header was used: RFC 6749 5.2), never server_error; a
// success names a client whose real credentials the request carried: its
// secret (basic or post) or an assertion that verifies with its key.
func FuzzAuthenticate(f *testing.F) {
	db, err := sqlitedb.Open(context.Background(), f.TempDir()+"/fuzz.db", []string{replay.Migration})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const iss = "https://as.example"
	secrets := map[string]string{"basic-only": "s3cret", "any": "p@ss:word"}
	reg := clients{
		"basic-only": {ID: "basic-only", SecretHash: clientauth.HashSecret("s3cret"), Methods: []string{oauth.AuthMethodClientSecretBasic}},
		"any": {ID: "any", SecretHash: clientauth.HashSecret("p@ss:word"), Methods: clientauth.Methods,
			Keys: jwks.Static{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256"}}}},
	}
	a := &clientauth.Authenticator{Clients: reg, Audiences: []string{iss, iss + "/token"}, Replay: &replay.Store{DB: db}, Skew: 5 * time.Second}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	now := time.Now()
	ca, _ := jwt.Signed(signer).Claims(map[string]any{"iss": "any", "sub": "any", "aud": iss, "jti": "seed", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).Serialize()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	f.Add("Basic "+b64("basic-only:s3cret"), "grant_type=x")
	f.Add("Basic "+b64("any:p%40ss%3Aword"), "client_id=any")
	f.Add("Basic "+b64("any:p@ss:word"), "")
	f.Add("Basic "+b64("basic-only:wrong"), "")
	f.Add("basic "+b64("basic-only"), "")
	f.Add("Basic !!!", "")
	f.Add("Bearer abc", "")
	f.Add("", "client_id=any&client_secret=p%40ss%3Aword")
	f.Add("", "client_id=basic-only&client_secret=s3cret")
	f.Add("", "client_secret=x")
	f.Add("", "client_id=any")
	f.Add("", "")
	f.Add("", "client_assertion_type="+url.QueryEscape(oauth.ClientAssertionTypeJWTBearer)+"&client_assertion="+ca)
	f.Add("", "client_assertion_type="+url.QueryEscape(oauth.ClientAssertionTypeJWTBearer)+"&client_assertion="+ca[:len(ca)-3]+"AAA")
	f.Add("", "client_assertion_type=x&client_assertion=a.b.c")
	f.Add("Basic "+b64("any:p%40ss%3Aword"), "client_secret=p%40ss%3Aword&client_id=any")
	f.Fuzz(func(t *testing.T, authz, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // ParseTokenForm refuses these before client authentication
		}
		r := httptest.NewRequest(http.MethodPost, "/token", nil)
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		c, method, err := a.Authenticate(r, form)
		if err != nil {
			oe, ok := err.(*oauth.Error)
			if !ok {
				t.Fatalf("error %T %v is not an *oauth.Error", err, err)
			}
			switch {
			case oe.Code == oauth.ErrInvalidRequest && oe.HTTPStatus() == 400:
			case oe.Code == oauth.ErrInvalidClient && oe.HTTPStatus() == 401:
				// RFC 6749 5.2: WWW-Authenticate when the client tried the header.
				if authz != "" && oe.Challenge == "" {
					t.Fatalf("invalid_client after an Authorization header without a challenge: %v", oe)
				}
			default:
				t.Fatalf("refusal %q status %d: %v", oe.Code, oe.HTTPStatus(), oe)
			}
			return
		}
		if c == nil {
			t.Fatal("success without a client")
		}
		switch method {
		case oauth.AuthMethodClientSecretBasic:
			user, pass, _ := strings.Cut(decodeBasic(authz), ":")
			id, _ := url.QueryUnescape(user)
			secret, _ := url.QueryUnescape(pass)
			if id != c.ID || secret != secrets[c.ID] {
				t.Fatalf("basic accepted %q for %s", authz, c.ID)
			}
		case oauth.AuthMethodClientSecretPost:
			if form.Get("client_id") != c.ID || form.Get("client_secret") != secrets[c.ID] || authz != "" {
				t.Fatalf("post accepted %v for %s", form, c.ID)
			}
		case oauth.AuthMethodPrivateKeyJWT:
			tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
			var cl jwt.Claims
			if err != nil || tok.Claims(key.Public(), &cl) != nil || cl.Subject != c.ID {
				t.Fatalf("assertion accepted that does not verify with %s's key", c.ID)
			}
		default:
			t.Fatalf("unknown method %q", method)
		}
	})
}

func decodeBasic(h string) string {
	if len(h) < 6 || !strings.EqualFold(h[:6], "basic ") {
		return ""
	}
	b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
	return string(b)
}
