package e2e

import (
	"context"
	"net/url"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/idp/server"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
)

// Agent0 with DPoP on, through all four real parties (ID-JAG draft
// "Proof-of-Possession", RFC 9449): the IdP binds the ID-JAG to Agent0's key
// (audited), Todo0's AS binds the access token, and Todo0 MCP accepts it
// only with proofs, so a tool call that succeeds proves the whole chain.
func TestAgent0WithDPoP(t *testing.T) {
	sb := start(t, sandbox.Options{Agent0DPoP: true})
	c := ctx(t)
	alice := webclient.New()
	page, err := alice.SignIn(c, sb.Agent0URL+"/login", "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "Todo0 connected via Cross App Access")
	page, err = alice.SubmitForm(c, page, "/todos", url.Values{"title": {"bound to a key"}})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, page, "bound to a key", "Added")
	recs, err := sb.IdP.QueryAudit(context.Background(), server.AuditFilter{Event: "token_exchange", Outcome: "granted", Limit: 10})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no granted exchange (%v)", err)
	}
	for _, r := range recs {
		if jkt, _ := r.Detail["dpop_jkt"].(string); len(jkt) != 43 {
			t.Fatalf("exchange %d was not DPoP-bound: %+v", r.ID, r.Detail)
		}
	}
}
