package jwtverify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

const (
	iss = "https://idp.example"
	aud = "https://as.example"
)

type fixture struct {
	rsa, other *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
	keys       jwks.Static
	now        time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r1, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &fixture{
		rsa: r1, other: r2, ec: ec, now: time.Unix(1_800_000_000, 0),
		keys: jwks.Static{Keys: []jose.JSONWebKey{
			{Key: r1.Public(), KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
			{Key: ec.Public(), KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		}},
	}
}

func (f *fixture) sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) claims() map[string]any {
	return map[string]any{"iss": iss, "sub": "u1", "aud": aud, "jti": "j1",
		"iat": f.now.Unix(), "exp": f.now.Add(5 * time.Minute).Unix()}
}

func with(m map[string]any, k string, v any) map[string]any {
	c := map[string]any{}
	for kk, vv := range m {
		c[kk] = vv
	}
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

// unsigned builds a token by hand, for headers go-jose refuses to produce.
func unsigned(header, claims map[string]any, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	v := jwtverify.Verifier{
		Typ: "oauth-id-jag+jwt", Issuers: map[string]jwtverify.KeySource{iss: f.keys},
		Audience: aud, Skew: 10 * time.Second, MaxAge: 10 * time.Minute,
		Required: []string{"sub", "jti", "iat"}, Now: func() time.Time { return f.now },
	}
	good := f.claims()
	pubDER, _ := x509.MarshalPKIXPublicKey(f.rsa.Public())
	hs := func() string { // HS256 keyed with the public key: the classic confusion attack
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, (&jose.SignerOptions{}).WithType("oauth-id-jag+jwt").WithHeader("kid", "rsa1"))
		tok, _ := jwt.Signed(s).Claims(good).Serialize()
		return tok
	}()
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"well-formed RS256", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", good), nil},
		{"well-formed ES256", f.sign(t, jose.ES256, f.ec, "ec1", "oauth-id-jag+jwt", good), nil},
		{"typ with application/ prefix (RFC 7515 4.1.9)", f.sign(t, jose.RS256, f.rsa, "rsa1", "application/oauth-id-jag+jwt", good), nil},
		// checklist 3.1: typ must be exactly the expected one
		{"typ JWT", f.sign(t, jose.RS256, f.rsa, "rsa1", "JWT", good), jwtverify.ErrTyp},
		{"typ at+jwt", f.sign(t, jose.RS256, f.rsa, "rsa1", "at+jwt", good), jwtverify.ErrTyp},
		{"no typ", unsigned(map[string]any{"alg": "RS256", "kid": "rsa1"}, good, "x"), jwtverify.ErrTyp},
		// checklist 3.2: alg allow-list, no none, no HMAC
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "oauth-id-jag+jwt", "kid": "rsa1"}, good, ""), jwtverify.ErrAlg},
		{"HS256 keyed with the public key", hs, jwtverify.ErrAlg},
		{"alg differs from the key's alg", unsigned(map[string]any{"alg": "PS256", "typ": "oauth-id-jag+jwt", "kid": "rsa1"}, good, "eA"), jwtverify.ErrAlg},
		// checklist 3.3: trusted iss, kid resolves, signature valid
		{"untrusted iss", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "iss", "https://evil.example")), jwtverify.ErrIssuer},
		{"missing iss", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "iss", nil)), jwtverify.ErrMissingClaim},
		{"unknown kid", f.sign(t, jose.RS256, f.rsa, "nope", "oauth-id-jag+jwt", good), jwtverify.ErrKey},
		{"no kid", f.sign(t, jose.RS256, f.rsa, "", "oauth-id-jag+jwt", good), jwtverify.ErrKey},
		{"signed by an unpublished key", f.sign(t, jose.RS256, f.other, "rsa1", "oauth-id-jag+jwt", good), jwtverify.ErrSignature},
		// checklist 3.4: aud exact; string or one-element array
		{"aud one-element array", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", []string{aud})), nil},
		{"aud another AS", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", "https://other.example")), jwtverify.ErrAudience},
		{"aud token endpoint", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", aud+"/oauth2/token")), jwtverify.ErrAudience},
		{"aud prefix", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", "https://as.ex")), jwtverify.ErrAudience},
		{"aud trailing slash", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", aud+"/")), jwtverify.ErrAudience},
		{"aud two-element array", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", []string{aud, "https://other.example"})), jwtverify.ErrAudience},
		{"aud missing", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "aud", nil)), jwtverify.ErrMissingClaim},
		// checklist 3.6: exp, nbf, iat with skew
		{"expired", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "exp", f.now.Add(-11*time.Second).Unix())), jwtverify.ErrExpired},
		{"expired within skew", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "exp", f.now.Add(-5*time.Second).Unix())), nil},
		{"exp missing", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "exp", nil)), jwtverify.ErrMissingClaim},
		{"nbf in the future", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "nbf", f.now.Add(time.Minute).Unix())), jwtverify.ErrNotYetValid},
		{"iat in the future", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "iat", f.now.Add(time.Minute).Unix())), jwtverify.ErrIssuedInFuture},
		{"iat too old", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(with(good, "iat", f.now.Add(-time.Hour).Unix()), "exp", f.now.Add(time.Hour).Unix())), jwtverify.ErrTooOld},
		// required claims
		{"sub missing", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "sub", nil)), jwtverify.ErrMissingClaim},
		{"jti missing", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "jti", nil)), jwtverify.ErrMissingClaim},
		{"iat missing", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "iat", nil)), jwtverify.ErrMissingClaim},
		{"sub empty", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "sub", "")), jwtverify.ErrMissingClaim},
		{"jti empty", f.sign(t, jose.RS256, f.rsa, "rsa1", "oauth-id-jag+jwt", with(good, "jti", "")), jwtverify.ErrMissingClaim},
		// garbage
		{"garbage", "not-a-jwt", jwtverify.ErrMalformed},
		{"two parts", "a.b", jwtverify.ErrMalformed},
		{"header not JSON", "e30x.e30.e30", jwtverify.ErrMalformed},
		{"empty", "", jwtverify.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := v.Verify(context.Background(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tok.Claims.Subject != "u1" || tok.String("jti") != "j1" {
					t.Fatalf("claims = %+v", tok.Claims)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPeekDoesNotVerify(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, jose.RS256, f.other, "x", "JWT", f.claims())
	h, c, err := jwtverify.Peek(tok)
	if err != nil || h["typ"] != "JWT" || c["sub"] != "u1" {
		t.Fatalf("Peek = %v %v %v", h, c, err)
	}
	if _, _, err := jwtverify.Peek("a.b"); !errors.Is(err, jwtverify.ErrMalformed) {
		t.Fatalf("Peek(a.b) = %v", err)
	}
}

func TestTypMatches(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"at+jwt", "at+jwt", true}, {"AT+JWT", "at+jwt", true}, {"application/at+jwt", "at+jwt", true},
		{"jwt", "at+jwt", false}, {"", "at+jwt", false}, {"at+jwt ", "at+jwt", false},
	} {
		if got := jwtverify.TypMatches(tc.got, tc.want); got != tc.ok {
			t.Errorf("TypMatches(%q, %q) = %v", tc.got, tc.want, got)
		}
	}
}

// RFC 7515 4 (checklist 3.1): header parameter names are exact and unique.
// A validly signed token whose typ hides in "Typ", or whose "TYP" duplicates
// typ, is refused; encoding/json's case-insensitive match would accept both.
func TestVerifyReadsExactHeaderNames(t *testing.T) {
	f := newFixture(t)
	v := jwtverify.Verifier{Typ: "oauth-id-jag+jwt", Issuers: map[string]jwtverify.KeySource{iss: f.keys}, Audience: aud, Now: func() time.Time { return f.now }}
	signWith := func(opts *jose.SignerOptions) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.ec}, opts.WithHeader("kid", "ec1"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(f.claims()).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for name, c := range map[string]struct {
		tok  string
		want error
	}{
		"Typ instead of typ":       {signWith((&jose.SignerOptions{}).WithHeader("Typ", "oauth-id-jag+jwt")), jwtverify.ErrTyp},
		"typ JWT, TYP the ID-JAG":  {signWith((&jose.SignerOptions{}).WithType("JWT").WithHeader("TYP", "oauth-id-jag+jwt")), jwtverify.ErrMalformed},
		"typ the ID-JAG, Kid too":  {signWith((&jose.SignerOptions{}).WithType("oauth-id-jag+jwt").WithHeader("Kid", "rsa1")), jwtverify.ErrMalformed},
		"typ not a string":         {unsigned(map[string]any{"alg": "ES256", "kid": "ec1", "typ": 1}, f.claims(), "x"), jwtverify.ErrMalformed},
		"exact names still verify": {signWith((&jose.SignerOptions{}).WithType("oauth-id-jag+jwt")), nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), c.tok)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

// The payload is read as go-jose reads it: exact claim names, a duplicate
// claim refused, a claim of the wrong type refused; the caller's own claims
// (Token.Claim, dest) follow the same rules.
func TestVerifyReadsExactClaims(t *testing.T) {
	f := newFixture(t)
	v := jwtverify.Verifier{Typ: "JWT", Issuers: map[string]jwtverify.KeySource{iss: f.keys}, Audience: aud, Required: []string{"sub"}, Now: func() time.Time { return f.now }}
	signRaw := func(payload string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.ec}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "ec1"))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := f.now.Add(time.Minute).Unix()
	base := `"iss":"` + iss + `","sub":"u1","aud":"` + aud + `","exp":` + itoa(exp)
	for name, c := range map[string]struct {
		payload string
		want    error
	}{
		"well-formed":             {`{` + base + `,"sid":"s1","auth_time":5}`, nil},
		"duplicate sub":           {`{` + base + `,"sub":"u2"}`, jwtverify.ErrMalformed},
		"duplicate iss":           {`{"iss":"https://evil.example",` + base + `}`, jwtverify.ErrMalformed},
		"ISS is not iss":          {`{"ISS":"` + iss + `","sub":"u1","aud":"` + aud + `","exp":` + itoa(exp) + `}`, jwtverify.ErrMissingClaim},
		"iss not a string":        {`{"iss":1,"sub":"u1"}`, jwtverify.ErrMalformed},
		"exp a string":            {`{"iss":"` + iss + `","sub":"u1","aud":"` + aud + `","exp":"` + itoa(exp) + `"}`, jwtverify.ErrMalformed},
		"aud an object":           {`{"iss":"` + iss + `","sub":"u1","aud":{"a":1},"exp":` + itoa(exp) + `}`, jwtverify.ErrMalformed},
		"sub null":                {`{"iss":"` + iss + `","sub":null,"aud":"` + aud + `","exp":` + itoa(exp) + `}`, jwtverify.ErrMissingClaim},
		"payload an array":        {`[` + base + `]`, jwtverify.ErrMalformed},
		"spaces around members":   {`{ "iss" : "` + iss + `" , "sub" : "u1" , "aud" : [ "` + aud + `" ] , "exp" : ` + itoa(exp) + ` , "sid" : "s1" , "auth_time" : 5 }`, nil},
		"exp with an exponent":    {`{` + strings.Replace(base, `"exp":`+itoa(exp), `"exp":`+itoa(exp/10)+`.0e1`, 1) + `,"sid":"s1","auth_time":5}`, nil},
		"escaped strings decoded": {`{"iss":"https:\/\/idp.example","sub":"u\u0031","aud":"` + aud + `","exp":` + itoa(exp) + `,"sid":"s1","auth_time":5}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			var dest struct {
				SID string `json:"sid"`
			}
			tok, err := v.Verify(context.Background(), signRaw(c.payload), &dest)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("Verify = %v, want %v", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var sid string
			var authTime int64
			if tok.Claims.Subject != "u1" || tok.Claims.Issuer != iss || tok.Claims.Expiry.Time().Unix() != exp || dest.SID != "s1" ||
				tok.Claim("sid", &sid) != nil || sid != "s1" || tok.Claim("auth_time", &authTime) != nil || authTime != 5 {
				t.Fatalf("claims %+v, dest %+v, sid %q auth_time %d", tok.Claims, dest, sid, authTime)
			}
			if err := tok.Claim("sid", &authTime); err == nil {
				t.Fatal("a string claim decoded into an integer")
			}
			var n int64
			for _, m := range []string{`5.5`, `1e3`, `99999999999999999999`, `"5"`, `null`} {
				tok.Raw["x"] = json.RawMessage(m)
				err := tok.Claim("x", &n)
				if want := json.Unmarshal([]byte(m), new(int64)); (err == nil) != (want == nil) {
					t.Errorf("Claim(%s) into an integer: %v, encoding/json says %v", m, err, want)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
