package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// DPoP at redemption (ID-JAG draft "Proof-of-Possession During ID-JAG
// Exchange", RFC 9449):
//
//	cnf in the ID-JAG, proof sent:    valid proof whose key matches cnf.jkt, else invalid_grant
//	cnf in the ID-JAG, no proof:      invalid_grant (proof of possession required)
//	no cnf, proof sent:               valid proof; the access token is bound to its key
//	no cnf, no proof:                 a Bearer token
//
// A proof that fails RFC 9449 4.3 is invalid_dpop_proof (RFC 9449 5). A
// bound access token has token_type DPoP and cnf.jkt (RFC 9449 6.1).

type dpopHeaderKey struct{}

func withDPoPHeader(r *http.Request) context.Context {
	return context.WithValue(r.Context(), dpopHeaderKey{}, r.Header.Values(dpop.Header))
}

// jagCnf is the ID-JAG's confirmation claim.
type jagCnf struct {
	JKT string `json:"jkt"`
}

// redemptionBinding returns the thumbprint to bind the access token to, or
// "" for a Bearer token.
func (s *Server) redemptionBinding(ctx context.Context, cnf *jagCnf) (string, error) {
	values, _ := ctx.Value(dpopHeaderKey{}).([]string)
	if cnf != nil && cnf.JKT == "" {
		return "", oauth.InvalidGrant("ID-JAG rejected: its cnf claim names no jkt").WithRule("IDJAG DPoP cnf.jkt")
	}
	if len(values) == 0 {
		if cnf != nil {
			return "", oauth.InvalidGrant("proof of possession required: this ID-JAG is bound to a DPoP key (cnf.jkt), send a DPoP proof made with it").WithRule("IDJAG DPoP: a bound ID-JAG needs a proof")
		}
		return "", nil
	}
	v := dpop.Verifier{Skew: s.cfg.ClockSkew, Replay: s.replay, Now: s.now}
	p, err := v.Verify(ctx, values, dpop.Request{Method: http.MethodPost, URL: s.cfg.PublicURL + "/oauth2/token"})
	if errors.Is(err, dpop.ErrInvalidProof) {
		return "", oauth.Errorf(dpop.ErrCodeInvalidProof, "%v", err).WithRule("RFC 9449 4.3 DPoP proof")
	}
	if err != nil {
		return "", oauth.ServerError(err)
	}
	if cnf != nil && p.JKT != cnf.JKT {
		return "", oauth.InvalidGrant("ID-JAG rejected: the DPoP proof's key (jkt %s) is not the one the ID-JAG is bound to (%s)", p.JKT, cnf.JKT).WithRule("IDJAG DPoP: proof key matches cnf.jkt")
	}
	return p.JKT, nil
}
