package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/scenarios"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

const playUsage = `Usage: go run . play [flags] (--all | NAME...)

Plays scenarios from the catalogue (scenarios/*.yaml), narrating every
request, response and decoded token. Each scenario gets a fresh in-process
sandbox unless --target names parties already running. The exit status is 1
when any step's outcome differs from what its scenario expects.

Examples:
  go run . play --list
  go run . play happy-path
  go run . play --all --markdown transcript.md
  go run . play --all --target default --yes    # parties started with go run . up
  go run . play --all --target idp=http://localhost:7001,agent0=http://localhost:7002,todo0=http://localhost:7003,mcp=http://localhost:7004

Flags:
`

// errScenariosFailed makes play exit non-zero after its own report.
var errScenariosFailed = errors.New("some scenarios failed")

// play is `go run . play`.
func play(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, playUsage); fs.PrintDefaults() }
	all := fs.Bool("all", false, "play every scenario")
	list := fs.Bool("list", false, "list the scenarios and exit")
	asJSON := fs.Bool("json", false, "print machine-readable results (JSON) instead of the narration")
	mdFile := fs.String("markdown", "", "also write a Markdown transcript to this file")
	target := fs.String("target", "", `play against running parties: "default" (localhost:7001-7004) or idp=URL,agent0=URL,todo0=URL,mcp=URL`)
	idpData := fs.String("idp-data-dir", "", "with --target: the IdP's data directory (e.g. .xaa-data/idp), so scenarios may sign with its key")
	todo0Data := fs.String("todo0-data-dir", "", "with --target: Todo0's data directory (e.g. .xaa-data/todo0), so scenarios may sign with its key")
	dir := fs.String("dir", "", "load scenario files from this directory instead of the built-in catalogue")
	brief := fs.Bool("q", false, "one line per scenario instead of the full narration")
	fresh := fs.Bool("fresh", false, "give every scenario its own fresh sandbox (by default those that change nothing global share one)")
	parallel := fs.Int("parallel", 4, "scenarios played at once in-process (each has its own sandbox; narration stays in order)")
	verbose := fs.Bool("v", false, "log every request the parties serve (in-process only)")
	yes := fs.Bool("yes", false, "with --target: play scenarios that change the running sandbox for everyone using it (faults, admin policy, sessions, keys, todos)")
	var quirkSet quirks.Set
	quirkFlag(fs, &quirkSet)
	// Flags and names may be mixed: play happy-path --json.
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}

	var scs []*scenarios.Scenario
	var err error
	if *dir != "" {
		scs, err = scenarios.LoadDir(*dir)
	} else {
		scs, err = scenarios.LoadCatalogue()
	}
	if err != nil {
		return fmt.Errorf("loading scenarios:\n%w", err)
	}
	scenarios.InSequenceOrder(scs)
	if *list {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, sc := range scs {
			fmt.Fprintf(tw, "%s\t%s\n", sc.Name, sc.Title)
		}
		return tw.Flush()
	}
	if !*all {
		if len(names) == 0 {
			fs.Usage()
			return errors.New("name scenarios to play, or --all (see --list)")
		}
		byName := map[string]*scenarios.Scenario{}
		for _, sc := range scs {
			byName[sc.Name] = sc
		}
		var picked []*scenarios.Scenario
		for _, n := range names {
			sc, ok := byName[strings.TrimSuffix(n, ".yaml")]
			if !ok {
				return fmt.Errorf("no scenario %q (see go run . play --list)", n)
			}
			picked = append(picked, sc)
		}
		scs = picked
	}

	o := scenarios.Options{Parallel: *parallel, Share: !*fresh, Quirks: quirkSet}
	if *target != "" {
		t, err := parseTarget(*target)
		if err != nil {
			return err
		}
		t.IdPDataDir, t.Todo0DataDir = *idpData, *todo0Data
		o.Target = t
		if !*yes {
			if msg := globalChangesNotice(scs, t.IdP); msg != "" {
				fmt.Fprint(errOut, msg)
				return errors.New("not playing against a running sandbox without --yes")
			}
		}
	}
	if *verbose {
		o.Logger = party.Logger()
	} else {
		// Parties log some refusals (a fault's 500) through the default
		// logger; the narration already shows them.
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	var ns scenarios.Narrators
	if !*asJSON {
		ns = append(ns, &scenarios.Text{W: out, Color: isTerminal(out), Brief: *brief})
	}
	if *mdFile != "" {
		f, err := os.Create(*mdFile)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(f, "# XAA sandbox: scenario transcript\n\nRecorded %s by `go run . play`. Tokens and secrets are shortened; JWTs are shown decoded without their signatures.\n\n", time.Now().UTC().Format(time.RFC1123))
		md := &scenarios.Markdown{W: f}
		md.Contents(scs)
		ns = append(ns, md)
	}
	o.Narrator = ns

	start := time.Now()
	reports := scenarios.Play(ctx, scs, o)
	failed, skipped := 0, 0
	for _, r := range reports {
		if !r.Passed {
			failed++
		}
		if r.Skipped != "" {
			skipped++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"passed": failed == 0, "failed": failed, "skipped": skipped, "elapsed": time.Since(start).Round(time.Millisecond).String(), "scenarios": reports}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "\n%s: %d passed, %d failed, %d skipped in %s\n", scenarios.Plural(len(reports), "scenario", "scenarios"), len(reports)-failed-skipped, failed, skipped, time.Since(start).Round(time.Millisecond))
	}
	if failed > 0 {
		for _, r := range reports {
			if !r.Passed {
				fmt.Fprintf(errOut, "FAIL %s\n", r.Problem)
			}
		}
		return errScenariosFailed
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && scenarios.IsTerminal(f)
}

// parseTarget reads --target: "default" or idp=URL,agent0=URL,todo0=URL,mcp=URL.
func parseTarget(s string) (*scenarios.Target, error) {
	t := scenarios.DefaultTarget()
	if s == "default" {
		return t, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		v = strings.TrimRight(v, "/")
		if !ok || v == "" {
			return nil, fmt.Errorf("--target: %q is not party=URL", kv)
		}
		switch k {
		case "idp":
			t.IdP = v
		case "agent0":
			t.Agent0 = v
		case "todo0":
			t.Todo0 = v
		case "mcp":
			t.MCPBase = strings.TrimSuffix(v, "/mcp")
			t.MCP = t.MCPBase + "/mcp"
		default:
			return nil, fmt.Errorf("--target: unknown party %q (idp, agent0, todo0, mcp)", k)
		}
	}
	return t, nil
}

// globalChangesNotice says which scenarios would change a running sandbox for
// everyone using it, and what of it is put back; "" when none would.
func globalChangesNotice(scs []*scenarios.Scenario, idp string) string {
	var b strings.Builder
	n := 0
	for _, sc := range scs {
		changes := scenarios.GlobalChanges(sc)
		if len(changes) == 0 {
			continue
		}
		n++
		fmt.Fprintf(&b, "  %s:\n", sc.Name)
		for _, c := range changes {
			fmt.Fprintf(&b, "      %s\n", c)
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("These scenarios change the sandbox at %s for everyone using it:\n%s"+
		"Play them anyway with --yes (faults and todos are put back, and each scenario's cleanup undoes its\n"+
		"admin actions), or name only other scenarios. Without --target, play uses a private sandbox of its own.\n", idp, b.String())
}
