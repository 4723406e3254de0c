package server

import (
	"net/http"
	"testing"
)

// TestKnownUsersBounded: the set of users the service API found keeps at
// most its maximum, so callers naming many users cannot grow it without
// bound; a user beyond it is simply not remembered.
func TestKnownUsersBounded(t *testing.T) {
	k := newKnownUsers(2)
	for _, id := range []string{"a", "b", "c", "a"} {
		k.add(id)
	}
	if len(k.m) != 2 || !k.has("a") || !k.has("b") || k.has("c") {
		t.Fatalf("known users %v, want a and b only", k.m)
	}
}

// TestServiceAPIUnknownUserNotRemembered: a user the service API did not
// find is refused with 404 not_found and not remembered, so once the user
// signs in to Todo0 the same call succeeds; a user it found is remembered.
func TestServiceAPIUnknownUserNotRemembered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, _ := e.signIn("00u_alice", "alice@acme.example", "Alice Anderson")
	if resp, m := e.api(http.MethodGet, "/api/v1/users/t0u_nobody/todos", "", nil); resp.StatusCode != http.StatusNotFound || m["error"] != "not_found" {
		t.Fatalf("unknown user: %d %v, want 404 not_found", resp.StatusCode, m)
	}
	if e.s.knownUsers.has("t0u_nobody") {
		t.Error("an unknown user was remembered")
	}
	if resp, m := e.api(http.MethodGet, "/api/v1/users/"+alice+"/todos", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice: %d %v", resp.StatusCode, m)
	}
	if !e.s.knownUsers.has(alice) {
		t.Error("a user the API found was not remembered")
	}
}
