package server

import (
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

// IDJAG "Proof-of-Possession During Token Exchange": a proof sent with the
// exchange is validated (htm POST, htu the token endpoint) and binds the
// ID-JAG (cnf.jkt); without one the ID-JAG is unbound.
func TestExchangeDPoP(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	key := dpopKey(t)
	tokenURL := e.ts.URL + "/oauth2/token"
	proof := func(method, u string) string {
		p, err := key.Proof(method, u, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	reused := proof(http.MethodPost, tokenURL)
	for _, tc := range []struct {
		name    string
		headers []string
		code    string
		errHas  string
		jkt     string // the ID-JAG's cnf.jkt; "" = no cnf
	}{
		{name: "no proof: unbound", headers: nil},
		{name: "valid proof: bound to its key", headers: []string{reused}, jkt: key.JKT()},
		{name: "the same proof again (jti replay)", headers: []string{reused}, code: dpop.ErrCodeInvalidProof, errHas: "used before"},
		{name: "htu of another endpoint", headers: []string{proof(http.MethodPost, e.ts.URL+"/oauth2/userinfo")}, code: dpop.ErrCodeInvalidProof, errHas: "htu"},
		{name: "htm GET", headers: []string{proof(http.MethodGet, tokenURL)}, code: dpop.ErrCodeInvalidProof, errHas: "htm"},
		{name: "two proofs", headers: []string{proof(http.MethodPost, tokenURL), proof(http.MethodPost, tokenURL)}, code: dpop.ErrCodeInvalidProof, errHas: "exactly one"},
		{name: "not a proof", headers: []string{"eyJhbGciOiJub25lIn0.e30."}, code: dpop.ErrCodeInvalidProof, errHas: "not a JWS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := e.auditMark(t)
			got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), func(r *http.Request, f url.Values) {
				agent0Basic(r, f)
				for _, h := range tc.headers {
					r.Header.Add("DPoP", h)
				}
			})
			rec := e.auditSince(t, "token_exchange", mark)
			if tc.code != "" {
				if got.Status != 400 || got.str("error") != tc.code || !strings.Contains(got.str("error_description"), tc.errHas) {
					t.Fatalf("got %d %s, want 400 %s (%s)", got.Status, got.Body, tc.code, tc.errHas)
				}
				if rec.Outcome != "denied" || !strings.Contains(rec.Rule, "DPoP") {
					t.Errorf("audit %+v", rec)
				}
				return
			}
			if got.Status != 200 {
				t.Fatalf("got %d %s", got.Status, got.Body)
			}
			_, claims := peek(t, got.str("access_token"))
			cnf, _ := claims["cnf"].(map[string]any)
			if gotJKT, _ := cnf["jkt"].(string); gotJKT != tc.jkt {
				t.Fatalf("cnf = %v, want jkt %q", claims["cnf"], tc.jkt)
			}
			if tc.jkt != "" && rec.Detail["dpop_jkt"] != tc.jkt {
				t.Errorf("audit does not record the binding: %+v", rec.Detail)
			}
		})
	}
}
