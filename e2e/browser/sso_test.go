//go:build browser

package browser

import (
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestAgentTodoVisibleInTodo0 is the happy path in a real browser (issue 4's
// browser criterion): alice signs in at Agent0 once, Agent0 connects to
// Todo0 through Cross App Access with no consent screen, she has it add a
// todo; then in Todo0 itself single sign-on reuses her Acme session (no
// password asked) and the todo shows as created by the agent for her.
func TestAgentTodoVisibleInTodo0(t *testing.T) {
	t.Parallel()
	sb := StartSandbox(t, sandbox.Options{})
	alice := NewPerson(t, "alice")

	if !alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Acme did not ask a fresh browser for a password")
	}
	alice.MustContain("Todo0 connected via Cross App Access", "Alice Anderson")
	// One form (Acme's) and straight back to Agent0: no consent page.
	if u := alice.URL(); !strings.HasPrefix(u, sb.Agent0URL+"/") {
		t.Fatalf("after sign-in the browser is at %s, want Agent0", u)
	}

	alice.Say("add buy milk")
	alice.WaitText("#chat", "Added “buy milk”")

	if alice.SignIn(sb.Todo0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Todo0 sign-in asked for a password again; SSO should reuse the Acme session")
	}
	alice.MustContain("Alice Anderson's todos", "buy milk", "created by agent")
}
