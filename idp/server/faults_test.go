package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// TestFaults switches each ID-JAG fault on through the admin API and checks
// that the minted ID-JAG is wrong in exactly the advertised way: the check a
// resource AS runs (checklist 3) fails with the expected error, while
// every other check still passes.
func TestFaults(t *testing.T) {
	e := newEnv(t)
	alice := e.signIn("alice", demo.Agent0IdPClientID, "openid offline_access")
	// What a resource AS would run (checklist 3.1-3.7).
	as := func() jwtverify.Verifier {
		return jwtverify.Verifier{Typ: oauth.TypIDJAG, Issuers: map[string]jwtverify.KeySource{e.s.cfg.Issuer: e.s.keys}, Audience: e.todo0Audience(),
			Skew: 30 * time.Second, Required: []string{"sub", "client_id", "jti", "iat", "exp"}, Now: e.now}
	}
	mint := func(t *testing.T) string {
		t.Helper()
		got := e.post("/oauth2/token", e.exchangeForm(alice.IDToken), agent0Basic)
		if got.Status != 200 {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		return got.str("access_token")
	}
	rows := []struct {
		fault string
		want  error  // what the AS verifier reports
		check string // or: claim that must differ
	}{
		{FaultWrongAud, jwtverify.ErrAudience, ""},        // checklist 3.4
		{FaultWrongTyp, jwtverify.ErrTyp, ""},             // checklist 3.1
		{FaultExpired, jwtverify.ErrExpired, ""},          // checklist 3.6
		{FaultMissingJTI, jwtverify.ErrMissingClaim, ""},  // checklist 3.7 / missing required claim
		{FaultUnpublishedKey, jwtverify.ErrKey, ""},       // checklist 3.3
		{FaultWrongClientID, nil, demo.Agent0IdPClientID}, // checklist 3.5: client_id is not the mapped one
	}
	for _, r := range rows {
		t.Run(r.fault, func(t *testing.T) {
			// Without the fault the ID-JAG is good.
			v := as()
			if _, err := v.Verify(context.Background(), mint(t)); err != nil {
				t.Fatalf("baseline ID-JAG fails: %v", err)
			}
			e.mustAdmin(http.MethodPut, "/faults", map[string]any{"active": []string{r.fault}})
			t.Cleanup(func() { e.mustAdmin(http.MethodPut, "/faults", map[string]any{"active": []string{}}) })
			raw := mint(t)
			tok, err := v.Verify(context.Background(), raw)
			if r.want != nil {
				if !errors.Is(err, r.want) {
					t.Fatalf("verify under %s: err = %v, want %v", r.fault, err, r.want)
				}
			} else if err != nil || tok.String("client_id") != r.check {
				t.Fatalf("verify under %s: err %v, client_id %q, want %q", r.fault, err, tok.String("client_id"), r.check)
			}
			rec := e.lastAudit(t, "token_exchange")
			if fs, _ := rec.Detail["faults"].([]any); len(fs) != 1 || fs[0] != r.fault {
				t.Errorf("audit does not record the active fault: %+v", rec.Detail)
			}
		})
	}

	t.Run("switchboard needs the admin token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/admin/api/faults", nil)
		if got := e.do(req); got.Status != 401 || got.str("error") != "invalid_token" {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
		got := e.mustAdmin(http.MethodGet, "/faults", nil)
		if known, _ := got.JSON["known"].([]any); len(known) != 6 {
			t.Fatalf("known faults: %s", got.Body)
		}
		if bad := e.admin(http.MethodPut, "/faults", map[string]any{"active": []string{"id_jag.nope"}}); bad.Status != 400 || bad.str("error") != "invalid_request" {
			t.Fatalf("unknown fault: %d %s", bad.Status, bad.Body)
		}
	})
}
