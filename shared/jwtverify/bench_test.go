package jwtverify_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

// BenchmarkVerify verifies an ID-token-shaped RS256 token: the signature
// check plus the parsing and claim checks around it.
func BenchmarkVerify(b *testing.B) {
	t := &testing.T{}
	f := newFixture(t)
	claims := f.claims()
	claims["sid"], claims["auth_time"], claims["nonce"], claims["amr"] = "s_0123456789abcdef", f.now.Unix()-60, "n-0S6_WzA2Mj", []string{"pwd"}
	tok := f.sign(t, jose.RS256, f.rsa, "rsa1", "JWT", claims)
	v := jwtverify.Verifier{
		Typ: "JWT", Issuers: map[string]jwtverify.KeySource{iss: f.keys}, Audience: aud,
		Skew: 10 * time.Second, Required: []string{"sub", "iat"}, Now: func() time.Time { return f.now },
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
