package jwtverify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// fuzzKeys are an RS256 key (as the IdP signs ID tokens and ID-JAGs) and an
// ES256 key (as Todo0 signs access tokens), trusted for one issuer.
type fuzzKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	v   jwtverify.Verifier
}

const fuzzIss, fuzzAud = "https://idp.example", "https://rs.example"

var fuzzNow = time.Unix(1_800_000_000, 0)

func newFuzzKeys(tb testing.TB) *fuzzKeys {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := jwks.Static{Keys: []jose.JSONWebKey{
		{Key: rk.Public(), KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
		{Key: ek.Public(), KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
	}}
	return &fuzzKeys{rsa: rk, ec: ek, v: jwtverify.Verifier{
		Typ: "oauth-id-jag+jwt", Issuers: map[string]jwtverify.KeySource{fuzzIss: set}, Audience: fuzzAud,
		Skew: 30 * time.Second, MaxAge: 10 * time.Minute, Required: []string{"sub", "jti", "iat"},
		Now: func() time.Time { return fuzzNow },
	}}
}

func (k *fuzzKeys) sign(tb testing.TB, alg jose.SignatureAlgorithm, typ string, claims map[string]any) string {
	var key any = k.rsa
	kid := "rsa1"
	if alg == jose.ES256 {
		key, kid = k.ec, "ec1"
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid))
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func goodClaims() map[string]any {
	return map[string]any{"iss": fuzzIss, "sub": "u1", "aud": fuzzAud, "jti": "j1", "iat": fuzzNow.Unix() - 5, "exp": fuzzNow.Unix() + 300, "client_id": "c"}
}

// independentlyValid re-checks an accepted token with go-jose alone: the
// signature verifies with one of the trusted keys, and the claims satisfy
// every rule the Verifier promises (typ, iss, aud exact, exp/iat, required).
func (k *fuzzKeys) independentlyValid(raw string) (map[string]any, bool) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.ES384, jose.RS384})
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	h := tok.Headers[0]
	var c map[string]any
	var key any
	switch h.KeyID {
	case "rsa1":
		key = k.rsa.Public()
	case "ec1":
		key = k.ec.Public()
	default:
		return nil, false
	}
	if tok.Claims(key, &c) != nil {
		return nil, false
	}
	typ, _ := h.ExtraHeaders["typ"].(string)
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "oauth-id-jag+jwt") {
		return nil, false
	}
	aud := c["aud"]
	if arr, ok := aud.([]any); ok && len(arr) == 1 {
		aud = arr[0]
	}
	exp, _ := c["exp"].(float64)
	iat, _ := c["iat"].(float64)
	ok := c["iss"] == fuzzIss && aud == fuzzAud && c["sub"] != nil && c["jti"] != nil && c["iat"] != nil &&
		fuzzNow.Before(time.Unix(int64(exp), 0).Add(30*time.Second)) && !fuzzNow.Add(30*time.Second).Before(time.Unix(int64(iat), 0))
	return c, ok
}

// FuzzVerify feeds random strings, and real tokens with random edits, to
// Verify. Properties: no panic; every refusal wraps one of the sentinel
// errors; every accepted token verifies independently with a trusted key and
// meets typ, iss, aud, time and required-claim rules (checklist: typ, alg
// allow-list, trusted iss, kid, signature, exact aud, exp/nbf/iat).
func FuzzVerify(f *testing.F) {
	k := newFuzzKeys(f)
	good := k.sign(f, jose.RS256, "oauth-id-jag+jwt", goodClaims())
	goodEC := k.sign(f, jose.ES256, "oauth-id-jag+jwt", goodClaims())
	wrongTyp := k.sign(f, jose.RS256, "JWT", goodClaims())
	audArr := goodClaims()
	audArr["aud"] = []string{fuzzAud, "https://other.example"}
	expired := goodClaims()
	expired["exp"] = fuzzNow.Unix() - 3600
	for _, s := range []string{good, goodEC, wrongTyp, k.sign(f, jose.RS256, "oauth-id-jag+jwt", audArr), k.sign(f, jose.ES256, "application/oauth-id-jag+jwt", expired),
		"", "a.b.c", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.", strings.Repeat(".", 5)} {
		f.Add(s, uint16(0), byte(0), uint8(0))
	}
	f.Add(good, uint16(10), byte('A'), uint8(1))
	f.Add(good, uint16(len(good)-1), byte('B'), uint8(1))
	f.Add(goodEC, uint16(40), byte('.'), uint8(2))
	f.Add(good, uint16(100), byte(0), uint8(3))
	for _, s := range []string{good, goodEC} { // the accept path is really reached
		if _, err := k.v.Verify(context.Background(), s); err != nil {
			f.Fatalf("seed token refused: %v", err)
		}
		if _, ok := k.independentlyValid(s); !ok {
			f.Fatal("seed token fails the independent check")
		}
	}
	sentinels := []error{jwtverify.ErrMalformed, jwtverify.ErrTyp, jwtverify.ErrAlg, jwtverify.ErrIssuer, jwtverify.ErrKey, jwtverify.ErrSignature,
		jwtverify.ErrAudience, jwtverify.ErrExpired, jwtverify.ErrNotYetValid, jwtverify.ErrIssuedInFuture, jwtverify.ErrTooOld, jwtverify.ErrMissingClaim}
	f.Fuzz(func(t *testing.T, raw string, pos uint16, b byte, op uint8) {
		// op mutates the input at pos: 1 replace a byte, 2 insert, 3 cut there.
		if n := len(raw); n > 0 {
			p := int(pos) % n
			switch op % 4 {
			case 1:
				raw = raw[:p] + string([]byte{b}) + raw[p+1:]
			case 2:
				raw = raw[:p] + string([]byte{b}) + raw[p:]
			case 3:
				raw = raw[:p]
			}
		}
		var dest struct {
			ClientID string `json:"client_id"`
		}
		tok, err := k.v.Verify(context.Background(), raw, &dest)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error without a sentinel: %v", err)
		}
		c, ok := k.independentlyValid(raw)
		if !ok {
			t.Fatalf("Verify accepted a token that does not verify independently: %q", raw)
		}
		if tok.Claims.Subject != c["sub"] || tok.Claims.Issuer != fuzzIss {
			t.Fatalf("claims differ: %+v vs %v", tok.Claims, c)
		}
		var raws map[string]any
		b2, _ := json.Marshal(tok.Raw)
		_ = json.Unmarshal(b2, &raws)
		if !reflect.DeepEqual(raws, c) {
			t.Fatalf("Raw claims %v differ from the signed payload %v", raws, c)
		}
	})
}
