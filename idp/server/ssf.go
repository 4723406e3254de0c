package server

// Acme as a Shared Signals transmitter (OpenID Shared Signals Framework 1.0,
// with CAEP and RISC events): when the administrator deactivates a user or a
// session is revoked, Acme pushes a Security Event Token (RFC 8417) to each
// resource application, which can then end the user's live access tokens at
// once instead of letting them run until they expire (checklist 9.2).
//
// The stream is configured statically, as a sandbox may: every resource app
// Acme knows (an app with an audience) is a receiver, its SETs carry that
// audience as "aud", and they are pushed (RFC 8935) to <audience>/ssf/events.
// There is no stream management API. Off unless Config.SharedSignals.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// Event type URIs (CAEP 1.0 section 3.1, RISC 1.0 section 2.3).
const (
	EventSessionRevoked  = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	EventAccountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
)

// TypSET is the explicit type of a Security Event Token (RFC 8417 2.3),
// which SSF requires.
const TypSET = "secevent+jwt"

// signalUser pushes one event about a user to every receiver. Delivery is
// synchronous, so when the console's action returns, the receivers know;
// each push and its outcome go to the audit log.
func (s *Server) signalUser(ctx context.Context, event, userID, initiator, reason string) {
	if !s.cfg.SharedSignals {
		return
	}
	rows, err := s.db.QueryContext(ctx, `SELECT audience FROM apps WHERE audience IS NOT NULL AND audience != '' ORDER BY id`)
	if err != nil {
		s.log.Error("shared signals", "err", err)
		return
	}
	var auds []string
	for rows.Next() {
		var a string
		if rows.Scan(&a) == nil {
			auds = append(auds, a)
		}
	}
	rows.Close()
	txn := randomToken()[:16]
	for _, aud := range auds {
		s.pushSET(ctx, aud, event, userID, initiator, reason, txn)
	}
}

func (s *Server) pushSET(ctx context.Context, aud, event, userID, initiator, reason, txn string) {
	now := s.now()
	body := map[string]any{"event_timestamp": now.Unix(), "initiating_entity": initiator}
	if reason != "" {
		body["reason_"+initiator] = map[string]string{"en": reason}
	}
	if event == EventAccountDisabled {
		body = map[string]any{"reason": "administrator"}
	}
	// SSF 1.0 section 4.1: explicit typ, a top-level sub_id, no sub, no exp.
	claims := map[string]any{
		"iss":    s.cfg.Issuer,
		"jti":    randomToken(),
		"iat":    now.Unix(),
		"aud":    aud,
		"txn":    txn,
		"sub_id": map[string]string{"format": "iss_sub", "iss": s.cfg.Issuer, "sub": userID},
		"events": map[string]any{event: body},
	}
	set, err := s.keys.Sign(TypSET, claims)
	rec := auditRecord{Event: "shared_signal", Outcome: "ok", UserID: userID, Detail: map[string]any{"event": event, "aud": aud, "txn": txn}}
	defer func() { s.audit(ctx, rec) }()
	if err != nil {
		rec.Outcome, rec.Reason = "failed", err.Error()
		return
	}
	endpoint := aud + "/ssf/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewBufferString(set))
	if err != nil {
		rec.Outcome, rec.Reason = "failed", err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		rec.Outcome, rec.Reason = "failed", "push to "+endpoint+": "+err.Error()
		s.log.Warn("shared signals push failed", "endpoint", endpoint, "err", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// RFC 8935 2.2: 202 Accepted means the receiver took it.
	if resp.StatusCode != http.StatusAccepted {
		rec.Outcome, rec.Reason = "failed", fmt.Sprintf("push to %s: HTTP %d %s", endpoint, resp.StatusCode, shorten(string(b), 200))
		s.log.Warn("shared signals push refused", "endpoint", endpoint, "status", resp.StatusCode)
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
