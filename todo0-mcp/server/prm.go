package server

import (
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// protectedResourceMetadata serves RFC 9728 metadata (checklist 4):
// resource exactly the identifier clients use, Todo0's AS, the scopes, and
// header as the only bearer method. The prm.* faults bend it on purpose.
func (s *Server) protectedResourceMetadata(w http.ResponseWriter, r *http.Request) {
	// Discovery is public: any origin may read it (browser-based clients).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, MCP-Protocol-Version")
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", "GET, OPTIONS")
		oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "protected resource metadata is read with GET", Status: http.StatusMethodNotAllowed})
		return
	}
	if s.faults.On(FaultPRMOmit) {
		oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no protected resource metadata here (fault prm.omit is on)"})
		return
	}
	md := oauthex.ProtectedResourceMetadata{
		Resource:               s.resource,
		AuthorizationServers:   []string{s.cfg.AuthServer},
		ScopesSupported:        demo.Todo0Scopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "Todo0 MCP",
		// RFC 9728 2 / RFC 9449: the proofs accepted with DPoP-bound tokens.
		DPOPSigningAlgValuesSupported: dpop.AlgorithmNames(),
	}
	if s.faults.On(FaultPRMWrongResource) {
		md.Resource = wrongResource
	}
	if s.faults.On(FaultPRMWrongAS) {
		md.AuthorizationServers = []string{wrongAuthServer}
	}
	oauth.WriteJSON(w, http.StatusOK, md)
}
