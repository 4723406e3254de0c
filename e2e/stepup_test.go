package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/idp/server"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// Step-up (ID-JAG draft "Step-Up Authentication", RFC 9470) through the four
// parties: the connection needs a sign-in at most a second old; when Agent0's
// access token expires, its re-exchange is refused with
// insufficient_user_authentication, so Agent0 sends Alice back to Acme's
// login form (prompt=login); after she signs in again the todo goes through.
func TestAgent0StepUp(t *testing.T) {
	sb := start(t, sandbox.Options{AccessTokenTTL: 2 * time.Second, ClockSkew: time.Second})
	c := ctx(t)
	alice := webclient.New()
	page, err := alice.SignIn(c, sb.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access")
	maxAge := int64(1)
	if _, err := sb.IdP.UpdateConnection(context.Background(), "test", "mc_agent0_todo0", server.ConnectionInput{MaxAuthAge: &maxAge}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // the access token and the sign-in's freshness both run out
	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"after step-up"}})
	if err != nil {
		t.Fatal(err)
	}
	// Back at Acme's login form, asked for a fresh sign-in.
	if !strings.Contains(page.Body, `name="password"`) || !strings.HasPrefix(page.URL.String(), sb.IdPURL) {
		t.Fatalf("after the step-up demand the browser is at %s (HTTP %d), want Acme's login form:\n%.600s", page.URL, page.Status, page.Body)
	}
	// (Alice still has an Acme session: only prompt=login makes Acme ask again.)
	page, err = alice.SubmitForm(c, page, "/login", url.Values{"username": {"alice"}, "password": {"alice-demo"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access")
	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"after step-up"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "after step-up", "Added")
	recs, err := sb.IdP.QueryAudit(context.Background(), server.AuditFilter{Event: "token_exchange", Outcome: "denied", Limit: 5})
	if err != nil || len(recs) == 0 || recs[0].Error != "insufficient_user_authentication" {
		t.Fatalf("no step-up refusal in the audit log: %+v (%v)", recs, err)
	}
}
