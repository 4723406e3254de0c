package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

func dpopKey(t *testing.T) *dpop.Key {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := dpop.NewKey(pk, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// IDJAG "Proof-of-Possession During ID-JAG Exchange": the four cases of cnf
// and proof, and RFC 9449 4.3 checks of the proof itself.
func TestRedeemDPoP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key, other := dpopKey(t), dpopKey(t)
	tokenURL := e.url + "/oauth2/token"
	proof := func(k *dpop.Key, method, u string) string {
		p, err := k.Proof(method, u, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bound := func(c map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT()} }
	for _, tc := range []struct {
		name      string
		mod       func(map[string]any)
		proof     string
		status    int
		code      string
		errHas    string
		tokenType string
		jkt       string
	}{
		{name: "cnf and a matching proof: DPoP-bound token", mod: bound, proof: proof(key, http.MethodPost, tokenURL), status: 200, tokenType: "DPoP", jkt: key.JKT()},
		{name: "cnf and no proof", mod: bound, status: 400, code: oauth.ErrInvalidGrant, errHas: "proof of possession required"},
		{name: "cnf and another key's proof", mod: bound, proof: proof(other, http.MethodPost, tokenURL), status: 400, code: oauth.ErrInvalidGrant, errHas: "not the one the ID-JAG is bound to"},
		{name: "cnf and a proof for another URL", mod: bound, proof: proof(key, http.MethodPost, e.url+"/elsewhere"), status: 400, code: dpop.ErrCodeInvalidProof, errHas: "htu"},
		{name: "cnf without jkt", mod: func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": "abc"} }, proof: proof(key, http.MethodPost, tokenURL), status: 400, code: oauth.ErrInvalidGrant, errHas: "no jkt"},
		{name: "no cnf, a proof: bound to the proof's key", proof: proof(other, http.MethodPost, tokenURL), status: 200, tokenType: "DPoP", jkt: other.JKT()},
		{name: "no cnf, a bad proof", proof: "not-a-proof", status: 400, code: dpop.ErrCodeInvalidProof, errHas: "not a JWS"},
		{name: "no cnf, no proof: Bearer", status: 200, tokenType: "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.claims()
			if tc.mod != nil {
				tc.mod(c)
			}
			req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {sign(t, jwtSpec{}, c)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(demo.Agent0Todo0ClientID, demo.Agent0Todo0ClientSecret)
			if tc.proof != "" {
				req.Header.Set("DPoP", tc.proof)
			}
			idjagJTIs := func() (n int) {
				_ = e.s.db.QueryRow(`SELECT COUNT(*) FROM grants WHERE replay_id IS NOT NULL`).Scan(&n)
				return n
			}
			before := idjagJTIs()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %v, want %d", resp.StatusCode, m, tc.status)
			}
			if tc.status != 200 {
				if m["error"] != tc.code || !strings.Contains(m["error_description"].(string), tc.errHas) {
					t.Fatalf("got %v, want %s (%s)", m, tc.code, tc.errHas)
				}
				if idjagJTIs() != before {
					t.Errorf("a refused ID-JAG was recorded as used")
				}
				return
			}
			if idjagJTIs() != before+1 {
				t.Errorf("the redeemed ID-JAG's jti was not recorded")
			}
			if m["token_type"] != tc.tokenType {
				t.Fatalf("token_type %v, want %s", m["token_type"], tc.tokenType)
			}
			v := jwtverify.Verifier{Typ: oauth.TypAccessToken, Issuers: map[string]jwtverify.KeySource{e.url: e.s.keys}}
			var at struct {
				Cnf map[string]string `json:"cnf"`
			}
			if _, err := v.Verify(context.Background(), m["access_token"].(string), &at); err != nil {
				t.Fatal(err)
			}
			if at.Cnf["jkt"] != tc.jkt {
				t.Errorf("access token cnf %v, want jkt %q", at.Cnf, tc.jkt)
			}
		})
	}
}
