package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	agent0 "github.com/xaa-sandbox/xaa-sandbox/agent0/server"
	idp "github.com/xaa-sandbox/xaa-sandbox/idp/server"
	mcpserver "github.com/xaa-sandbox/xaa-sandbox/todo0-mcp/server"
	todo0 "github.com/xaa-sandbox/xaa-sandbox/todo0/server"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

// The container image holds this one binary (the four party binaries would
// repeat the shared code four times), so the front door also runs each party
// alone, checks a party's health and holds a network namespace: a scratch
// image has no shell and no curl to do either.

// partyCommands maps a party's name to its server's Run (the same as its own
// binary: `xaa-sandbox idp -h` equals `go run ./idp -h`) and to the
// environment variable and default of its public URL, for healthcheck.
var partyCommands = map[string]struct {
	run     func(context.Context, []string, *slog.Logger) error
	urlEnv  string
	urlDef  string
	display string
}{
	"idp":       {idp.Run, "IDP_PUBLIC_URL", demo.IdPURL, "Acme IdP"},
	"agent0":    {agent0.Run, "AGENT0_PUBLIC_URL", demo.Agent0URL, "Agent0"},
	"todo0":     {todo0.Run, "TODO0_PUBLIC_URL", demo.Todo0URL, "Todo0"},
	"todo0-mcp": {mcpserver.Run, "TODO0_MCP_PUBLIC_URL", demo.Todo0MCPURL, "Todo0 MCP"},
}

// healthcheck is `xaa-sandbox healthcheck PARTY|URL`: GET the party's
// /healthz (its public URL from the party's own environment variable, as in
// its container) and report; the exit status is what Docker reads.
func healthcheck(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(errOut)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: xaa-sandbox healthcheck [-timeout 2s] idp|agent0|todo0|todo0-mcp|URL\n\nGETs the party's /healthz (a party name reads its public URL from IDP_PUBLIC_URL,\nAGENT0_PUBLIC_URL, TODO0_PUBLIC_URL or TODO0_MCP_PUBLIC_URL). Exit status 0 when healthy.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("healthcheck: name one party or URL")
	}
	target := fs.Arg(0)
	if p, ok := partyCommands[target]; ok {
		target = strings.TrimRight(party.Env(p.urlEnv, p.urlDef), "/") + "/healthz"
	} else if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		return fmt.Errorf("healthcheck: %q is neither a party (idp, agent0, todo0, todo0-mcp) nor an http(s) URL", target)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
	}
	fmt.Fprintf(out, "%s: healthy\n", target)
	return nil
}

// hold is `xaa-sandbox hold`: do nothing until SIGINT or SIGTERM. In the
// compose demo it is the holder container that owns the network namespace
// the four partyCommands join, so every party is reachable at the same
// http://localhost:PORT from the host and from every other party.
func hold(ctx context.Context, args []string, errOut io.Writer) error {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: xaa-sandbox hold\n\nSleeps until SIGINT or SIGTERM (keeps a container, and its network namespace, alive).")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errors.New("hold takes no arguments")
	}
	<-ctx.Done()
	return nil
}
