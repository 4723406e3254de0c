//go:build browser

package browser

import (
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestInspectorLesson: the flow inspector groups the exchanges into the
// sequence's phases, each explained with its rules, and its lineage view
// shows the three tokens of one flow (ID token, ID-JAG, access token) with
// the claims that changed highlighted and explained.
func TestInspectorLesson(t *testing.T) {
	sb := StartSandbox(t, sandbox.Options{})
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	alice.Say("add buy milk")
	alice.WaitText("#chat", "buy milk")
	alice.Go(sb.Agent0URL + "/inspector")

	for _, phase := range []string{"Sign-in with Acme", "Discovery", "Token exchange at Acme", "Redemption at Todo0", "MCP calls"} {
		alice.WaitText("#timeline", phase)
	}
	alice.WaitText("#timeline", "checklist 3")
	lineage := alice.Text("#lineage")
	for _, want := range []string{"ID token", "ID-JAG", "access token", "oauth-id-jag+jwt", "at+jwt", "agent0-at-todo0", "expires in", sb.MCPResource} {
		if !strings.Contains(lineage, want) {
			t.Fatalf("the lineage view lacks %q:\n%s", want, lineage)
		}
	}
	// Changed claims are highlighted: typ changes twice, aud twice, client_id once.
	for sel, want := range map[string]string{
		"#lineage-typ td.changed mark":       "oauth-id-jag+jwt",
		"#lineage-aud td.changed mark":       sb.Todo0URL,
		"#lineage-client_id td.changed mark": "agent0-at-todo0",
	} {
		if got := alice.Text(sel); !strings.Contains(got, want) {
			t.Fatalf("%s = %q, want %q highlighted", sel, got, want)
		}
	}
	if !alice.Exists("#lineage-iss td.changed") || alice.Exists("#lineage-jti td.changed") {
		t.Fatal("iss should be marked as changed at Todo0, jti never")
	}
	// The diagram names the phases and every arrow carries its full title.
	if d := alice.Text("#sequence"); !strings.Contains(d, "EXCHANGE") && !strings.Contains(d, "exchange") {
		t.Fatalf("the diagram does not name the phases: %s", d)
	}
}
