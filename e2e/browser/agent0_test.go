//go:build browser

package browser

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// idpAdmin calls the IdP's admin JSON API as the administrator would.
func idpAdmin(t *testing.T, sb *sandbox.Sandbox, path string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, sb.IdPURL+"/admin/api"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+demo.IdPAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP admin API POST %s: HTTP %d", path, resp.StatusCode)
	}
}

var stepsRe = regexp.MustCompile(`(\d+) HTTP exchanges so far`)

// steps is how many exchanges the connections panel says the inspector holds.
func steps(t *testing.T, p *Person) int {
	t.Helper()
	m := stepsRe.FindStringSubmatch(p.Text("#connections"))
	if m == nil {
		t.Fatalf("the connections panel does not count the inspector's steps: %s", p.Text("#connections"))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// shortTokens makes access tokens expire in 2 s (with 1 s of clock skew at
// every party), so a conversation of a few seconds outlives one.
var shortTokens = sandbox.Options{AccessTokenTTL: 2 * time.Second, ClockSkew: time.Second}

const accessTokenGone = 3500 * time.Millisecond // TTL + skew + margin

// TestAgent0ChatInspectorRefusal is issue 6's browser scenario: alice adds a
// todo by chat, sees the exchanges in the flow inspector and the todo on
// Todo0's page; the admin deactivates her at the IdP; Agent0's next request
// (the access token having expired) is refused by the IdP and the page says
// so plainly, and Agent0 then stops calling until she reconnects.
func TestAgent0ChatInspectorRefusal(t *testing.T) {
	t.Parallel()
	sb := StartSandbox(t, shortTokens)
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	alice.MustContain("todos.read", "todos.write") // granted scopes

	alice.Say("add buy milk")
	alice.WaitText("#chat", "Added “buy milk”")
	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 1 todo in")

	// The inspector: the protocol steps, masked, with decoded JWTs.
	alice.Go(sb.Agent0URL + "/inspector")
	alice.MustContain(
		"Authorization code → ID token (sign-in)",
		"Protected resource metadata (RFC 9728)",
		"Token exchange (RFC 8693): ID token → ID-JAG",
		"JWT bearer grant (RFC 7523): ID-JAG → access token",
		"MCP tools/call create_todo",
		"Reveal tokens",
	)
	for _, lane := range []string{"IdP", "Agent0", "Todo0 AS", "Todo0 MCP"} {
		if !strings.Contains(alice.Text("#sequence svg"), lane) {
			t.Fatalf("the sequence diagram has no %s lane", lane)
		}
	}
	alice.Click(`details[data-title^="Token exchange"] summary`)
	alice.WaitText(`details[data-title^="Token exchange"]`, "Decoded ID-JAG")
	exch := alice.Text(`details[data-title^="Token exchange"]`)
	for _, want := range []string{"oauth-id-jag+jwt", "masked", "‹client secret: never shown›"} {
		if !strings.Contains(exch, want) {
			t.Fatalf("the token exchange step does not show %q:\n%s", want, exch)
		}
	}
	// Revealing is explicit, and client secrets stay hidden even then.
	alice.Click("#reveal")
	alice.MustContain("Tokens and codes are revealed")
	for _, secret := range []string{demo.Agent0IdPClientSecret, demo.Agent0Todo0ClientSecret} {
		if strings.Contains(alice.HTML(), secret) {
			t.Fatal("the inspector shows one of Agent0's client secrets")
		}
	}

	// Todo0's own page: the same todo, created by the agent for her.
	if alice.SignIn(sb.Todo0URL+"/login", "alice", "alice-demo") {
		t.Fatal("Todo0 asked for a password again; SSO should reuse the Acme session")
	}
	alice.MustContain("buy milk", "created by agent")

	// The administrator deactivates alice at the IdP.
	idpAdmin(t, sb, "/users/00u_alice/deactivate")
	time.Sleep(accessTokenGone)

	alice.Go(sb.Agent0URL + "/")
	alice.Say("show my todos")
	alice.WaitText("#chat", "Refused by your administrator")
	alice.WaitText("#conn-title", "Refused by your administrator")
	alice.WaitText("#conn-error", "access_denied")
	alice.MustContain("deactivated")

	// A refusal stops further calls: the next request makes no exchange.
	before := steps(t, alice)
	alice.Say("show my todos")
	alice.WaitText("#conn-title", "Refused by your administrator")
	if after := steps(t, alice); after != before {
		t.Fatalf("after the refusal Agent0 made %d more HTTP exchanges; it should stop calling", after-before)
	}

	// Reactivated and reconnected, she is back.
	idpAdmin(t, sb, "/users/00u_alice/reactivate")
	alice.Click("#reconnect")
	alice.WaitText("#conn-title", "Todo0 connected via Cross App Access")
	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 1 todo in")
}

// TestAccessTokenExpiryReExchange: with a 2-second access token, a normal
// conversation outlives it, and Agent0 re-exchanges silently (checklist: a
// 401 from the MCP server starts a new token exchange; the user sees no
// prompt), which the inspector shows.
func TestAccessTokenExpiryReExchange(t *testing.T) {
	t.Parallel()
	// The ID token is short too: before the re-exchange Agent0 renews it
	// with the IdP refresh token (a subject token must not be expired).
	o := shortTokens
	o.IDTokenTTL = 2 * time.Second
	sb := StartSandbox(t, o)
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	alice.Say("add water the plants")
	alice.WaitText("#chat", "Added “water the plants”")
	time.Sleep(accessTokenGone)
	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 1 todo in")
	alice.MustNotContain("Refused", "could not")

	alice.Go(sb.Agent0URL + "/inspector")
	alice.MustContain("Silent re-exchange: Token exchange (RFC 8693)", "Refresh grant: renew the expired ID token")
	if n, _ := strconv.Atoi(alice.Text("#silent-count")); n < 1 {
		t.Fatalf("the inspector counts %d silent re-exchanges, want at least 1", n)
	}
}

// TestTwoUsersOwnTodos: two people in two browsers (separate cookie jars)
// each see only their own todos through Agent0.
func TestTwoUsersOwnTodos(t *testing.T) {
	t.Parallel()
	sb := StartSandbox(t, sandbox.Options{})
	idpAdmin(t, sb, "/users/00u_carol/reactivate") // seeded inactive
	alice, carol := NewPerson(t, "alice"), NewPerson(t, "carol")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	carol.SignIn(sb.Agent0URL+"/login", "carol", "carol-demo")
	alice.MustContain("Alice Anderson")
	carol.MustContain("Carol Chen")

	alice.Say("add alice's secret plan")
	alice.WaitText("#chat", "Added")
	carol.Say("add carol's groceries")
	carol.WaitText("#chat", "Added")

	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 1 todo in")
	carol.Say("show my todos")
	carol.WaitText("#chat", "You have 1 todo in")
	if got := alice.Text("#chat"); strings.Contains(got, "carol's groceries") {
		t.Fatalf("alice sees carol's todo:\n%s", got)
	}
	if got := carol.Text("#chat"); strings.Contains(got, "alice's secret plan") || !strings.Contains(got, "carol's groceries") {
		t.Fatalf("carol's list is wrong:\n%s", got)
	}
}
