package server

import (
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
)

// Faults Todo0's authorization server can be switched into (docs/todo0-faults.md).
// Each is implemented where the misbehaviour happens, in token().
const (
	FaultRefreshToken   = "token.refresh_token"
	FaultWrongTokenType = "token.wrong_token_type"
	FaultSlow           = "token.slow"
	FaultServerError    = "token.server_error"
)

// slowDelay is how long the token endpoint stalls under token.slow.
const slowDelay = 3 * time.Second

func newFaults() *faults.Set {
	return faults.NewSet(
		faults.Fault{Name: FaultRefreshToken, Description: "the jwt-bearer response carries a refresh_token; a client must not rely on it (checklist 3: no refresh token, go back to the IdP)"},
		faults.Fault{Name: FaultWrongTokenType, Description: `the jwt-bearer response says token_type "N_A" instead of "Bearer"; a client should refuse the response (RFC 6749 5.1)`},
		faults.Fault{Name: FaultSlow, Description: "the token endpoint waits 3 s before answering; a client's timeout and cancellation should work"},
		faults.Fault{Name: FaultServerError, Description: "the token endpoint answers 500 server_error; a client should report it, not crash or loop"},
	)
}
