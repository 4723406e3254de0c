package server

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A refusal stops calls for RetryRefusedAfter; after it, the next request
// asks again (mcpSession gets past the refusal), so an administrator's
// reactivation takes effect without anyone touching Agent0.
func TestRefusalBackOff(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	refusal := &oauth2.RetrieveError{ErrorCode: "access_denied", ErrorDescription: "user alice is deactivated"}
	for _, tc := range []struct {
		name      string
		retry     time.Duration
		elapsed   time.Duration
		stillStop bool
	}{
		{"within the back-off", time.Minute, 30 * time.Second, true},
		{"after the back-off", time.Minute, 61 * time.Second, false},
		{"only Reconnect", -1, time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{RetryRefusedAfter: tc.retry, MCPURL: "http://127.0.0.1:1/mcp", DataDir: t.TempDir()}
			if err := cfg.setDefaults(); err != nil {
				t.Fatal(err)
			}
			s := &Server{cfg: cfg, conns: map[string]*connection{}}
			s.now = func() time.Time { return now }
			c := s.connectionFor("sid")
			c.refused, c.refusedAt = refusal, now
			s.now = func() time.Time { return now.Add(tc.elapsed) }
			_, _, err := s.mcpSession(t.Context(), "sid")
			var re *oauth2.RetrieveError
			stopped := errors.As(err, &re) && re == refusal
			if stopped != tc.stillStop {
				t.Fatalf("after %s with RetryRefusedAfter %s: err = %v, want the stored refusal: %v", tc.elapsed, tc.retry, err, tc.stillStop)
			}
		})
	}
}
