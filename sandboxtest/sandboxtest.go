// Package sandboxtest starts the whole XAA sandbox in-process for a Go test,
// in the style of net/http/httptest: the Acme IdP, Agent0, Todo0 and Todo0
// MCP each on its own free loopback port with a fresh data directory, seeded
// with the demo world, and stopped when the test ends.
//
//	sb := sandboxtest.Start(t, nil)
//	// point your MCP client at sb.URLs.MCPResource, sign in at sb.URLs.IdP
//	// as alice, exchange with sb.Credentials.Agent0AtIdP ...
//	sb.Admin.SetFaults(ctx, sandboxclient.Todo0, "token.wrong_token_type")
//
// It imports the parties' servers, so a test binary that uses it runs the
// real sandbox, with no Docker and no network beyond loopback. For SDKs in
// other languages, `go run . up --json` and the containers module
// (github.com/xaa-sandbox/xaa-sandbox/containers) give the same sandbox.
package sandboxtest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Options configure a sandbox; the zero value (or nil) is the demo defaults.
type Options struct {
	// DataDir holds one directory per party; empty is a new t.TempDir(), so
	// every test starts from a fresh demo world. Reuse a directory to start
	// a sandbox on the keys, users and todos of an earlier one.
	DataDir string
	// SigningAlg is the IdP's signing algorithm: "RS256" (default) or "ES256".
	SigningAlg string
	// Token lifetimes (zero: the defaults, 5m, 5m and 1h), short for tests of
	// expiry and silent re-exchange.
	IDJAGTTL, AccessTokenTTL, IDTokenTTL time.Duration
	// ClockSkew is every party's tolerance for exp, nbf and iat (30s); make
	// it small with lifetimes of seconds.
	ClockSkew time.Duration
	// Logger receives every party's request log (discarded when nil).
	Logger *slog.Logger
	// Quirks switch the IdP and the Todo0 AS into documented vendor
	// behaviours, e.g. quirks.Parse("conformance-mock"); zero is strict.
	Quirks quirks.Set
	// Fixed ports for the IdP, Agent0, Todo0 and Todo0 MCP on 127.0.0.1,
	// for a client whose configuration names its URLs; 0 (the default)
	// picks a free port, which is what parallel tests need. The seeded
	// redirect URIs and connection follow the ports on a reused DataDir.
	IdPPort, Agent0Port, Todo0Port, MCPPort int
}

// Sandbox is the four running parties.
type Sandbox struct {
	sandboxclient.Config
	// Admin calls the parties' admin APIs: IdP administration, fault switches.
	Admin *sandboxclient.Admin

	sb      *sandbox.Sandbox
	tempDir string // removed by Close when New made it
}

// Start starts a sandbox for the test and stops it with t.Cleanup; it fails
// the test when a party cannot start. An empty Options.DataDir is a new
// t.TempDir(). It returns once every party accepts connections.
func Start(t testing.TB, o *Options) *Sandbox {
	t.Helper()
	opts := Options{}
	if o != nil {
		opts = *o
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := New(&opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sandboxtest: close: %v", err)
		}
	})
	return s
}

// New starts a sandbox outside a test's lifetime (in TestMain, say, to share
// one among tests; or in an example); the caller must Close it. An empty
// Options.DataDir is a new temporary directory that Close removes.
func New(o *Options) (*Sandbox, error) {
	opts := Options{}
	if o != nil {
		opts = *o
	}
	s := &Sandbox{}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "sandboxtest-")
		if err != nil {
			return nil, err
		}
		opts.DataDir, s.tempDir = dir, dir
	}
	sb, err := sandbox.Start(context.Background(), sandbox.Options{
		DataDir: opts.DataDir, IdPSigningAlg: opts.SigningAlg,
		IDJAGTTL: opts.IDJAGTTL, AccessTokenTTL: opts.AccessTokenTTL, IDTokenTTL: opts.IDTokenTTL, ClockSkew: opts.ClockSkew, Quirks: opts.Quirks,
		Logger:  opts.Logger,
		IdPPort: opts.IdPPort, Agent0Port: opts.Agent0Port, Todo0Port: opts.Todo0Port, MCPPort: opts.MCPPort,
	})
	if err != nil {
		if s.tempDir != "" {
			os.RemoveAll(s.tempDir)
		}
		return nil, err
	}
	s.sb = sb
	s.Config = sandboxclient.Config{
		URLs:        sandboxclient.NewURLs(sb.IdPURL, sb.Agent0URL, sb.Todo0URL, sb.MCPURL),
		Credentials: sandboxclient.DemoCredentials(),
	}
	s.Admin = sandboxclient.NewAdmin(s.Config)
	return s, nil
}

// Close stops the parties and closes their databases. Start's cleanup calls
// it; call it earlier to start another sandbox on the same DataDir (a
// restart: same keys, users and todos). Later calls do nothing.
func (s *Sandbox) Close() error {
	if s.sb == nil {
		return nil
	}
	sb := s.sb
	s.sb = nil
	err := sb.Close()
	if s.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(s.tempDir))
	}
	return err
}
