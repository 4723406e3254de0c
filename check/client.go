package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Client checks an MCP client's Cross App Access behaviour (the project's
// checklist section 5): it runs the client's command once per scenario
// against a fresh in-process sandbox, records every request the client
// makes, and judges them.
//
// The command gets its configuration in the environment (ClientEnv lists
// the variables, and MCP_CONFORMANCE_CONTEXT carries the same as JSON, as
// the MCP conformance suite does) and the MCP server URL as its last
// argument. It should connect, call a tool, and exit 0 on success, non-zero
// when it could not get access.
type Client struct {
	// Command is the client's command line (required).
	Command []string
	// Dir is its working directory ("": the checker's).
	Dir string
	// Timeout bounds each run of the command (30 s).
	Timeout time.Duration
	// Scenarios to play (all when empty); ClientScenarios lists them.
	Scenarios []string
	// Env is added to the command's environment (after the checker's own).
	Env []string
	// Quirks start every sandbox with these vendor behaviours, to see how
	// the client copes with them (docs/quirks.md).
	Quirks quirks.Set
	// Output, when set, receives the command's output.
	Output *bytes.Buffer

	mu sync.Mutex // guards Output
}

// ClientScenario is one situation the client is put in.
type ClientScenario struct {
	Name, Title string
	// setup changes the sandbox after the ID token was issued.
	setup func(ctx context.Context, admin *sandboxclient.Admin, sb *sandbox.Sandbox) error
	// inject answers some requests in the parties' place.
	inject func(party string, w http.ResponseWriter, r *http.Request, seen []request) bool
	// judge turns the run into results.
	judge func(r *clientRun) []Result
}

// clientRun is one run of the command in one scenario.
type clientRun struct {
	sb       *sandbox.Sandbox
	reqs     []request
	exitCode int
	output   string
	timedOut bool
}

// The configuration a client gets, as environment variables.
const (
	EnvMCPURL            = "XAA_MCP_URL"
	EnvIdPIssuer         = "XAA_IDP_ISSUER"
	EnvIdPTokenEndpoint  = "XAA_IDP_TOKEN_ENDPOINT"
	EnvIdPClientID       = "XAA_IDP_CLIENT_ID"
	EnvIdPClientSecret   = "XAA_IDP_CLIENT_SECRET"
	EnvIDToken           = "XAA_ID_TOKEN"
	EnvASIssuer          = "XAA_AS_ISSUER"
	EnvClientID          = "XAA_CLIENT_ID"
	EnvClientSecret      = "XAA_CLIENT_SECRET"
	EnvScope             = "XAA_SCOPE"
	EnvConformanceCtx    = "MCP_CONFORMANCE_CONTEXT"
	EnvConformanceScenar = "MCP_CONFORMANCE_SCENARIO"
)

// ConformanceContext is MCP_CONFORMANCE_CONTEXT: the conformance suite's
// cross-app-access context, plus the IdP client secret the sandbox's
// confidential IdP needs.
type ConformanceContext struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	IdPClientID      string `json:"idp_client_id"`
	IdPClientSecret  string `json:"idp_client_secret"`
	IdPIDToken       string `json:"idp_id_token"`
	IdPIssuer        string `json:"idp_issuer"`
	IdPTokenEndpoint string `json:"idp_token_endpoint"`
}

// Run plays the scenarios. The error is only for a configuration the
// checker cannot run with.
func (c *Client) Run(ctx context.Context) (*Report, error) {
	if len(c.Command) == 0 {
		return nil, errors.New("check client: the command is required")
	}
	rep := &Report{Checker: "client", Target: strings.Join(c.Command, " "), Started: time.Now(), Setup: []string{
		"the client's configuration is in " + strings.Join([]string{EnvMCPURL, EnvIdPIssuer, EnvIdPTokenEndpoint, EnvIdPClientID, EnvIdPClientSecret, EnvIDToken, EnvASIssuer, EnvClientID, EnvClientSecret, EnvScope}, ", ") + " and, as JSON, " + EnvConformanceCtx,
		"the MCP server URL is the command's last argument; exit 0 when the tool call worked, non-zero when access was refused",
	}}
	var picked []ClientScenario
	for _, sc := range ClientScenarios {
		if len(c.Scenarios) == 0 || slices.Contains(c.Scenarios, sc.Name) {
			picked = append(picked, sc)
		}
	}
	// Scenarios play at once, each in its own sandbox (most of a run is
	// waiting on the client); results keep the catalogue's order.
	results := make([][]Result, len(picked))
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, sc := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = c.judged(ctx, sc)
		}()
	}
	wg.Wait()
	for _, r := range results {
		rep.Results = append(rep.Results, r...)
	}
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

