package server

import (
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/jwtverify"
)

func withDPoP(c *Config) { c.DPoP = true }

// RFC 9449 and the ID-JAG draft's proof-of-possession: with Config.DPoP,
// Agent0 sends a proof with the exchange and the jwt-bearer grant, and
// calls Todo0 MCP with the DPoP scheme and a proof carrying ath, all with
// one key; through a silent re-exchange too.
func TestClientDPoP(t *testing.T) {
	w := newFakeWorld(t, withDPoP)
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatal(err)
	}
	w.expireAccessTokens()
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	rs := w.requestsSince(0)
	keys := map[string]bool{}
	mcpWithToken := 0
	for _, r := range rs {
		k := r.kind()
		isToken := k == "idp token-exchange" || k == "as jwt-bearer"
		if !isToken && !strings.HasPrefix(r.Header.Get("Authorization"), dpop.Scheme+" ") {
			if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s went out as Bearer with DPoP on", k)
			}
			continue
		}
		if !isToken {
			mcpWithToken++
		}
		proof := r.Header.Get(dpop.Header)
		hdr, _, err := jwtverify.Peek(proof)
		if err != nil {
			t.Fatalf("%s carries no DPoP proof: %v", k, err)
		}
		jwk, _ := hdr["jwk"].(map[string]any)
		keys[jwk["x"].(string)] = true
	}
	if count(rs, "idp token-exchange") != 2 || count(rs, "as jwt-bearer") != 2 || mcpWithToken < 2 {
		t.Fatalf("the run did not cover two exchanges and bound MCP calls: %q", kinds(rs))
	}
	if len(keys) != 1 {
		t.Errorf("proofs used %d keys, want the connection's one", len(keys))
	}
	if len(w.dpopErrors) > 0 {
		t.Errorf("the fakes refused proofs: %q", w.dpopErrors)
	}
}

// ID-JAG draft: the client SHOULD check that the ID-JAG it got for a proof
// is bound to its key; an IdP that ignored the proof is not trusted further.
func TestClientRefusesUnboundIDJAG(t *testing.T) {
	w := newFakeWorld(t, withDPoP)
	w.dpopIgnored = true
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	_, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil)
	if err == nil || !strings.Contains(err.Error(), "not bound to Agent0's DPoP key") {
		t.Fatalf("err = %v, want the unbound ID-JAG refused", err)
	}
	if rs := w.requestsSince(0); count(rs, "as jwt-bearer") != 0 {
		t.Fatalf("the unbound ID-JAG was redeemed: %q", kinds(rs))
	}
}

// Off by default: no proofs, Bearer tokens.
func TestClientDPoPOffByDefault(t *testing.T) {
	w := newFakeWorld(t)
	sid := w.signIn(w.idToken(time.Hour), time.Now().Add(time.Hour), "rt-0")
	if _, err := w.agent0.callTool(t.Context(), sid, "list_todos", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range w.requestsSince(0) {
		if r.Header.Get(dpop.Header) != "" {
			t.Fatalf("%s carries a DPoP proof with DPoP off", r.kind())
		}
	}
}
