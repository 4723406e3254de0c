package scenarios

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Narrator receives each scenario's report when it finishes.
type Narrator interface {
	Scenario(*Report)
}

// Narrators fans a report out to several narrators.
type Narrators []Narrator

// Scenario implements Narrator.
func (ns Narrators) Scenario(r *Report) {
	for _, n := range ns {
		n.Scenario(r)
	}
}

// IsTerminal reports whether f is a terminal (colour is for terminals only;
// NO_COLOR turns it off).
func IsTerminal(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Text narrates for a terminal or a log: every request, response and
// decoded token, and a verdict per step. Brief prints one line per scenario.
type Text struct {
	W     io.Writer
	Color bool
	Brief bool
}

const (
	cReset = "\x1b[0m"
	cBold  = "\x1b[1m"
	cDim   = "\x1b[2m"
	cRed   = "\x1b[31m"
	cGreen = "\x1b[32m"
	cYel   = "\x1b[33m"
	cBlue  = "\x1b[34m"
	cCyan  = "\x1b[36m"
)

func (t *Text) c(code, s string) string {
	if !t.Color {
		return s
	}
	return code + s + cReset
}

// Scenario implements Narrator.
func (t *Text) Scenario(r *Report) {
	w := t.W
	verdict := t.c(cGreen+cBold, "PASS")
	switch {
	case r.Skipped != "":
		verdict = t.c(cYel+cBold, "SKIP")
	case !r.Passed:
		verdict = t.c(cRed+cBold, "FAIL")
	}
	if t.Brief {
		fmt.Fprintf(w, "%s  %-34s %s (%s)\n", verdict, r.Name, r.Title, r.Elapsed)
		if r.Skipped != "" {
			fmt.Fprintf(w, "      skipped: %s\n", r.Skipped)
		}
		if r.Problem != "" {
			fmt.Fprintf(w, "      %s\n", t.c(cRed, r.Problem))
		}
		return
	}
	fmt.Fprintf(w, "\n%s\n", t.c(cBold, strings.Repeat("━", 78)))
	fmt.Fprintf(w, "%s  %s\n", t.c(cBold, r.Title), t.c(cDim, "("+r.File+")"))
	for _, l := range wrap(r.Teaches, 76) {
		fmt.Fprintf(w, "  %s\n", t.c(cDim, l))
	}
	if r.Skipped != "" {
		fmt.Fprintf(w, "  %s skipped: %s\n", verdict, r.Skipped)
		return
	}
	for _, s := range r.Steps {
		t.step(w, s)
	}
	fmt.Fprintf(w, "\n%s %s (%s)\n", verdict, r.Name, r.Elapsed)
	if r.Problem != "" {
		fmt.Fprintf(w, "  %s\n", t.c(cRed, r.Problem))
	}
}

func (t *Text) step(w io.Writer, s *StepReport) {
	label := fmt.Sprintf("%d. %s", s.N, s.Kind)
	if s.Kind == "setup" {
		label = "setup"
	} else if s.Cleanup {
		label += " (cleanup)"
	}
	if s.Line > 0 {
		label += t.c(cDim, fmt.Sprintf("  line %d, %s", s.Line, s.Elapsed))
	}
	fmt.Fprintf(w, "\n%s\n", t.c(cBold+cBlue, label))
	for _, l := range wrap(s.Explain, 76) {
		fmt.Fprintf(w, "  %s\n", l)
	}
	for _, c := range s.Calls {
		fmt.Fprintf(w, "  %s %s %s\n", t.c(cCyan, "→"), t.c(cBold, c.Method), c.URL)
		if c.Auth != "" {
			fmt.Fprintf(w, "      Authorization: %s\n", c.Auth)
		}
		for _, p := range c.Params {
			if p[0] == "json" { // a JSON body, shown as JSON
				fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(p[1], "\n", "\n      "))
				continue
			}
			fmt.Fprintf(w, "      %s=%s\n", p[0], p[1])
		}
		switch {
		case c.Err != "":
			fmt.Fprintf(w, "  %s %s\n", t.c(cRed, "✗"), c.Err)
		case c.Status != 0:
			col := cGreen
			if c.Status >= 400 {
				col = cYel
			}
			fmt.Fprintf(w, "  %s %s %s\n", t.c(cCyan, "←"), t.c(col+cBold, fmt.Sprint(c.Status)), t.c(cDim, c.Elapsed))
		}
		for _, h := range c.Headers {
			fmt.Fprintf(w, "      %s: %s\n", h[0], h[1])
		}
		if c.Body != "" {
			for _, l := range strings.Split(c.Body, "\n") {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
		for _, d := range c.Tokens {
			t.token(w, d)
		}
	}
	for _, d := range s.Tokens {
		t.token(w, d)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "  %s %s\n", t.c(cDim, "·"), n)
	}
	if s.Kind == "wait" && s.Passed {
		return
	}
	if s.Passed {
		fmt.Fprintf(w, "  %s %s, as expected\n", t.c(cGreen, "✔"), s.Outcome)
	} else {
		fmt.Fprintf(w, "  %s expected: %s\n", t.c(cRed, "✘"), s.Expected)
		fmt.Fprintf(w, "    %s\n", t.c(cRed, s.Problem))
	}
	if s.Outcome.Description != "" && s.Passed {
		fmt.Fprintf(w, "    %s\n", t.c(cDim, s.Outcome.Description))
	}
}

func (t *Text) token(w io.Writer, d Decoded) {
	if d.Seen != "" {
		fmt.Fprintf(w, "      %s %s %s\n", t.c(cYel, "JWT"), t.c(cBold, d.Label), t.c(cDim, "decoded in "+d.Seen))
		return
	}
	fmt.Fprintf(w, "      %s %s\n", t.c(cYel, "JWT"), t.c(cBold, d.Label)+t.c(cDim, " decoded (signature not shown)"))
	fmt.Fprintf(w, "        header: %s\n", compact(d.Header))
	keys := make([]string, 0, len(d.Claims))
	for k := range d.Claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, _ := json.Marshal(d.Claims[k])
		fmt.Fprintf(w, "        %-10s %s\n", k, b)
	}
}

