package scenarios

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTargetRestores: against running parties (--target) a scenario leaves
// them as it found them: the faults that were active before are active again
// and the todos it created are gone.
func TestTargetRestores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	target, stop, err := startShared(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	r := &run{t: target, hc: httpClientForTest()}
	scs, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Scenario{}
	for _, sc := range scs {
		byName[sc.Name] = sc
	}
	play := func(sc *Scenario) {
		t.Helper()
		if rep := Play(ctx, []*Scenario{sc}, Options{Target: target})[0]; !rep.Passed {
			t.Fatalf("%s: %s", rep.Name, rep.Problem)
		}
	}

	play(byName["happy-path"]) // creates "buy milk"
	// A scenario that only reads: alice has no todos left.
	check, err := Parse("check.yaml", []byte(`title: alice's todos
teaches: what is left
steps:
  - sign_in: alice
  - exchange: {}
  - redeem: {}
  - call_tool: {tool: list_todos}
    expect: {result_contains: '"todos":[]'}
`))
	if err != nil {
		t.Fatal(err)
	}
	play(check)

	if resp, _, err := r.setFaults(ctx, "mcp", []string{"prm.omit"}); err != nil || resp.Status != 200 {
		t.Fatalf("switching a fault on: %v %v", err, resp)
	}
	play(byName["faults-mcp-prm"])
	if got, err := r.activeFaults(ctx, "mcp"); err != nil || strings.Join(got, ",") != "prm.omit" {
		t.Fatalf("faults at Todo0 MCP after the scenario = %v (%v), want the one active before", got, err)
	}
}

// TestGlobalChanges: what play --target asks --yes for.
func TestGlobalChanges(t *testing.T) {
	scs, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sc := range scs {
		var parts []string
		for _, c := range GlobalChanges(sc) {
			parts = append(parts, c.String())
		}
		got[sc.Name] = strings.Join(parts, "; ")
	}
	for name, want := range map[string]string{
		"wrong-typ":           "",
		"user-deactivated":    "Acme admin: deactivate the user alice (restored afterwards)",
		"idp-session-revoked": "cannot be undone",
		"key-rotation":        "", // a setup of its own: skipped with --target
		"faults-todo0-as":     "switch faults at Todo0 (restored afterwards)",
		"happy-path":          "create todos at Todo0 (restored afterwards)",
		// needs a sandbox of its own, so --target skips it
		"revocation-with-shared-signals": "",
	} {
		if want == "" && got[name] != "" || !strings.Contains(got[name], want) {
			t.Errorf("%s: changes %q, want %q", name, got[name], want)
		}
	}
}

func httpClientForTest() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
