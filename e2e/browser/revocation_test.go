//go:build browser

package browser

import (
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestRevocationStates shows revocation as a learner watches it. Without
// Shared Signals, after the administrator deactivates alice her live access
// token keeps working, and once Agent0 asks again the panel says it was
// refused and when that token ends (checklist 9.1). With Shared Signals the
// very next tool call is refused (checklist 9.2).
func TestRevocationStates(t *testing.T) {
	for _, ssf := range []bool{false, true} {
		name := "without shared signals"
		if ssf {
			name = "with shared signals"
		}
		t.Run(name, func(t *testing.T) {
			sb := StartSandbox(t, sandbox.Options{SharedSignals: ssf})
			alice := NewPerson(t, "alice")
			alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
			alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
			alice.Say("add call the plumber")
			alice.WaitText("#chat", "call the plumber")

			admin := NewPerson(t, "admin")
			admin.Go(sb.IdPURL + "/admin")
			admin.Fill(`input[name="username"]`, "admin")
			admin.Fill(`input[name="password"]`, "admin-demo")
			admin.Submit(`form[action="/admin/login"]`)
			admin.Click(`#user-alice button[name="deactivate"]`)
			admin.WaitText(".msg", "alice is deactivated")
			admin.MustContain("What happens next", "every new token exchange for alice is refused from now on")

			alice.Say("show my todos")
			if !ssf {
				// The access token is still live: the call works, the panel is honest about it.
				alice.WaitText("#chat", "You have 1 todo")
				alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
				alice.Click("#reconnect")
				alice.WaitText("#conn-title", "Refused by your administrator")
				alice.WaitText("#access-exp", "still valid at Todo0 until")
				alice.WaitText("#exchanges", "refused")
				if alice.Exists("#access-exp time.countdown") || alice.Exists("#idjag-exp") {
					t.Fatal("a refused panel shows live countdowns")
				}
				return
			}
			// Todo0 heard of it: the token is refused at once, Agent0 asks
			// Acme again and is refused too.
			alice.WaitText("#conn-title", "Refused by your administrator")
			alice.WaitText("#conn-error", "access_denied")
			alice.MustNotContain("You have 1 todo")
			admin.Go(sb.IdPURL + "/admin/audit?event=shared_signal")
			admin.MustContain("shared_signal", "ok")
		})
	}
}
