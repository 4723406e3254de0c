package server

import (
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// stepUp enforces a managed connection's max_auth_age (ID-JAG draft
// "Step-Up Authentication", RFC 9470 3): when the user signed in longer ago
// than that, or the subject token does not say when, the exchange is
// refused with insufficient_user_authentication and max_age, and the client
// sends the user back to sign in. acr_values are not asked for: every
// sign-in at this IdP is a password (amr pwd).
func (s *Server) stepUp(conn *connection, sub *subject) error {
	if conn.MaxAuthAge <= 0 {
		return nil
	}
	maxAge := conn.MaxAuthAge
	age := s.now().Sub(time.Unix(sub.AuthTime, 0))
	if sub.AuthTime > 0 && age <= time.Duration(maxAge)*time.Second+s.cfg.ClockSkew {
		return nil
	}
	e := oauth.Errorf(oauth.ErrInsufficientUserAuthentication, "the managed connection needs a sign-in within the last %ds; sign the user in again (prompt=login, max_age=%d)", maxAge, maxAge).
		WithRule("IDJAG step-up: max_auth_age")
	e.MaxAge = &maxAge
	return e
}
