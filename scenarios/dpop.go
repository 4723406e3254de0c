package scenarios

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
)

// dpopProof makes the proof a step asks for, with the runner's key of that
// name (made on first use, its thumbprint saved as ${dpop_jkt_NAME}).
func (r *run) dpopProof(spec *DPoP, method, u, accessToken string) (string, error) {
	name := spec.Key
	if name == "" {
		name = "a"
	}
	k, ok := r.dpopKeys[name]
	if !ok {
		pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		if k, err = dpop.NewKey(pk, jose.ES256); err != nil {
			return "", err
		}
		r.dpopKeys[name] = k
		r.vars["dpop_jkt_"+name] = k.JKT()
	}
	if spec.HTM != "" {
		method = spec.HTM
	}
	if spec.HTU != "" {
		v, err := r.expand(spec.HTU)
		if err != nil {
			return "", err
		}
		u = v
	}
	if spec.ATH == "none" {
		accessToken = ""
	}
	return k.Proof(method, u, accessToken, time.Now())
}
