package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwks"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// A resource AS caches the IdP's JWKS and refetches on an unknown kid at
// most once per MinRefresh (checklist 3.3). An immediate rotation can
// therefore be refused there for up to MinRefresh; a rotation that publishes
// the key at least MinRefresh before signing with it is never refused.
func TestRotationPublishAhead(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SigningAlg = "ES256" })
	g := e.signIn("alice", demo.Agent0IdPClientID, "openid")
	const minRefresh = time.Second
	resourceAS := func() jwtverify.Verifier {
		return jwtverify.Verifier{Typ: oauth.TypIDJAG, Audience: e.todo0Audience(), Now: e.now,
			Issuers: map[string]jwtverify.KeySource{e.s.cfg.Issuer: &jwks.Remote{URL: e.ts.URL + "/oauth2/jwks", MinRefresh: minRefresh}}}
	}
	jag := func() string {
		r := e.post("/oauth2/token", e.exchangeForm(g.IDToken), agent0Basic)
		if r.Status != 200 {
			t.Fatalf("exchange: %d %s", r.Status, r.Body)
		}
		return r.str("access_token")
	}

	// Immediate rotation: the resource AS fetched the JWKS a moment ago, so
	// the first ID-JAG under the new kid is refused.
	as := resourceAS()
	if _, err := as.Verify(context.Background(), jag()); err != nil {
		t.Fatal(err)
	}
	e.mustAdmin("POST", "/keys/rotate", nil)
	if _, err := as.Verify(context.Background(), jag()); !errors.Is(err, jwtverify.ErrKey) {
		t.Fatalf("immediate rotation: the new kid resolved without a refetch (%v); the test shows nothing", err)
	}

	// Publish ahead: the new key is in the JWKS before anything carries it.
	as = resourceAS()
	if _, err := as.Verify(context.Background(), jag()); err != nil {
		t.Fatal(err)
	}
	kv := e.mustAdmin("POST", "/keys/rotate", map[string]string{"publish_ahead": "2s"})
	pending, active := kv.str("pending_kid"), kv.str("active_kid")
	if pending == "" || pending == active {
		t.Fatalf("rotate with publish_ahead: %s", kv.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	sawNew := false
	for time.Now().Before(deadline) && !sawNew {
		tok := jag()
		hdr, _ := peek(t, tok)
		sawNew = hdr["kid"] == pending
		if _, err := as.Verify(context.Background(), tok); err != nil {
			t.Fatalf("ID-JAG with kid %v refused during a published-ahead rotation: %v", hdr["kid"], err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !sawNew {
		t.Fatalf("the pending key %s never started signing", pending)
	}
	for _, bad := range []any{map[string]string{"publish_ahead": "soon"}, map[string]string{"publish_ahead": "-1s"}, map[string]string{"publish_ahead": "48h"}, map[string]int{"other": 1}} {
		if r := e.admin("POST", "/keys/rotate", bad); r.Status != 400 || r.str("error") != oauth.ErrInvalidRequest {
			t.Fatalf("rotate %v: %d %s", bad, r.Status, r.Body)
		}
	}
}
