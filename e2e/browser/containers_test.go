//go:build browser && containers

package browser

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestContainersBrowserHappyPath is the browser happy path against a sandbox
// running elsewhere (the compose demo in .ci/run; URLs in XAA_TARGET, as for
// `play --target`): alice signs in to Agent0, has it add a todo in the chat,
// and sees it in Todo0 through single sign-on.
func TestContainersBrowserHappyPath(t *testing.T) {
	urls := map[string]string{}
	for _, kv := range strings.Split(os.Getenv("XAA_TARGET"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		urls[k] = strings.TrimRight(v, "/")
	}
	if urls["agent0"] == "" || urls["todo0"] == "" {
		t.Fatalf("XAA_TARGET=%q: want agent0=URL and todo0=URL of the running sandbox", os.Getenv("XAA_TARGET"))
	}
	alice := NewPerson(t, "alice")
	alice.SignIn(urls["agent0"]+"/login", "alice", "alice-demo")
	alice.MustContain("Todo0 connected via Cross App Access", "Alice Anderson")
	if u := alice.URL(); !strings.HasPrefix(u, urls["agent0"]+"/") {
		t.Fatalf("after sign-in the browser is at %s, want Agent0", u)
	}
	item := fmt.Sprintf("buy milk %d", time.Now().UnixNano()%1000000)
	alice.Say("add " + item)
	alice.WaitText("#chat", "Added “"+item+"”")

	if alice.SignIn(urls["todo0"]+"/login", "alice", "alice-demo") {
		t.Fatal("Todo0 sign-in asked for a password again; SSO should reuse the Acme session")
	}
	alice.MustContain("Alice Anderson's todos", item, "created by agent")
}
