// Package sandbox starts the four parties in one process, each on its own
// listener with its own data directory, wired together only by URLs. The
// front door (`go run . up`), the scenario runner and the e2e tests use it.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	agent0 "github.com/xaa-sandbox/xaa-sandbox/agent0/server"
	idp "github.com/xaa-sandbox/xaa-sandbox/idp/server"
	mcpserver "github.com/xaa-sandbox/xaa-sandbox/todo0-mcp/server"
	todo0 "github.com/xaa-sandbox/xaa-sandbox/todo0/server"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Options configures a sandbox. Zero values take the defaults.
type Options struct {
	// DataDir holds one sub-directory per party (required).
	DataDir string
	// Host is the host name in every public URL ("localhost").
	Host string
	// BindHost is the address listeners bind to ("127.0.0.1").
	BindHost string
	// Ports for IdP, Agent0, Todo0, Todo0 MCP; 0 picks a free port.
	IdPPort, Agent0Port, Todo0Port, MCPPort int
	// Lifetimes, for scenarios that need tokens to expire quickly.
	IDJAGTTL, AccessTokenTTL time.Duration
	// IDTokenTTL is the lifetime of the IdP's ID tokens (1h), for scenarios
	// where the subject token expires.
	IDTokenTTL time.Duration
	// ClockSkew is every party's tolerance for exp/nbf/iat (30s); expiry
	// scenarios with lifetimes of seconds need it small.
	ClockSkew time.Duration
	// IdPJWKSMinRefresh bounds how often Todo0 refetches the IdP's JWKS for
	// an unknown kid (10s); the key-rotation scenario shortens it.
	IdPJWKSMinRefresh time.Duration
	// Agent0RetryRefusedAfter is how long a refusal stops Agent0's calls for
	// a user before it asks the IdP again on its own (1m; negative: only Reconnect).
	Agent0RetryRefusedAfter time.Duration
	// Agent0DPoP makes Agent0 use DPoP-bound ID-JAGs and access tokens.
	Agent0DPoP bool
	// MCPSessionTimeout closes Todo0 MCP sessions idle this long (30m).
	MCPSessionTimeout time.Duration
	// MCPMaxSessionsPerUser bounds one user's Todo0 MCP sessions (16); a
	// load run whose agents all act for one user needs one per agent.
	MCPMaxSessionsPerUser int
	// IdPAuditMaxRows caps the IdP's audit log (200,000; negative: no cap).
	IdPAuditMaxRows int
	// SharedSignals: Acme pushes CAEP/RISC events to Todo0, which ends the
	// user's live access tokens, and Todo0 MCP asks Todo0 whether each token
	// is still active (off: tokens live until they expire).
	SharedSignals bool
	// IdPSigningAlg is RS256 (default) or ES256.
	IdPSigningAlg string
	// Logger receives every party's request log (discarded when nil).
	Logger *slog.Logger
	// Quirks switch the IdP and the Todo0 AS into documented vendor
	// behaviours (shared/quirks); zero is the strict sandbox.
	Quirks quirks.Set
	// Wrap, when set, wraps each party's handler ("idp", "agent0", "todo0",
	// "todo0-mcp"): the client checker records and bends requests with it.
	Wrap func(party string, h http.Handler) http.Handler
}

// DefaultPorts are the documented ports 7001..7004.
func DefaultPorts(o *Options) {
	o.IdPPort, o.Agent0Port, o.Todo0Port, o.MCPPort = 7001, 7002, 7003, 7004
}

