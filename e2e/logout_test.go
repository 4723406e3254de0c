package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// TestSignOutOfAcmeToo: switching users needs no private window. Agent0's
// "Sign out of Acme too" ends the Acme session through RP-initiated logout
// with an id_token_hint (at once), Todo0's through the confirmation page
// (it names itself by client_id); both come back to the app, and the next
// sign-in asks for a password, so bob can sign in where alice was.
// A sign-out without the page's CSRF token ends nothing (checklist 8.1).
func TestSignOutOfAcmeToo(t *testing.T) {
	sb := start(t, sandbox.Options{})
	c := ctx(t)
	b := webclient.New()
	home, err := b.SignIn(c, sb.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, home, "Alice Anderson", "Sign out of Acme too")

	// checklist 8.1: a sign-out without the CSRF token signs nobody out
	p, err := b.Post(c, sb.Agent0URL+"/logout", url.Values{"acme": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != 403 || !strings.Contains(p.Body, "nothing was signed out") {
		t.Fatalf("sign-out without CSRF: %d", p.Status)
	}
	if p, _ = b.Get(c, sb.Agent0URL+"/"); !strings.Contains(p.Body, "Alice Anderson") {
		t.Fatal("a refused sign-out signed alice out of Agent0")
	}

	// Agent0: out of Agent0, then the form that carries the ID token to Acme.
	p, err = b.SubmitForm(c, home, "/logout", url.Values{"acme": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, p, "Signed out of Agent0", "id_token_hint")
	if strings.Contains(p.URL.RawQuery, "id_token") {
		t.Fatalf("the ID token went into a URL: %s", p.URL)
	}
	p, err = b.SubmitForm(c, p, sb.IdPURL+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.URL.Scheme + "://" + p.URL.Host; got != sb.Agent0URL {
		t.Fatalf("after Acme's sign-out the browser is at %s, want back at Agent0", p.URL)
	}
	// The next sign-in asks for a password: bob can sign in in this browser.
	p, err = b.Get(c, sb.Agent0URL+"/login")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, p, `name="password"`)
	p, err = b.SubmitForm(c, p, "/login", url.Values{"username": {"bob"}, "password": {"bob-demo"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, p, "Bob Brown")

	// Todo0 (bob is not assigned to Todo0, so alice again): sign in there,
	// then sign out of Acme too through the confirmation page.
	b = webclient.New()
	p, err = b.SignIn(c, sb.Todo0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, p, "Alice Anderson", "Sign out of Acme too")
	// checklist 8.1 at Todo0 too: no CSRF token, nothing signed out.
	if refused, err := b.Post(c, sb.Todo0URL+"/logout", url.Values{"acme": {"1"}}); err != nil || refused.Status != 403 {
		t.Fatalf("Todo0 sign-out without CSRF: %v %v", err, refused)
	}
	if still, _ := b.Get(c, sb.Todo0URL+"/"); !strings.Contains(still.Body, "Alice Anderson") {
		t.Fatal("a refused sign-out signed alice out of Todo0")
	}
	p, err = b.SubmitForm(c, p, "/logout", url.Values{"acme": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, p, "Todo0</b> asks Acme to sign you out")
	p, err = b.SubmitForm(c, p, "/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.URL.Scheme + "://" + p.URL.Host; got != sb.Todo0URL {
		t.Fatalf("after Acme's sign-out the browser is at %s, want back at Todo0", p.URL)
	}
	if p, _ = b.Get(c, sb.Agent0URL+"/login"); !strings.Contains(p.Body, `name="password"`) {
		t.Fatal("Acme still signs alice in after signing out of Acme from Todo0")
	}
}
