package server

import (
	"context"
	"flag"
	"log/slog"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

// Run is the agent0 binary: flags (or AGENT0_* environment variables), then serve.
func Run(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("agent0", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.PublicURL, "public-url", party.Env("AGENT0_PUBLIC_URL", demo.Agent0URL), "public URL (env AGENT0_PUBLIC_URL)")
	addr := party.String(fs, "addr", "AGENT0_ADDR", "", "listen address (default: loopback, port of --public-url)")
	fs.StringVar(&cfg.DataDir, "data-dir", party.Env("AGENT0_DATA_DIR", ".xaa-data/agent0"), "directory for agent0.db (env AGENT0_DATA_DIR)")
	fs.StringVar(&cfg.IdPIssuer, "idp-issuer", party.Env("IDP_PUBLIC_URL", demo.IdPURL), "the IdP's issuer (env IDP_PUBLIC_URL)")
	fs.StringVar(&cfg.MCPURL, "mcp-url", party.Env("TODO0_MCP_URL", demo.Todo0MCPURL+demo.MCPPath), "Todo0 MCP endpoint and resource id (env TODO0_MCP_URL)")
	fs.BoolVar(&cfg.DPoP, "dpop", party.Env("AGENT0_DPOP", "") == "1", "bind ID-JAGs and access tokens to a DPoP key (RFC 9449; env AGENT0_DPOP=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Logger = logger
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if *addr == "" {
		*addr = party.DefaultAddr(s.cfg.PublicURL)
	}
	logger.Info("Agent0 listening", "addr", *addr, "url", s.cfg.PublicURL)
	return party.Run(ctx, "agent0", *addr, s, logger)
}
