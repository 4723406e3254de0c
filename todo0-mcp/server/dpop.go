package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// DPoP-bound access tokens at the resource (RFC 9449 7): a token whose cnf
// names a key is accepted only with the DPoP scheme and a proof for this
// request (htm, htu, ath) made with that key; a DPoP-bound token sent as
// Bearer is refused (RFC 9449 7.2), and so is an unbound token sent with
// the DPoP scheme.

// bindingError is a refusal of the token's binding: the code for the DPoP
// challenge (invalid_token or invalid_dpop_proof) and why.
type bindingError struct{ code, desc string }

func (e *bindingError) Error() string { return e.code + ": " + e.desc }

// checkBinding enforces the token's DPoP binding on request r.
func (s *Server) checkBinding(r *http.Request, dpopScheme bool, token string, ti *auth.TokenInfo) error {
	jkt, _ := ti.Extra["cnf_jkt"].(string)
	switch {
	case jkt == "" && !dpopScheme:
		return nil
	case jkt == "":
		return &bindingError{oauth.ErrInvalidToken, "the DPoP scheme needs a DPoP-bound access token; send this one as Bearer"}
	case !dpopScheme:
		return &bindingError{oauth.ErrInvalidToken, "this access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof (RFC 9449 7.1)"}
	}
	v := dpop.Verifier{Skew: s.cfg.ClockSkew, Replay: s.dpopReplay}
	p, err := v.Verify(r.Context(), r.Header.Values(dpop.Header), dpop.Request{Method: r.Method, URL: s.cfg.PublicURL + r.URL.Path, AccessToken: token})
	if err != nil {
		if errors.Is(err, dpop.ErrInvalidProof) {
			return &bindingError{dpop.ErrCodeInvalidProof, err.Error()}
		}
		return err
	}
	if p.JKT != jkt {
		return &bindingError{dpop.ErrCodeInvalidProof, fmt.Sprintf("the proof's key (jkt %s) is not the one the access token is bound to", p.JKT)}
	}
	return nil
}

// dpopChallenge refuses a request for its DPoP binding: 401 with the DPoP
// challenge (RFC 9449 7.1) and the Bearer one that names the resource
// metadata, so a client can still discover where tokens come from.
func (s *Server) dpopChallenge(w http.ResponseWriter, err error) {
	be, ok := err.(*bindingError)
	if !ok {
		be = &bindingError{oauth.ErrInvalidToken, "the DPoP proof could not be checked"}
		s.log.Error("dpop", "err", err)
	}
	w.Header().Add("WWW-Authenticate", fmt.Sprintf("Bearer resource_metadata=%q, scope=%q", s.prmURL, strings.Join(demo.Todo0Scopes, " ")))
	w.Header().Add("WWW-Authenticate", fmt.Sprintf("DPoP algs=%q, error=%q, error_description=%q", strings.Join(dpop.AlgorithmNames(), " "), be.code, sanitizeHeader(be.desc)))
	oauth.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": be.code, "error_description": be.desc})
}
