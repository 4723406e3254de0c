package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const head = "title: t\nteaches: x\n"

// TestParseErrors: a trainer's mistake is reported with the file, the line
// and the field, and a hint of what would be right.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		field      string
		msg        string
	}{
		{"no title", "teaches: x\nsteps:\n  - sign_in: alice\n", 1, "title", "is required"},
		{"no teaches", "title: t\nsteps:\n  - sign_in: alice\n", 1, "teaches", "is required"},
		{"no steps", head + "steps: []\n", 3, "steps", "at least one step"},
		{"unknown top field", head + "stepz:\n  - sign_in: alice\n", 3, "stepz", "unknown field"},
		{"typo in an action", head + "steps:\n  - sign_in: alice\n  - exchange: {audiance: x}\n", 5, "steps[2].exchange.audiance", "unknown field; known fields here: audience"},
		{"typo in expect", head + "steps:\n  - sign_in: alice\n    expect:\n      stauts: 400\n", 6, "steps[1].expect.stauts", "unknown field"},
		{"two actions", head + "steps:\n  - sign_in: alice\n    redeem: {}\n", 4, "steps[1]", "does one thing"},
		{"no action", head + "steps:\n  - explain: nothing\n", 4, "steps[1]", "needs one action"},
		{"bad party", head + "steps:\n  - faults: {party: todo1, active: []}\n", 4, "steps[1].faults.party", `"todo1" is not one of idp, todo0, mcp`},
		{"bad refuser", head + "steps:\n  - sign_in: alice\n    expect: {refused_by: okta}\n", 5, "steps[1].expect.refused_by", "not one of"},
		{"bad status", head + "steps:\n  - sign_in: alice\n    expect: {status: 42}\n", 5, "steps[1].expect.status", "not an HTTP status"},
		{"reply_contains without a chat message", head + "steps:\n  - agent0: {user: alice, action: sign_in}\n    expect: {reply_contains: [Added]}\n", 5, "steps[1].expect.reply_contains", "only an agent0 add_todo step"},
		{"bad duration", head + "setup:\n  id_jag_ttl: soon\nsteps:\n  - sign_in: alice\n", 4, "setup.id_jag_ttl", "want a duration"},
		{"bad short wait", head + "steps:\n  - wait: soon\n", 4, "", "want a duration"},
		{"bad sign mode", head + "steps:\n  - forge: {sign: magic}\n", 4, "steps[1].forge.sign", "not one of attacker"},
		{"bad admin action", head + "steps:\n  - admin: {action: nuke}\n", 4, "steps[1].admin.action", "not one of"},
		{"admin without user", head + "steps:\n  - admin: {action: deactivate_user}\n", 4, "steps[1].admin.user", "is required"},
		{"long wait", head + "steps:\n  - wait: 5m\n", 4, "steps[1].wait", "shorten the token lifetime"},
		{"unknown fault party", head + "setup:\n  faults: {agent0: [x]}\nsteps:\n  - sign_in: alice\n", 4, "setup.faults.agent0", "unknown party"},
		{"cleanup checked too", head + "steps:\n  - sign_in: alice\ncleanup:\n  - agent0: {user: alice, action: dance}\n", 6, "cleanup[1].agent0.action", "not one of"},
		// yaml.v3 reports where the construct around the mistake begins.
		{"yaml syntax", head + "steps:\n  - sign_in: alice\n\texpect: x\n", 4, "", "tab character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("case.yaml", []byte(tc.yaml))
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want a *LoadError, got %v", err)
			}
			if le.File != "case.yaml" || le.Line != tc.line || le.Field != tc.field || !strings.Contains(le.Msg, tc.msg) {
				t.Fatalf("got %q (line %d, field %q), want line %d field %q message containing %q", err, le.Line, le.Field, tc.line, tc.field, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "case.yaml:") {
				t.Fatalf("message %q does not start with the file name", err)
			}
		})
	}
}

// TestParseShortForms: the short forms a trainer can write.
func TestParseShortForms(t *testing.T) {
	sc, err := Parse("short.yaml", []byte(head+`steps:
  - sign_in: alice
  - wait: 1500ms
  - rotate_keys: idp
  - idp_logout: alice
  - sign_in: {user: bob, client: todo0}
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "short" || sc.Steps[0].SignIn.User != "alice" || sc.Steps[1].Wait.For != Duration(1500e6) ||
		sc.Steps[2].RotateKeys.Party != "idp" || sc.Steps[3].IdPLogout.User != "alice" || sc.Steps[4].SignIn.Client != "todo0" {
		t.Fatalf("short forms misread: %+v %+v %+v %+v", sc.Steps[0].SignIn, sc.Steps[1].Wait, sc.Steps[2].RotateKeys, sc.Steps[3].IdPLogout)
	}
	if sc.Steps[1].Line != 5 || sc.Steps[1].Kind != "wait" {
		t.Fatalf("step 2 at line %d kind %q", sc.Steps[1].Line, sc.Steps[1].Kind)
	}
}

// TestLoadDirCollectsEveryError: every broken file is reported, not just the first.
func TestLoadDirCollectsEveryError(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := writeFile(dir, name, body); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "title: a\n")
	write("b.yaml", head+"steps:\n  - sign_in: alice\n")
	write("c.yaml", head+"steps:\n  - bogus: 1\n")
	scs, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:1: teaches") || !strings.Contains(err.Error(), "c.yaml:4: steps[1].bogus") {
		t.Fatalf("err = %v", err)
	}
	if len(scs) != 1 || scs[0].Name != "b" {
		t.Fatalf("loaded %d scenarios", len(scs))
	}
}

func writeFile(dir, name, body string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
}

// TestSequenceOrderNamesTheCatalogue: the play order names every scenario
// of the catalogue (a new scenario gets its place in the sequence), and the
// happy path comes first.
func TestSequenceOrderNamesTheCatalogue(t *testing.T) {
	scs, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, n := range sequenceOrder {
		known[n] = true
	}
	for _, sc := range scs {
		if !known[sc.Name] {
			t.Errorf("scenario %s has no place in sequenceOrder", sc.Name)
		}
	}
	InSequenceOrder(scs)
	if scs[0].Name != "happy-path" {
		t.Fatalf("first scenario is %s", scs[0].Name)
	}
}
