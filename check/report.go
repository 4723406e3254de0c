// Package check judges someone else's implementation against the rules the
// sandbox enforces: a resource authorization server that redeems ID-JAGs
// (AS), and an MCP server protecting its tools with the tokens of an
// authorization server (MCP). Each checker sends a correct request first,
// then one request per rule with exactly one thing wrong, and reports every
// rule: what was expected, what came back, the verdict and the spec section.
//
// A Report is written as narration for people (WriteText), JSON (WriteJSON)
// or JUnit XML for CI (WriteJUnit); Report.Failed says whether any MUST
// failed.
package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Verdict is the outcome of one rule.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// Skip: the rule could not be checked (a precondition failed, or the
	// implementation does not offer what the rule is about).
	Skip Verdict = "skip"
)

// Level is how strongly the spec states a rule (RFC 2119).
type Level string

// Levels.
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Result is one rule's outcome.
type Result struct {
	// ID names the rule stably (e.g. "as.idjag.typ-jwt"); tests and CI use it.
	ID string `json:"id"`
	// Title says the rule in a sentence.
	Title string `json:"title"`
	// Spec is the section the rule comes from (e.g. "IDJAG 4.4.1").
	Spec     string  `json:"spec"`
	Level    Level   `json:"level"`
	Expected string  `json:"expected"`
	Got      string  `json:"got"`
	Verdict  Verdict `json:"verdict"`
	// Detail helps fixing a failure (the error_description, what was sent).
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of one checker run.
type Report struct {
	// Checker is "as" or "mcp".
	Checker string `json:"checker"`
	// Target is the implementation under test (its issuer or resource URL).
	Target string `json:"target"`
	// Setup says what the implementation had to be configured with.
	Setup    []string      `json:"setup,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Results  []Result      `json:"results"`
}

// Result returns the result with id, or nil.
func (r *Report) Result(id string) *Result {
	for i := range r.Results {
		if r.Results[i].ID == id {
			return &r.Results[i]
		}
	}
	return nil
}

// Failed reports whether any MUST rule failed: the exit status of a check.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Verdict == Fail && res.Level == Must {
			return true
		}
	}
	return false
}

// Counts returns how many results have each verdict.
func (r *Report) Counts() map[Verdict]int {
	n := map[Verdict]int{}
	for _, res := range r.Results {
		n[res.Verdict]++
	}
	return n
}

// WriteText narrates the report for a person: each rule with its verdict,
// and for every failure what was expected, what came back and why it matters.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "check %s: %s\n", r.Checker, r.Target)
	if len(r.Setup) > 0 {
		b.WriteString("\nSetup:\n")
		for _, s := range r.Setup {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	b.WriteString("\n")
	for _, res := range r.Results {
		mark := map[Verdict]string{Pass: "PASS", Fail: "FAIL", Skip: "SKIP"}[res.Verdict]
		if res.Verdict == Fail && res.Level == Should {
			mark = "WARN"
		}
		fmt.Fprintf(&b, "%s  %s  [%s, %s %s]\n", mark, res.Title, res.ID, res.Level, res.Spec)
		if res.Verdict != Pass {
			fmt.Fprintf(&b, "        expected: %s\n        got:      %s\n", res.Expected, res.Got)
			if res.Detail != "" {
				fmt.Fprintf(&b, "        %s\n", res.Detail)
			}
		}
	}
	n := r.Counts()
	must := 0
	for _, res := range r.Results {
		if res.Verdict == Fail && res.Level == Must {
			must++
		}
	}
	fmt.Fprintf(&b, "\n%d rules: %d passed, %d failed (%d MUST, %d SHOULD), %d skipped (%s)\n", len(r.Results), n[Pass], n[Fail], must, n[Fail]-must, n[Skip], r.Duration.Round(time.Millisecond))
	if r.Failed() {
		b.WriteString("Result: FAIL (a MUST rule failed)\n")
	} else {
		b.WriteString("Result: PASS (every MUST rule that could be checked passed)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Passed bool `json:"passed"`
	}{r, !r.Failed()})
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one test case per rule. A
// failed SHOULD is reported in system-out, not as a failure, so CI fails
// exactly when Failed does.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{
		Name: "check " + r.Checker + " " + r.Target, Tests: len(r.Results),
		Time: fmt.Sprintf("%.3f", r.Duration.Seconds()), Timestamp: r.Started.UTC().Format(time.RFC3339),
	}
	for _, res := range r.Results {
		c := junitCase{Name: res.ID + ": " + res.Title, Classname: "check." + r.Checker}
		text := fmt.Sprintf("%s %s\nexpected: %s\ngot: %s\n%s", res.Level, res.Spec, res.Expected, res.Got, res.Detail)
		switch {
		case res.Verdict == Fail && res.Level == Must:
			s.Failures++
			c.Failure = &junitMessage{Message: res.Spec + ": expected " + res.Expected + ", got " + res.Got, Type: string(res.Level), Text: text}
		case res.Verdict == Fail:
			c.SystemOut = "WARNING (SHOULD not met)\n" + text
		case res.Verdict == Skip:
			s.Skipped++
			c.Skipped = &junitMessage{Message: res.Got, Text: text}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
