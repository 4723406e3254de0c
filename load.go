package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// defaultMCPSessionsPerUser is Todo0 MCP's --max-sessions-per-user.
const defaultMCPSessionsPerUser = 16

// loadCmd is `go run . load`: simulated agents doing full XAA flows against a
// fresh in-process sandbox (or, with -running, one already running on
// loopback), then a check that every acknowledged todo is stored exactly once.
func loadCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	cfg := load.Config{}
	fs.IntVar(&cfg.Concurrency, "c", 8, "concurrent agents (each signs in once)")
	fs.IntVar(&cfg.Flows, "n", 1000, "total flows (exchange -> jwt-bearer -> MCP create_todo)")
	fs.DurationVar(&cfg.Duration, "max", 5*time.Minute, "stop starting flows after this long")
	running := fs.Bool("running", false, "drive the sandbox already running at the default URLs (go run . up) instead of starting one")
	dataDir := fs.String("data-dir", "", "data directory of the in-process sandbox (a fresh temporary one when empty)")
	idpAlg := fs.String("idp-signing-alg", "RS256", "the in-process IdP's signing algorithm for ID tokens and ID-JAGs: RS256 or ES256")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the flows (sandbox and agents) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Concurrency > 1024 || cfg.Flows > 1_000_000 {
		return errors.New("load: -c at most 1024 and -n at most 1000000")
	}
	// Every agent acts for alice and holds one MCP session at a time, and
	// Todo0 MCP closes a user's oldest session beyond its per-user cap.
	if *running {
		cfg.Target = load.Target{IdPURL: demo.IdPURL, Agent0URL: demo.Agent0URL, Todo0URL: demo.Todo0URL, MCPResource: demo.Todo0MCPURL + demo.MCPPath}
		if cfg.Concurrency > defaultMCPSessionsPerUser {
			fmt.Fprintf(out, "note: every agent acts for alice, and Todo0 MCP keeps %d sessions per user unless the sandbox was started with more (go run . up --max-sessions-per-user %d); beyond that, agents lose their sessions (\"session not found\")\n", defaultMCPSessionsPerUser, cfg.Concurrency)
		}
	} else {
		dir := *dataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "xaa-load-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		start := time.Now()
		sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir, IdPSigningAlg: *idpAlg, IDJAGTTL: 5 * time.Minute, AccessTokenTTL: 5 * time.Minute,
			MCPMaxSessionsPerUser: max(defaultMCPSessionsPerUser, cfg.Concurrency)})
		if err != nil {
			return err
		}
		defer sb.Close()
		fmt.Fprintf(out, "sandbox up in %s (data in %s)\n", time.Since(start).Round(time.Millisecond), dir)
		cfg.Target = load.Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}
	}
	cfg.Progress = out
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := load.Run(ctx, cfg)
	if rep != nil {
		rep.Print(out)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("load: the bar is zero errors and zero lost, duplicated or unacknowledged todos")
	}
	return nil
}