// judged plays one scenario and judges it.
func (c *Client) judged(ctx context.Context, sc ClientScenario) []Result {
	run, err := c.play(ctx, sc)
	if err != nil {
		return []Result{{ID: "client." + sc.Name, Title: sc.Title, Spec: "checker", Level: Must, Verdict: Skip,
			Expected: "the scenario could be set up", Got: err.Error()}}
	}
	var out []Result
	for _, res := range sc.judge(run) {
		if res.Verdict == Fail && run.output != "" {
			res.Detail = strings.TrimSpace(res.Detail + "; the client said: " + lastLines(run.output, 3))
		}
		out = append(out, res)
	}
	return append(out, noTokenInURL(sc, run))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// play starts a fresh sandbox, issues alice's ID token, sets the scenario
// up and runs the command.
func (c *Client) play(ctx context.Context, sc ClientScenario) (*clientRun, error) {
	dir, err := os.MkdirTemp("", "xaa-check-client-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rec := &recorder{}
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir, Wrap: rec.wrap, Quirks: c.Quirks})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	idToken, err := signIn(ctx, sb)
	if err != nil {
		return nil, fmt.Errorf("signing alice in: %w", err)
	}
	cfg := sandboxclient.Config{URLs: sandboxclient.NewURLs(sb.IdPURL, sb.Agent0URL, sb.Todo0URL, sb.MCPURL), Credentials: sandboxclient.DemoCredentials()}
	if sc.setup != nil {
		if err := sc.setup(ctx, sandboxclient.NewAdmin(cfg), sb); err != nil {
			return nil, err
		}
	}
	rec.mu.Lock()
	rec.reqs, rec.inject = nil, sc.inject // what the sign-in and setup did is not the client's
	rec.mu.Unlock()

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append(append([]string(nil), c.Command[1:]...), sb.MCPResource)
	cmd := exec.CommandContext(rctx, c.Command[0], args...)
	cmd.Dir = c.Dir
	cmd.WaitDelay = 2 * time.Second
	cctx, _ := json.Marshal(ConformanceContext{
		ClientID: demo.Agent0Todo0ClientID, ClientSecret: demo.Agent0Todo0ClientSecret,
		IdPClientID: demo.Agent0IdPClientID, IdPClientSecret: demo.Agent0IdPClientSecret,
		IdPIDToken: idToken, IdPIssuer: sb.IdPURL, IdPTokenEndpoint: sb.IdPURL + "/oauth2/token",
	})
	cmd.Env = append(os.Environ(),
		EnvMCPURL+"="+sb.MCPResource, EnvIdPIssuer+"="+sb.IdPURL, EnvIdPTokenEndpoint+"="+sb.IdPURL+"/oauth2/token",
		EnvIdPClientID+"="+demo.Agent0IdPClientID, EnvIdPClientSecret+"="+demo.Agent0IdPClientSecret, EnvIDToken+"="+idToken,
		EnvASIssuer+"="+sb.Todo0URL, EnvClientID+"="+demo.Agent0Todo0ClientID, EnvClientSecret+"="+demo.Agent0Todo0ClientSecret,
		EnvScope+"="+demo.ScopeRead+" "+demo.ScopeWrite,
		EnvConformanceCtx+"="+string(cctx), EnvConformanceScenar+"=auth/cross-app-access-complete-flow",
	)
	cmd.Env = append(cmd.Env, c.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	run := &clientRun{sb: sb, reqs: rec.all(), output: out.String(), timedOut: rctx.Err() != nil}
	if c.Output != nil {
		c.mu.Lock()
		fmt.Fprintf(c.Output, "--- %s\n%s", sc.Name, out.String())
		c.mu.Unlock()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		run.exitCode = ee.ExitCode()
		if run.exitCode == 0 {
			run.exitCode = -1 // killed
		}
	default:
		return nil, fmt.Errorf("running the client: %w", err)
	}
	return run, nil
}

// signIn gets alice's ID token for Agent0's client at the IdP, through the
// real sign-in (authorization code with PKCE, the login form filled in).
func signIn(ctx context.Context, sb *sandbox.Sandbox) (string, error) {
	creds := &oauthex.ClientCredentials{ClientID: demo.Agent0IdPClientID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: demo.Agent0IdPClientSecret}}
	redirect := sb.Agent0URL + "/callback"
	tok, err := extauth.PerformOIDCLogin(ctx, &extauth.OIDCLoginConfig{
		IssuerURL: sb.IdPURL, Credentials: creds, RedirectURL: redirect, Scopes: []string{"openid", "profile", "email"},
	}, func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		q, err := sandboxclient.AuthorizationCode(ctx, args.URL, redirect, "alice", "alice-demo")
		if err != nil {
			return nil, err
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state")}, nil
	})
	if err != nil {
		return "", err
	}
	id, _ := tok.Extra("id_token").(string)
	if id == "" {
		return "", errors.New("no id_token")
	}
	return id, nil
}
