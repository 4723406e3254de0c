package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/check"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

const checkUsage = `Usage: go run . check (as | mcp) [flags]
       go run . check client [flags] -- COMMAND [ARG...]

Judges your own implementation against the rules the sandbox enforces,
rule by rule: expected, got, verdict, spec section. The exit status is 1
when any MUST rule fails.

  check as    your resource authorization server redeeming ID-JAGs (docs/check-as.md)
  check mcp   your MCP server protecting its endpoint with the sandbox AS's tokens (docs/check-mcp.md)
  check client  your MCP client, run once per scenario against a fresh sandbox (docs/check-client.md)

The checker runs the sandbox on its usual ports from the usual data
directory (so its IdP keeps the same issuer and keys between runs), or uses
the one "go run . up" is already running there.

Examples:
  go run . check as --setup --issuer https://as.example --client-id c1
  go run . check as --issuer https://as.example --client-id c1 --client-secret s1 \
      --resource https://mcp.example/mcp --scope "notes.read" --junit check-as.xml
  go run . check mcp --resource http://localhost:8080/mcp --scope "notes.read notes.write" \
      --tool write_note --tool-scope notes.write
  go run . check client -- node my-client.mjs
`

// errCheckFailed makes check exit non-zero after its report.
var errCheckFailed = errors.New("a MUST rule failed")

func checkCmd(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, checkUsage)
		return nil
	}
	switch args[0] {
	case "as":
		return checkAS(ctx, args[1:], out, errOut)
	case "mcp":
		return checkMCP(ctx, args[1:], out, errOut)
	case "client":
		return checkClient(ctx, args[1:], out, errOut)
	}
	return fmt.Errorf("unknown checker %q (want as, mcp or client)\n\n%s", args[0], checkUsage)
}

// checkFlags are the flags every checker shares.
type checkFlags struct {
	quirks        quirks.Set
	dataDir, host string
	asJSON        bool
	junit         string
	setup         bool
}

func (c *checkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", party.Env("XAA_DATA_DIR", ".xaa-data"), "the sandbox's data directory (keys persist there, like go run . up) (env XAA_DATA_DIR)")
	fs.StringVar(&c.host, "host", party.Env("XAA_HOST", "localhost"), "host name in the sandbox's URLs; your server must reach them (env XAA_HOST)")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON instead of the narration")
	fs.StringVar(&c.junit, "junit", "", "also write the report as JUnit XML to this file")
	fs.BoolVar(&c.setup, "setup", false, "print what to configure, keep the sandbox running until Ctrl-C, and check nothing")
	quirkFlag(fs, &c.quirks)
}

