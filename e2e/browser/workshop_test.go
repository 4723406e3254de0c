//go:build browser

package browser

import (
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestWorkshopFirstFourExercises walks exercises 1-4 of docs/workshop.md in
// ONE browser profile, as a learner on one laptop would: no private window.
// The admin console keeps its own session (checklist 8.4), so the admin's
// sign-in does not sign alice out; "Sign out of Acme too" (RP-initiated
// logout, checklist 8.2) lets bob and carol sign in where alice was.
func TestWorkshopFirstFourExercises(t *testing.T) {
	sb := StartSandbox(t, sandbox.Options{})
	me := NewPerson(t, "learner")

	// 1. The happy path by hand: alice adds a todo through Agent0 and sees it
	// in Todo0, signed in there by the same Acme session.
	if !me.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Acme did not ask alice for her password")
	}
	me.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	me.Say("add buy milk")
	me.WaitText("#chat", "buy milk")
	if me.SignIn(sb.Todo0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Todo0 asked for a password although alice has an Acme session")
	}
	me.MustContain("buy milk", "agent0-at-todo0")

	// 2. Read an ID-JAG: the flow inspector shows the exchange and the
	// decoded ID-JAG: its typ and the client_id at Todo0.
	me.Go(sb.Agent0URL + "/inspector")
	html := me.HTML()
	for _, want := range []string{"oauth-id-jag+jwt", "agent0-at-todo0", sb.Todo0URL} {
		if !strings.Contains(html, want) {
			t.Fatalf("the inspector does not show %q", want)
		}
	}

	// 3. The admin is the consent: the admin signs in to the console in this
	// same browser and disables the managed connection.
	me.Go(sb.IdPURL + "/admin")
	me.Fill(`input[name="username"]`, "admin")
	me.Fill(`input[name="password"]`, "admin-demo")
	me.Submit(`form[action="/admin/login"]`)
	me.WaitText("header", "Sign out admin")
	me.Go(sb.IdPURL + "/admin/connections")
	me.Click(`#conn-mc_agent0_todo0 input[name="enabled"]`)
	me.Click(`#conn-mc_agent0_todo0 form[action="/admin/do/connection.update"] button`)
	me.WaitText(".msg", "What happens next")
	me.MustContain("refused from now on", "stay valid at Todo0 until they expire")
	// Alice is still signed in to Agent0: the admin's sign-in did not replace her session.
	me.Go(sb.Agent0URL + "/")
	me.MustContain("Alice Anderson")
	me.MustNotContain("Sign in with Acme SSO")
	me.Click("#reconnect")
	me.WaitText("#conn-title", "Refused")
	me.WaitText("#conn-error", "access_denied")
	me.WaitText("#exchanges", "refused") // the refused attempt counts
	me.WaitText("#access-exp", "still valid at Todo0 until")
	if me.Exists("#access-exp time.countdown") {
		t.Fatal("a refused panel shows a live countdown")
	}
	// Re-enable the connection before the next exercise.
	me.Go(sb.IdPURL + "/admin/connections")
	me.Click(`#conn-mc_agent0_todo0 input[name="enabled"]`)
	me.Click(`#conn-mc_agent0_todo0 form[action="/admin/do/connection.update"] button`)
	me.WaitText(".msg", "Managed connection saved")

	// 4. Who may go where: sign out of Agent0 and of Acme, then bob.
	me.Go(sb.Agent0URL + "/")
	me.Click(`button[name="acme"]`)
	me.WaitText("body", "Sign in with Acme SSO")
	if !me.SignIn(sb.Agent0URL+"/login", "bob", "bob-demo") {
		t.Fatal("after signing out of Acme, Acme did not ask for a password")
	}
	me.WaitText("header", "Bob Brown")
	me.WaitText("#conn-title", "Refused")
	me.WaitText("#conn-error", "access_denied")
	me.MustContain("not assigned")
	// And carol, who is deactivated: Acme refuses her sign-in.
	me.Click(`button[name="acme"]`)
	me.WaitText("body", "Sign in with Acme SSO")
	if !me.SignIn(sb.Agent0URL+"/login", "carol", "carol-demo") {
		t.Fatal("Acme did not ask carol for her password")
	}
	me.MustContain("deactivated")
	// The admin console session lived through all of it.
	me.Go(sb.IdPURL + "/admin/users")
	me.WaitText("header", "Sign out admin")
}