// Sandbox is the four running parties.
type Sandbox struct {
	IdPURL, Agent0URL, Todo0URL, MCPURL string // public base URLs
	MCPResource                         string // Todo0 MCP endpoint = resource id

	IdP    *idp.Server
	Agent0 *agent0.Server
	Todo0  *todo0.Server
	MCP    *mcpserver.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// Start listens on all four ports first (so every URL is known), then builds
// and serves the parties. It returns once all four accept connections.
func Start(ctx context.Context, o Options) (_ *Sandbox, err error) {
	if o.DataDir == "" {
		return nil, errors.New("sandbox: DataDir is required")
	}
	if o.Host == "" {
		o.Host = "localhost"
	}
	if o.BindHost == "" {
		o.BindHost = "127.0.0.1"
	}
	logger := o.Logger
	if logger == nil {
		// Discarded unformatted: a text handler writing to io.Discard would
		// still format every request's line.
		logger = slog.New(slog.DiscardHandler)
	}
	var lns []net.Listener
	defer func() {
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
		}
	}()
	urls := make([]string, 4)
	for i, p := range []int{o.IdPPort, o.Agent0Port, o.Todo0Port, o.MCPPort} {
		ln, err := net.Listen("tcp", net.JoinHostPort(o.BindHost, strconv.Itoa(p)))
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		lns = append(lns, ln)
		urls[i] = "http://" + net.JoinHostPort(o.Host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	sb := &Sandbox{IdPURL: urls[0], Agent0URL: urls[1], Todo0URL: urls[2], MCPURL: urls[3], MCPResource: urls[3] + demo.MCPPath}

	sb.IdP, err = idp.New(ctx, idp.Config{
		Issuer: sb.IdPURL, DataDir: filepath.Join(o.DataDir, "idp"), SigningAlg: o.IdPSigningAlg,
		Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, Todo0MCPURL: sb.MCPURL,
		IDJAGTTL: o.IDJAGTTL, IDTokenTTL: o.IDTokenTTL, ClockSkew: o.ClockSkew, AuditMaxRows: o.IdPAuditMaxRows, SharedSignals: o.SharedSignals, Logger: logger.With("party", "idp"), Quirks: o.Quirks,
	})
	if err != nil {
		return nil, err
	}
	sb.Todo0, err = todo0.New(ctx, todo0.Config{
		PublicURL: sb.Todo0URL, DataDir: filepath.Join(o.DataDir, "todo0"), IdPIssuer: sb.IdPURL, Agent0JWKSURI: sb.Agent0URL + "/.well-known/jwks.json",
		Resources: []string{sb.MCPResource}, AccessTokenTTL: o.AccessTokenTTL, ClockSkew: o.ClockSkew, IdPJWKSMinRefresh: o.IdPJWKSMinRefresh, Logger: logger.With("party", "todo0"), Quirks: o.Quirks,
	})
	if err != nil {
		sb.IdP.Close()
		return nil, err
	}
	sb.MCP, err = mcpserver.New(mcpserver.Config{PublicURL: sb.MCPURL, AuthServer: sb.Todo0URL, ClockSkew: o.ClockSkew, SessionTimeout: o.MCPSessionTimeout, MaxSessionsPerUser: o.MCPMaxSessionsPerUser, CheckRevocation: o.SharedSignals, Logger: logger.With("party", "todo0-mcp")})
	if err != nil {
		sb.IdP.Close()
		sb.Todo0.Close()
		return nil, err
	}
	sb.Agent0, err = agent0.New(ctx, agent0.Config{
		PublicURL: sb.Agent0URL, DataDir: filepath.Join(o.DataDir, "agent0"), IdPIssuer: sb.IdPURL,
		MCPURL: sb.MCPResource, RetryRefusedAfter: o.Agent0RetryRefusedAfter, DPoP: o.Agent0DPoP, Logger: logger.With("party", "agent0"),
	})
	if err != nil {
		sb.IdP.Close()
		sb.Todo0.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	sb.cancel = cancel
	for i, s := range []party.Server{sb.IdP, sb.Agent0, sb.Todo0, sb.MCP} {
		if o.Wrap != nil {
			s = wrapped{s, o.Wrap([]string{"idp", "agent0", "todo0", "todo0-mcp"}[i], s.Handler())}
		}
		sb.wg.Add(1)
		go func(ln net.Listener, s party.Server) {
			defer sb.wg.Done()
			if err := party.RunListener(runCtx, ln, s, logger); err != nil {
				sb.mu.Lock()
				sb.errs = append(sb.errs, err)
				sb.mu.Unlock()
			}
		}(lns[i], s)
	}
	return sb, nil
}

// Close stops the parties and closes their databases.
func (sb *Sandbox) Close() error {
	sb.cancel()
	sb.wg.Wait()
	err := errors.Join(sb.errs...)
	for _, s := range []party.Server{sb.Agent0, sb.MCP, sb.Todo0, sb.IdP} {
		err = errors.Join(err, s.Close())
	}
	return err
}

// wrapped is a party whose handler Options.Wrap replaced.
type wrapped struct {
	party.Server
	h http.Handler
}

func (w wrapped) Handler() http.Handler { return w.h }
