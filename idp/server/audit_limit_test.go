package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Audit amplification: a failed client authentication needs no credentials,
// so what it records from the request is capped (client_id, and the reason
// that quotes it) and beyond a burst per minute the failures are counted
// into one "suppressed" record instead of a row each.
func TestAuditFailedAuthIsBoundedAndAggregated(t *testing.T) {
	e := newEnv(t)
	huge := strings.Repeat("x", 60<<10)
	fail := func() {
		got := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}, "client_id": {huge}, "client_secret": {"nope"}}, nil)
		if got.Status != http.StatusUnauthorized && got.Status != http.StatusBadRequest {
			t.Fatalf("status %d %s", got.Status, got.Body)
		}
	}
	fail()
	rec := e.lastAudit(t, "client_auth")
	if rec.Outcome != "failed" || len(rec.ClientID) > 2*maxAuditField || len(rec.Reason) > 2*maxAuditField || !strings.HasPrefix(rec.ClientID, "xxxx") {
		t.Fatalf("audited client_id %d bytes, reason %d bytes: %+v", len(rec.ClientID), len(rec.Reason), rec.Outcome)
	}
	for range 99 {
		fail()
	}
	rows, err := e.s.QueryAudit(context.Background(), AuditFilter{Event: "client_auth", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != failureBurst {
		t.Fatalf("%d client_auth rows for 100 failures in a minute, want %d", len(rows), failureBurst)
	}
	e.advance(t, failureWindow+time.Second)
	if err := e.s.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	sum := e.lastAudit(t, "client_auth")
	if sum.Outcome != "suppressed" || sum.Detail["count"] != float64(100-failureBurst) {
		t.Fatalf("summary %+v", sum)
	}
	// A new window records again.
	fail()
	if rec := e.lastAudit(t, "client_auth"); rec.Outcome != "failed" {
		t.Fatalf("after the window: %+v", rec)
	}
}
