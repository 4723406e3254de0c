package check_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/check"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

func startSandbox(t *testing.T) (*sandbox.Sandbox, string) {
	t.Helper()
	dir := t.TempDir()
	sb, err := sandbox.Start(context.Background(), sandbox.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, dir
}

func sandboxIdP(t *testing.T, sb *sandbox.Sandbox, dataDir string) check.Signer {
	t.Helper()
	p, err := check.LoadSigner(context.Background(), sb.IdPURL, filepath.Join(dataDir, "idp"), "idp.db")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The sandbox's own Todo0 authorization server follows every rule the
// checker knows, so every rule passes.
func TestASAgainstTodo0(t *testing.T) {
	sb, dir := startSandbox(t)
	// Agent0's own key, which Todo0 knows from Agent0's JWKS, for private_key_jwt.
	agent0, err := check.LoadSigner(context.Background(), "", filepath.Join(dir, "agent0"), "agent0.db")
	if err != nil {
		t.Fatal(err)
	}
	c := check.AS{
		Issuer: sb.Todo0URL, ClientID: demo.Agent0Todo0ClientID, ClientSecret: demo.Agent0Todo0ClientSecret, ClientKey: agent0.Key,
		Resource: sb.MCPResource, Scope: "todos.read", IdP: sandboxIdP(t, sb, dir),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rep.Results {
		if res.Verdict != check.Pass {
			t.Errorf("%s (%s): %s; expected %s, got %s; %s", res.ID, res.Spec, res.Verdict, res.Expected, res.Got, res.Detail)
		}
	}
	if rep.Failed() {
		t.Error("Failed() = true against Todo0")
	}
	if len(rep.Results) < 40 {
		t.Errorf("only %d rules checked", len(rep.Results))
	}
	// The checker adapted to every method the metadata lists.
	for _, id := range []string{"as.redeem.auth-client_secret_post", "as.redeem.auth-private_key_jwt", "as.client.wrong-key-private_key_jwt", "as.client.unknown-private_key_jwt"} {
		if rep.Result(id) == nil {
			t.Errorf("rule %s was not checked", id)
		}
	}
	if testing.Verbose() {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Log(b.String())
	}
}

// A vendor behaviour switched on in the sandbox's Todo0 AS shows up in the
// checker as exactly the rules it bends: the checker measures what the
// quirks claim. conformance-mock also limits client authentication to
// Basic, which the checker reads from the metadata and adapts to.
func TestASAgainstTodo0WithQuirks(t *testing.T) {
	q, err := quirks.Parse("conformance-mock,ignore-resource")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb, err := sandbox.Start(context.Background(), sandbox.Options{DataDir: dir, Quirks: q})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rep, err := (&check.AS{Issuer: sb.Todo0URL, ClientID: demo.Agent0Todo0ClientID, ClientSecret: demo.Agent0Todo0ClientSecret,
		Resource: sb.MCPResource, Scope: "todos.read", IdP: sandboxIdP(t, sb, dir)}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, res := range rep.Results {
		if res.Verdict != check.Pass {
			failed = append(failed, res.ID)
		}
	}
	want := []string{"as.idjag.aud-trailing-slash", "as.idjag.resource-foreign", "as.idjag.jti-replay", "as.idjag.jti-replay-race"}
	slices.Sort(failed)
	slices.Sort(want)
	if !slices.Equal(failed, want) {
		t.Errorf("rules not passed: %v\nwant exactly:      %v", failed, want)
	}
	if rep.Result("as.redeem.auth-client_secret_post") != nil || rep.Result("as.client.wrong-secret-client_secret_post") != nil {
		t.Error("the checker used client_secret_post, which the metadata no longer lists")
	}
}