func compact(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func wrap(s string, width int) []string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(s), "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width {
				out = append(out, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Markdown writes a transcript a trainer can hand out.
type Markdown struct {
	W io.Writer
}

// Scenario implements Narrator.
// Contents writes the transcript's table of contents: one link per
// scenario, in the order they are played.
func (m *Markdown) Contents(scs []*Scenario) {
	fmt.Fprintf(m.W, "## Contents\n\n")
	for _, sc := range scs {
		fmt.Fprintf(m.W, "- [%s](#scenario-%s) (`%s`)\n", sc.Title, sc.Name, sc.Name)
	}
	fmt.Fprintln(m.W)
}

func (m *Markdown) Scenario(r *Report) {
	w := m.W
	verdict := "✔ passed"
	switch {
	case r.Skipped != "":
		verdict = "skipped: " + r.Skipped
	case !r.Passed:
		verdict = "✘ FAILED: " + r.Problem
	}
	fmt.Fprintf(w, "<a id=\"scenario-%s\"></a>\n\n## %s\n\n`%s` · %s · %s\n\n", r.Name, r.Title, r.File, verdict, r.Elapsed)
	fmt.Fprintf(w, "> %s\n\n", strings.ReplaceAll(strings.TrimSpace(r.Teaches), "\n", "\n> "))
	if r.Skipped != "" {
		return
	}
	for _, s := range r.Steps {
		title := fmt.Sprintf("Step %d: `%s`", s.N, s.Kind)
		if s.Kind == "setup" {
			title = "Setup"
		}
		fmt.Fprintf(w, "### %s\n\n", title)
		if s.Explain != "" {
			fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(s.Explain))
		}
		for _, c := range s.Calls {
			fmt.Fprintf(w, "```http\n%s %s\n", c.Method, c.URL)
			if c.Auth != "" {
				fmt.Fprintf(w, "Authorization: %s\n", c.Auth)
			}
			if len(c.Params) > 0 {
				fmt.Fprintln(w)
				for _, p := range c.Params {
					if p[0] == "json" {
						fmt.Fprintf(w, "%s\n", p[1])
						continue
					}
					fmt.Fprintf(w, "%s=%s\n", p[0], p[1])
				}
			}
			if c.Err != "" {
				fmt.Fprintf(w, "\n# %s\n", c.Err)
			} else if c.Status != 0 {
				fmt.Fprintf(w, "\nHTTP %d\n", c.Status)
				for _, h := range c.Headers {
					fmt.Fprintf(w, "%s: %s\n", h[0], h[1])
				}
				if c.Body != "" {
					fmt.Fprintf(w, "\n%s\n", c.Body)
				}
			}
			fmt.Fprint(w, "```\n\n")
			for _, d := range c.Tokens {
				m.token(w, d)
			}
		}
		for _, d := range s.Tokens {
			m.token(w, d)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		if len(s.Notes) > 0 {
			fmt.Fprintln(w)
		}
		if s.Kind == "wait" {
			continue
		}
		if s.Passed {
			fmt.Fprintf(w, "**Outcome:** %s, as expected.", s.Outcome)
			if s.Outcome.Description != "" {
				fmt.Fprintf(w, " _%s_", s.Outcome.Description)
			}
			fmt.Fprint(w, "\n\n")
		} else {
			fmt.Fprintf(w, "**Outcome: ✘** expected %s; %s\n\n", s.Expected, s.Problem)
		}
	}
}

func (m *Markdown) token(w io.Writer, d Decoded) {
	if d.Seen != "" {
		fmt.Fprintf(w, "`%s`: the token decoded in %s.\n\n", d.Label, d.Seen)
		return
	}
	h, _ := json.Marshal(d.Header)
	c, _ := json.MarshalIndent(d.Claims, "", "  ")
	fmt.Fprintf(w, "`%s` decoded (signature not shown):\n\n```json\n%s\n%s\n```\n\n", d.Label, h, c)
}
