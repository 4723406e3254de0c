package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// DPoP at the token exchange (ID-JAG draft "Proof-of-Possession During Token
// Exchange", RFC 9449): a proof sent with the exchange MUST be valid (htm
// POST, htu the token endpoint) and binds the ID-JAG to its key (cnf.jkt).
// Without a proof the ID-JAG is unbound.

type dpopHeaderKey struct{}

// withDPoPHeader carries the request's DPoP header values to the exchange.
func withDPoPHeader(r *http.Request) context.Context {
	return context.WithValue(r.Context(), dpopHeaderKey{}, r.Header.Values(dpop.Header))
}

// dpopBinding validates the exchange's DPoP proof, if any, and returns the
// thumbprint to bind the ID-JAG to ("" when no proof was sent).
func (s *Server) dpopBinding(ctx context.Context) (string, error) {
	values, _ := ctx.Value(dpopHeaderKey{}).([]string)
	if len(values) == 0 {
		return "", nil
	}
	v := dpop.Verifier{Skew: s.cfg.ClockSkew, Replay: s.replay, Now: s.now}
	p, err := v.Verify(ctx, values, dpop.Request{Method: http.MethodPost, URL: s.cfg.Issuer + "/oauth2/token"})
	if errors.Is(err, dpop.ErrInvalidProof) {
		return "", oauth.Errorf(dpop.ErrCodeInvalidProof, "%v", err).WithRule("IDJAG DPoP at the token exchange (RFC 9449 4.3)")
	}
	if err != nil {
		return "", oauth.ServerError(err)
	}
	return p.JKT, nil
}
