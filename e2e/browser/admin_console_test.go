//go:build browser

package browser

import (
	"testing"
	"time"
)

// TestAdminConsoleDeactivation is issue 3's browser scenario: the admin signs
// in to the Acme console (its own login form, no JavaScript needed) and
// deactivates alice; Agent0's next exchange for her is refused with
// access_denied and Agent0's page says so; the console's audit page shows the
// denial with its reason and rule. Reactivating her in the console restores
// access without anyone touching Agent0: no new sign-in, no configuration,
// no Reconnect; her next request after Agent0's back-off simply works.
func TestAdminConsoleDeactivation(t *testing.T) {
	opts := shortTokens
	opts.Agent0RetryRefusedAfter = 3 * time.Second // Agent0 asks the IdP again on its own after a refusal
	sb := StartSandbox(t, opts)
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	alice.Say("add call the plumber")
	alice.WaitText("#chat", "Added “call the plumber”")

	admin := NewPerson(t, "admin")
	admin.Go(sb.IdPURL + "/admin")
	admin.MustContain("Acme admin console")
	admin.Fill(`input[name="username"]`, "admin")
	admin.Fill(`input[name="password"]`, "admin-demo")
	admin.Submit(`form[action="/admin/login"]`)
	admin.WaitText("header", "Sign out admin")
	admin.WaitText("#user-alice .status", "active")

	// Deactivate alice (a same-origin form post with the session's CSRF token).
	admin.Click(`#user-alice button[name="deactivate"]`)
	admin.WaitText(".msg", "alice is deactivated")
	admin.WaitText("#user-alice .status", "deactivated")

	// Her access token expires; Agent0's re-exchange is refused by the IdP.
	time.Sleep(accessTokenGone)
	alice.Say("show my todos")
	alice.WaitText("#conn-title", "Refused by your administrator")
	alice.WaitText("#conn-error", "access_denied")
	alice.MustContain("deactivated")

	// The audit page shows the denial, with its reason and the rule.
	admin.Go(sb.IdPURL + "/admin/audit?user=alice&outcome=denied")
	admin.WaitText("table.audit", "token_exchange")
	admin.MustContain("denied", "access_denied", "user alice is deactivated", "checklist 1.3 user active")

	// Reactivate in the console. Nobody touches Agent0: alice's next request
	// after Agent0's back-off asks the IdP again, and the exchange succeeds.
	admin.Go(sb.IdPURL + "/admin/users")
	admin.Click(`#user-alice button[name="reactivate"]`)
	admin.WaitText(".msg", "alice is active again")
	time.Sleep(opts.Agent0RetryRefusedAfter)
	alice.Say("show my todos")
	alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 1 todo in")
	alice.MustNotContain("Sign in to continue") // no Acme password prompt

	// And the audit log has the admin's two changes, made in the console.
	admin.Go(sb.IdPURL + "/admin/audit?user=alice&event=admin.")
	admin.MustContain("admin.user.deactivate", "admin.user.reactivate", "console:admin")
}
