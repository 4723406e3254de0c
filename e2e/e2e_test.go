// Package e2e drives the whole sandbox, all four parties in-process on
// ephemeral loopback ports, the way a person and third-party clients would.
package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

func start(t *testing.T, o sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	sb, err := sandbox.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return sb
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustContain fails unless page holds every want.
func mustContain(t *testing.T, p *webclient.Page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("%s (HTTP %d) does not contain %q:\n%s", p.URL, p.Status, w, p.Body)
		}
	}
}

// TestWalkingSkeleton is the happy path of DESIGN.md: Alice signs in to
// Agent0, which connects to Todo0 MCP with no consent screen (token exchange
// -> ID-JAG -> jwt-bearer -> access token), adds a todo through an MCP tool,
// and Alice then sees that todo in Todo0 itself, as the same user.
func TestWalkingSkeleton(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	alice := webclient.New()

	page, err := alice.SignIn(c, sb.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access", "Alice Anderson")
	// One form (the Acme sign-in) and straight back to Agent0: no consent page.
	if got := page.URL.Scheme + "://" + page.URL.Host; got != sb.Agent0URL {
		t.Fatalf("after sign-in the browser is at %s, want Agent0", page.URL)
	}

	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"buy milk"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "buy milk", "Added")

	// Todo0 itself: same SSO (the Acme session signs her in without a form).
	page, err = alice.SignIn(c, sb.Todo0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Alice Anderson's todos", "buy milk", "created by agent", "agent0-at-todo0", "00u_alice")
	if strings.Contains(page.Body, `name="password"`) {
		t.Fatal("Todo0 sign-in asked for a password again; SSO should reuse the Acme session")
	}
}

// TestBobIsNotAssignedToTodo0 checks that the IdP refuses the exchange for a
// user who is not assigned to the resource app and that Agent0 says so.
func TestBobIsNotAssignedToTodo0(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	page, err := webclient.New().SignIn(c, sb.Agent0URL+"/login", "bob", "bob-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Refused by your administrator", "not assigned to Todo0")
}

// Todo0 MCP closes idle sessions; Agent0 notices the 404 and connects
// afresh, so the user's next action still works.
func TestAgent0ReconnectsAfterMCPSessionTimeout(t *testing.T) {
	sb := start(t, sandbox.Options{MCPSessionTimeout: 300 * time.Millisecond})
	c := ctx(t)
	alice := webclient.New()
	page, err := alice.SignIn(c, sb.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access")
	time.Sleep(time.Second) // longer than the MCP session timeout
	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"after the timeout"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "after the timeout", "Added")
}
