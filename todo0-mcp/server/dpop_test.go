package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
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

// RFC 9449 7: a DPoP-bound access token needs the DPoP scheme and a proof
// for this request (htm, htu, ath) made with its key.
func TestDPoPBoundTokens(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	key, other := dpopKey(t), dpopKey(t)
	bound := e.token(oauth.TypAccessToken, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT()} })
	plain := e.token(oauth.TypAccessToken, nil)
	mcpURL := e.url + "/mcp"
	proof := func(k *dpop.Key, method, u, tok string) string {
		p, err := k.Proof(method, u, tok, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	replayed := proof(key, http.MethodPost, mcpURL, bound)
	for _, tc := range []struct {
		name, authz, proof string
		status             int
		code, errHas       string
	}{
		{name: "bound token, DPoP scheme, good proof", authz: "DPoP " + bound, proof: replayed, status: 200},
		{name: "the same proof again", authz: "DPoP " + bound, proof: replayed, status: 401, code: dpop.ErrCodeInvalidProof, errHas: "used before"},
		// RFC 9449 7.2: a bound token presented as a bearer token
		{name: "bound token as Bearer", authz: "Bearer " + bound, proof: proof(key, http.MethodPost, mcpURL, bound), status: 401, code: oauth.ErrInvalidToken, errHas: "DPoP-bound"},
		{name: "no proof", authz: "DPoP " + bound, status: 401, code: dpop.ErrCodeInvalidProof, errHas: "exactly one DPoP header"},
		{name: "proof without ath", authz: "DPoP " + bound, proof: proof(key, http.MethodPost, mcpURL, ""), status: 401, code: dpop.ErrCodeInvalidProof, errHas: "ath is missing"},
		{name: "proof for another token", authz: "DPoP " + bound, proof: proof(key, http.MethodPost, mcpURL, plain), status: 401, code: dpop.ErrCodeInvalidProof, errHas: "ath does not match"},
		{name: "proof by another key", authz: "DPoP " + bound, proof: proof(other, http.MethodPost, mcpURL, bound), status: 401, code: dpop.ErrCodeInvalidProof, errHas: "not the one the access token is bound to"},
		{name: "proof for GET", authz: "DPoP " + bound, proof: proof(key, http.MethodGet, mcpURL, bound), status: 401, code: dpop.ErrCodeInvalidProof, errHas: "htm"},
		{name: "proof for another URL", authz: "DPoP " + bound, proof: proof(key, http.MethodPost, e.url+"/other", bound), status: 401, code: dpop.ErrCodeInvalidProof, errHas: "htu"},
		{name: "unbound token with the DPoP scheme", authz: "DPoP " + plain, proof: proof(key, http.MethodPost, mcpURL, plain), status: 401, code: oauth.ErrInvalidToken, errHas: "needs a DPoP-bound"},
		{name: "unbound token as Bearer", authz: "Bearer " + plain, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.proof != "" {
				hdr["DPoP"] = tc.proof
			}
			resp := e.postWith("/mcp", tc.authz, initializeBody, hdr)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.status, resp.Header.Values("WWW-Authenticate"))
			}
			if tc.status == 200 {
				return
			}
			www := strings.Join(resp.Header.Values("WWW-Authenticate"), " | ")
			if !strings.Contains(www, `DPoP algs=`) || !strings.Contains(www, `error="`+tc.code+`"`) || !strings.Contains(www, tc.errHas) || !strings.Contains(www, "resource_metadata=") {
				t.Fatalf("WWW-Authenticate %q, want a DPoP challenge with error %s (%s) and the resource metadata", www, tc.code, tc.errHas)
			}
		})
	}
}
