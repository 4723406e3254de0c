package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/scenarios"
)

// checklistDoc is the project's rule list; code, docs, scenarios and pages
// cite its ids as "checklist ID".
const checklistDoc = "docs/spec-checklist.md"

var (
	ruleAnchor = regexp.MustCompile(`<a id="rule-([0-9.]+)"></a>`)
	testLink   = regexp.MustCompile("\\[`((?:Test|Fuzz|Example)\\w*)`\\]\\(([^)]+)\\)")
	citation   = regexp.MustCompile(`(?i)\bchecklist (?:sections? )?(\d+(?:\.\d+)*)`)
	// A citation of a checklist that is not in the repository.
	outside = regexp.MustCompile(`SPEC-` + `CHECKLIST|(?i:\bspec checklist\b)`)
	leading = regexp.MustCompile(`^(\d+(?:\.\d+)*)\b`)
)

// checklistRules reads the rule ids of docs/spec-checklist.md and, per id,
// the tests it links to.
func checklistRules(t *testing.T) map[string][][2]string {
	t.Helper()
	b, err := os.ReadFile(checklistDoc)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][][2]string{}
	var current string
	for _, line := range strings.Split(string(b), "\n") {
		if m := ruleAnchor.FindStringSubmatch(line); m != nil {
			if _, dup := rules[m[1]]; dup {
				t.Errorf("%s: rule %s defined twice", checklistDoc, m[1])
			}
			current = m[1]
			rules[current] = nil
			continue
		}
		if current == "" || !strings.HasPrefix(line, "Tests:") {
			continue
		}
		for _, m := range testLink.FindAllStringSubmatch(line, -1) {
			rules[current] = append(rules[current], [2]string{m[1], m[2]})
		}
	}
	if len(rules) < 20 {
		t.Fatalf("%s: only %d rule ids found; the anchor format changed?", checklistDoc, len(rules))
	}
	return rules
}

// TestChecklistRulesLinkTests: every rule of the checklist links to at least
// one test, and each linked test exists in the file the link names (a renamed
// or deleted test breaks the link, and this test).
func TestChecklistRulesLinkTests(t *testing.T) {
	rules := checklistRules(t)
	for id, tests := range rules {
		// 7.9 lists rules not enforced yet; a section whose rules are
		// numbered (10 holding 10.1, ...) may leave the tests to them.
		if len(tests) == 0 && id != "7.9" && !hasSubRules(rules, id) {
			t.Errorf("checklist %s links to no test", id)
		}
		for _, tl := range tests {
			path := filepath.Join(filepath.Dir(checklistDoc), tl[1])
			src, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("checklist %s: link to %s: %v", id, tl[1], err)
				continue
			}
			if !regexp.MustCompile(`(?m)^func ` + tl[0] + `\(`).Match(src) {
				t.Errorf("checklist %s: %s has no func %s", id, path, tl[0])
			}
		}
	}
}

// TestChecklistCitationsResolve: every "checklist ID" cited anywhere in the
// repository (code, tests, error rules, docs, pages, scenario files) names a
// rule of docs/spec-checklist.md, and nothing cites a checklist outside it.
func TestChecklistCitationsResolve(t *testing.T) {
	rules := checklistRules(t)
	cited := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "artifacts") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".html", ".js", ".tmpl", ".txt":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for n, line := range strings.Split(string(b), "\n") {
			if path == "checklist_test.go" {
				break
			}
			if outside.MatchString(line) {
				t.Errorf("%s:%d cites a checklist outside the repository (use %s): %s", path, n+1, checklistDoc, strings.TrimSpace(line))
			}
			for _, m := range citation.FindAllStringSubmatch(line, -1) {
				cited++
				if _, ok := rules[m[1]]; !ok {
					t.Errorf("%s:%d cites checklist %s, which %s does not define", path, n+1, m[1], checklistDoc)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited < 50 {
		t.Fatalf("only %d citations found; the citation pattern no longer matches the code?", cited)
	}

	// Scenario files list the rules they cover in `checklist:`.
	cat, err := scenarios.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range cat {
		for _, entry := range sc.Checklist {
			m := leading.FindStringSubmatch(entry)
			if m == nil {
				t.Errorf("scenarios/%s.yaml: checklist entry %q does not start with a rule id", sc.Name, entry)
				continue
			}
			if _, ok := rules[m[1]]; !ok {
				t.Errorf("scenarios/%s.yaml: checklist entry %q: %s does not define %s", sc.Name, entry, checklistDoc, m[1])
			}
		}
	}
}

func hasSubRules(rules map[string][][2]string, id string) bool {
	for other := range rules {
		if strings.HasPrefix(other, id+".") {
			return true
		}
	}
	return false
}