// startSandbox runs the sandbox on its default ports, or finds the one `up`
// runs there. stop is a no-op for a sandbox this process did not start.
func (c *checkFlags) startSandbox(ctx context.Context) (urls *sandbox.Sandbox, stop func(), err error) {
	o := sandbox.Options{DataDir: c.dataDir, Host: c.host, Quirks: c.quirks}
	sandbox.DefaultPorts(&o)
	sb, err := sandbox.Start(ctx, o)
	if err == nil {
		return sb, func() { sb.Close() }, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, nil, err
	}
	// Ports taken: the sandbox of `go run . up`, if it answers as one.
	running := &sandbox.Sandbox{
		IdPURL: fmt.Sprintf("http://%s:%d", c.host, o.IdPPort), Agent0URL: fmt.Sprintf("http://%s:%d", c.host, o.Agent0Port),
		Todo0URL: fmt.Sprintf("http://%s:%d", c.host, o.Todo0Port), MCPURL: fmt.Sprintf("http://%s:%d", c.host, o.MCPPort),
	}
	running.MCPResource = running.MCPURL + "/mcp"
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, herr := hc.Get(running.IdPURL + "/.well-known/openid-configuration")
	if herr != nil {
		return nil, nil, fmt.Errorf("the sandbox ports are taken and no sandbox answers at %s: %w", running.IdPURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("the sandbox ports are taken by something that is not the sandbox (%s answered %d)", running.IdPURL, resp.StatusCode)
	}
	return running, func() {}, nil
}

func (c *checkFlags) report(rep *check.Report, out io.Writer) error {
	var err error
	if c.asJSON {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteText(out)
	}
	if err != nil {
		return err
	}
	if c.junit != "" {
		f, err := os.Create(c.junit)
		if err != nil {
			return err
		}
		if err := rep.WriteJUnit(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if rep.Failed() {
		return errCheckFailed
	}
	return nil
}

func checkAS(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("check as", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, checkUsage+"\nFlags of check as:\n"); fs.PrintDefaults() }
	var cf checkFlags
	cf.register(fs)
	var c check.AS
	fs.StringVar(&c.Issuer, "issuer", "", "your authorization server's issuer identifier (required)")
	fs.StringVar(&c.ClientID, "client-id", "", "the client registered at your server; also the ID-JAGs' client_id (required)")
	fs.StringVar(&c.ClientSecret, "client-secret", os.Getenv("XAA_CHECK_CLIENT_SECRET"), "that client's secret (env XAA_CHECK_CLIENT_SECRET)")
	fs.StringVar(&c.Resource, "resource", "", "a protected resource of yours, put in the ID-JAGs' resource claim")
	fs.StringVar(&c.Scope, "scope", "", "space-separated scopes your server knows, put in the ID-JAGs' scope claim")
	fs.StringVar(&c.Subject, "subject", "", `the ID-JAGs' sub ("xaa-check-user")`)
	keyFile := fs.String("client-key", "", "a file with the client's private JWK, for private_key_jwt (its public key registered at your server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile != "" {
		raw, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || k.IsPublic() {
			return fmt.Errorf("--client-key %s: not a private JWK", *keyFile)
		}
		c.ClientKey = &k
	}
	if c.Issuer == "" || c.ClientID == "" {
		fs.Usage()
		return errors.New("check as: --issuer and --client-id are required")
	}
	sb, stop, err := cf.startSandbox(ctx)
	if err != nil {
		return err
	}
	defer stop()
	c.IdP, err = check.LoadSigner(ctx, sb.IdPURL, filepath.Join(cf.dataDir, "idp"), "idp.db")
	if err != nil {
		return fmt.Errorf("the IdP's signing key (is --data-dir the sandbox's data directory?): %w", err)
	}
	if err := published(ctx, sb.IdPURL+"/oauth2/jwks", c.IdP, cf.dataDir); err != nil {
		return err
	}
	if cf.setup {
		fmt.Fprintf(out, "Configure %s:\n  %s\n\nThe sandbox IdP is up at %s; Ctrl-C stops it.\n", c.Issuer, strings.Join(c.Setup(), "\n  "), sb.IdPURL)
		<-ctx.Done()
		return nil
	}
	rep, err := c.Run(ctx)
	if err != nil {
		return err
	}
	return cf.report(rep, out)
}

func checkMCP(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("check mcp", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, checkUsage+"\nFlags of check mcp:\n"); fs.PrintDefaults() }
	var cf checkFlags
	cf.register(fs)
	var c check.MCP
	fs.StringVar(&c.Resource, "resource", "", "your MCP endpoint URL, which is its resource identifier (required)")
	fs.StringVar(&c.Scope, "scope", "", "space-separated scopes of the valid access token")
	fs.StringVar(&c.Tool, "tool", "", "a tool that needs a scope, for the 403 insufficient_scope rule")
	fs.StringVar(&c.ToolScope, "tool-scope", "", "the scope --tool needs")
	fs.StringVar(&c.Subject, "subject", "", `the tokens' sub ("xaa-check-user")`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Resource == "" {
		fs.Usage()
		return errors.New("check mcp: --resource is required")
	}
	sb, stop, err := cf.startSandbox(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if c.AS, err = check.LoadSigner(ctx, sb.Todo0URL, filepath.Join(cf.dataDir, "todo0"), "todo0.db"); err != nil {
		return fmt.Errorf("the Todo0 AS's signing key (is --data-dir the sandbox's data directory?): %w", err)
	}
	if c.IdP, err = check.LoadSigner(ctx, sb.IdPURL, filepath.Join(cf.dataDir, "idp"), "idp.db"); err != nil {
		return fmt.Errorf("the IdP's signing key (is --data-dir the sandbox's data directory?): %w", err)
	}
	if err := published(ctx, sb.Todo0URL+"/oauth2/jwks", c.AS, cf.dataDir); err != nil {
		return err
	}
	if cf.setup {
		fmt.Fprintf(out, "Configure %s:\n  %s\n\nThe sandbox is up (Todo0 AS at %s); Ctrl-C stops it.\n", c.Resource, strings.Join(c.Setup(), "\n  "), sb.Todo0URL)
		<-ctx.Done()
		return nil
	}
	rep, err := c.Run(ctx)
	if err != nil {
		return err
	}
	return cf.report(rep, out)
}

func checkClient(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("check client", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, checkUsage+"\nFlags of check client:\n"); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, "print the report as JSON instead of the narration")
	junit := fs.String("junit", "", "also write the report as JUnit XML to this file")
	timeout := fs.Duration("timeout", 30*time.Second, "how long one run of the client may take")
	only := fs.String("scenarios", "", "comma-separated scenarios to play (default all: "+clientScenarioNames()+")")
	showOutput := fs.Bool("show-output", false, "print the client's own output after the report")
	var q quirks.Set
	quirkFlag(fs, &q)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := fs.Args()
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		fs.Usage()
		return errors.New("check client: give the client's command after --")
	}
	var output bytes.Buffer
	c := &check.Client{Command: cmd, Timeout: *timeout, Output: &output, Quirks: q}
	if *only != "" {
		c.Scenarios = strings.Split(*only, ",")
	}
	rep, err := c.Run(ctx)
	if err != nil {
		return err
	}
	cf := checkFlags{asJSON: *asJSON, junit: *junit}
	err = cf.report(rep, out)
	if *showOutput {
		fmt.Fprintf(out, "\nThe client's output:\n%s", output.String())
	}
	return err
}

func clientScenarioNames() string {
	var names []string
	for _, sc := range check.ClientScenarios {
		names = append(names, sc.Name)
	}
	return strings.Join(names, ", ")
}

// published checks that the key read from the data directory is the one the
// running party publishes: with a sandbox started elsewhere from another
// data directory, every token the checker signs would fail for that reason
// alone.
func published(ctx context.Context, jwksURL string, s check.Signer, dataDir string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("reading %s: %w", jwksURL, err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("reading %s: %w", jwksURL, err)
	}
	for _, k := range set.Keys {
		if k.Kid == s.Key.KeyID {
			return nil
		}
	}
	return fmt.Errorf("the sandbox at %s does not publish the signing key in %s (kid %s): it runs from another data directory; pass that one with --data-dir", jwksURL, dataDir, s.Key.KeyID)
}
