package server

import "github.com/xaa-sandbox/xaa-sandbox/shared/faults"

// Faults Todo0 MCP can be switched into (docs/todo0-faults.md), each
// implemented in protectedResourceMetadata.
const (
	FaultPRMOmit          = "prm.omit"
	FaultPRMWrongResource = "prm.wrong_resource"
	FaultPRMWrongAS       = "prm.wrong_authorization_server"
)

// What the prm faults claim instead of the truth. Neither exists.
const (
	wrongResource   = "http://localhost:7999/mcp"
	wrongAuthServer = "http://localhost:7998"
)

func newFaults() *faults.Set {
	return faults.NewSet(
		faults.Fault{Name: FaultPRMOmit, Description: "the protected resource metadata answers 404 at both well-known paths; a client cannot discover the authorization server and should say so"},
		faults.Fault{Name: FaultPRMWrongResource, Description: "the metadata's resource is not this server's resource identifier; a client must refuse it (RFC 9728 3.3)"},
		faults.Fault{Name: FaultPRMWrongAS, Description: "the metadata names an authorization server that is not Todo0's issuer; a client must not send tokens for it here (and the IdP should refuse the audience)"},
	)
}
