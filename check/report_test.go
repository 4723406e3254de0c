package check_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/check"
)

func sampleReport() *check.Report {
	return &check.Report{Checker: "as", Target: "https://as.example", Results: []check.Result{
		{ID: "as.redeem.ok", Title: "a correct ID-JAG is redeemed", Spec: "IDJAG 4.4", Level: check.Must, Expected: "200", Got: "200, a token was issued", Verdict: check.Pass},
		{ID: "as.idjag.typ-jwt", Title: `typ "JWT" is refused`, Spec: "IDJAG 4.4.1", Level: check.Must, Expected: "400 invalid_grant", Got: "200, a token was issued", Verdict: check.Fail, Detail: "the server issued a token"},
		{ID: "as.idjag.iat-old", Title: "an old ID-JAG is refused", Spec: "RFC 7523 3", Level: check.Should, Expected: "400 invalid_grant", Got: "200, a token was issued", Verdict: check.Fail},
		{ID: "as.redeem.resource-audience", Title: "audience-restricted", Spec: "RFC 8707", Level: check.Should, Expected: "aud", Got: "opaque", Verdict: check.Skip},
	}}
}

// A failed MUST fails the run; a failed SHOULD is a warning only.
func TestReportFailed(t *testing.T) {
	r := sampleReport()
	if !r.Failed() {
		t.Error("a failed MUST must fail the report")
	}
	r.Results[1].Verdict = check.Pass
	if r.Failed() {
		t.Error("a failed SHOULD alone must not fail the report")
	}
}

func TestReportWriters(t *testing.T) {
	r := sampleReport()
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL  typ \"JWT\" is refused", "expected: 400 invalid_grant", "WARN  an old ID-JAG", "SKIP  audience-restricted", "Result: FAIL"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Passed  bool           `json:"passed"`
		Results []check.Result `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Passed || len(back.Results) != 4 || back.Results[1].Verdict != check.Fail {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	var ju bytes.Buffer
	if err := r.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
		t.Fatalf("JUnit is not XML: %v\n%s", err, ju.String())
	}
	s := suites.Suites[0]
	if s.Tests != 4 || s.Failures != 1 || s.Skipped != 1 || s.Cases[1].Failure == nil || s.Cases[2].Failure != nil {
		t.Errorf("JUnit counts: %+v", s)
	}
}

func ExampleReport_WriteText() {
	r := &check.Report{Checker: "as", Target: "https://as.example", Results: []check.Result{
		{ID: "as.idjag.aud-other", Title: "an ID-JAG for another authorization server is refused", Spec: "IDJAG 4.4.1", Level: check.Must,
			Expected: "400 invalid_grant", Got: "200, a token was issued", Verdict: check.Fail, Detail: "the server issued a token for an assertion it must refuse"},
	}}
	r.WriteText(os.Stdout)
	// Output:
	// check as: https://as.example
	//
	// FAIL  an ID-JAG for another authorization server is refused  [as.idjag.aud-other, MUST IDJAG 4.4.1]
	//         expected: 400 invalid_grant
	//         got:      200, a token was issued
	//         the server issued a token for an assertion it must refuse
	//
	// 1 rules: 0 passed, 1 failed (1 MUST, 0 SHOULD), 0 skipped (0s)
	// Result: FAIL (a MUST rule failed)
}
