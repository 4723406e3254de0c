package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// todo0AccessTokenTTL is the sandbox's default lifetime of Todo0's access
// tokens. Acme cannot know another party's configuration; the console says
// "by default" when it uses this figure.
const todo0AccessTokenTTL = 5 * time.Minute

// revocationNote says what happens next after the administrator deactivated
// a user or disabled a managed connection. Acme refuses every new token
// exchange at once; but access tokens Todo0 issued before stay valid at Todo0
// until they expire, because Todo0 never asks Acme about a token it issued.
// That window is the most important thing to see about XAA revocation, so
// the console states it with the times from its own audit log.
func (s *Server) revocationNote(ctx context.Context, action string, f url.Values) string {
	var who, refused, q string
	var arg string
	switch {
	case action == "user.deactivate":
		u, err := s.userBy(ctx, "id", f.Get("id"))
		if err != nil {
			return ""
		}
		who, arg = u.Username, u.ID
		refused = "every new token exchange for " + u.Username + " is refused from now on (checklist 1.3)"
		q = `SELECT at FROM audit WHERE user_id = ? AND event = 'token_exchange' AND outcome = 'granted' ORDER BY id DESC LIMIT 1`
	case action == "connection.update":
		var clientID, appID string
		var enabled bool
		err := s.db.QueryRowContext(ctx, `SELECT client_id, resource_app_id, enabled FROM managed_connections WHERE id = ?`, f.Get("id")).Scan(&clientID, &appID, &enabled)
		if err != nil || enabled {
			return ""
		}
		who, arg = clientID, clientID
		refused = "every new token exchange by " + clientID + " for " + appID + " is refused from now on (checklist 1.4)"
		q = `SELECT at FROM audit WHERE client_id = ? AND event = 'token_exchange' AND outcome = 'granted' ORDER BY id DESC LIMIT 1`
	default:
		return ""
	}
	note := " What happens next: " + refused + "."
	if s.cfg.SharedSignals && action == "user.deactivate" {
		// The push has happened by now (synchronously, see ssf.go); the audit log has its outcome.
		var outcome, reason string
		_ = s.db.QueryRowContext(ctx, `SELECT outcome, reason FROM audit WHERE event = 'shared_signal' AND user_id = ? ORDER BY id DESC LIMIT 1`, arg).Scan(&outcome, &reason)
		if outcome == "ok" {
			return note + " Shared Signals is on: Acme pushed a RISC account-disabled event about " + who +
				" to each resource app, and Todo0 ended " + who + "'s live access tokens at once (checklist 9.2; the audit log shows the push as shared_signal)."
		}
		note += " Shared Signals is on, but the push failed (" + reason + "), so Todo0 does not know."
	}
	if s.cfg.SharedSignals {
		note += " (Shared Signals carries no event for a disabled connection.)"
	}
	var at int64
	err := s.db.QueryRowContext(ctx, q, arg).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return note + " Acme never issued an ID-JAG for " + who + ", so there is no live access token to wait for."
	}
	if err != nil {
		return note
	}
	issued := time.Unix(at, 0)
	jagEnd := issued.Add(s.cfg.IDJAGTTL)
	latest := jagEnd.Add(todo0AccessTokenTTL)
	now := s.now()
	if !now.Before(latest) {
		return note + fmt.Sprintf(" The last ID-JAG for %s was issued at %s UTC; any access token Todo0 issued for it has expired by now.", who, hhmmss(issued))
	}
	return note + fmt.Sprintf(" But access tokens Todo0 already issued stay valid at Todo0 until they expire: Acme last issued an ID-JAG for %s at %s UTC, "+
		"Todo0 could redeem it until %s UTC, and an access token lives %s after that (Todo0's default), so %s may keep working at Todo0 until about %s UTC (%s) at the latest. "+
		"Todo0 never asks Acme about a token it issued; only the next exchange comes back here.",
		who, hhmmss(issued), hhmmss(jagEnd), todo0AccessTokenTTL, who, hhmmss(latest), "in "+latest.Sub(now).Round(time.Second).String())
}

func hhmmss(t time.Time) string { return t.UTC().Format("15:04:05") }
