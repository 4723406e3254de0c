package server

import (
	"context"
	"sync"
	"time"
	"unicode/utf8"
)

// What the audit log keeps from a request is bounded: a caller who needs no
// credentials (a failed client authentication, a failed sign-in) must not
// be able to grow the database at will.
const (
	// maxAuditField caps each text field of a record (client_id, reason, ...).
	maxAuditField = 256
	// failureBurst failed-authentication records per event are written per
	// failureWindow; the rest are counted and written as one summary record.
	failureBurst  = 30
	failureWindow = time.Minute
)

// capField shortens s to maxAuditField bytes on a rune boundary, marking the cut.
func capField(s string) string {
	if len(s) <= maxAuditField {
		return s
	}
	cut := maxAuditField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

// capRecord bounds every text field of a record, including string values in
// Detail.
func capRecord(r auditRecord) auditRecord {
	for _, f := range []*string{&r.Event, &r.Outcome, &r.ClientID, &r.UserID, &r.Error, &r.Reason, &r.Rule, &r.AppID} {
		*f = capField(*f)
	}
	if r.Detail != nil {
		d := make(map[string]any, len(r.Detail))
		for k, v := range r.Detail {
			if s, ok := v.(string); ok {
				v = capField(s)
			}
			d[capField(k)] = v
		}
		r.Detail = d
	}
	return r
}

// failureAggregator lets failureBurst failure records per event through in
// each window and counts the rest; the count is written as one record of
// outcome "suppressed" when the window is over.
type failureAggregator struct {
	mu      sync.Mutex
	windows map[string]*failureWindowState // by event; a handful of fixed names
}

type failureWindowState struct {
	start      time.Time
	written    int
	suppressed int
}

// admit reports whether a failure record for event may be written now, and
// returns a summary of the previous window's suppressed records to write
// first, if any.
func (a *failureAggregator) admit(event string, now time.Time) (ok bool, summary *auditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.windows == nil {
		a.windows = map[string]*failureWindowState{}
	}
	w := a.windows[event]
	if w == nil || now.Sub(w.start) >= failureWindow {
		if w != nil {
			summary = suppressedRecord(event, w)
		}
		w = &failureWindowState{start: now}
		a.windows[event] = w
	}
	if w.written < failureBurst {
		w.written++
		return true, summary
	}
	w.suppressed++
	return false, summary
}

// flush returns the summaries of windows that are over (for Maintain).
func (a *failureAggregator) flush(now time.Time) []auditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []auditRecord
	for event, w := range a.windows {
		if now.Sub(w.start) >= failureWindow {
			if r := suppressedRecord(event, w); r != nil {
				out = append(out, *r)
			}
			delete(a.windows, event)
		}
	}
	return out
}

func suppressedRecord(event string, w *failureWindowState) *auditRecord {
	if w.suppressed == 0 {
		return nil
	}
	return &auditRecord{Event: event, Outcome: "suppressed", Reason: "more failures than the audit log records per minute; counted, not recorded one by one",
		Detail: map[string]any{"count": w.suppressed, "since": w.start.UTC().Format(time.RFC3339)}}
}

// isFailedAuth tells the records an unauthenticated caller can cause.
func isFailedAuth(r auditRecord) bool {
	return r.Outcome == "failed" && (r.Event == "client_auth" || r.Event == "sign_in")
}

// flushSuppressed writes the summaries of finished windows.
func (s *Server) flushSuppressed(ctx context.Context) error {
	for _, r := range s.failures.flush(s.now()) {
		if err := s.writeAudit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
