package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Run is the idp binary: flags (or IDP_* environment variables), then serve.
func Run(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("idp", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.Issuer, "public-url", party.Env("IDP_PUBLIC_URL", demo.IdPURL), "public URL and OIDC issuer (env IDP_PUBLIC_URL)")
	addr := party.String(fs, "addr", "IDP_ADDR", "", "listen address (default: loopback, port of --public-url)")
	fs.StringVar(&cfg.DataDir, "data-dir", party.Env("IDP_DATA_DIR", ".xaa-data/idp"), "directory for idp.db (env IDP_DATA_DIR)")
	fs.StringVar(&cfg.SigningAlg, "signing-alg", party.Env("IDP_SIGNING_ALG", "RS256"), "RS256 or ES256 (env IDP_SIGNING_ALG)")
	fs.StringVar(&cfg.Agent0URL, "agent0-url", party.Env("AGENT0_PUBLIC_URL", demo.Agent0URL), "Agent0's public URL, for seeding (env AGENT0_PUBLIC_URL)")
	fs.StringVar(&cfg.Todo0URL, "todo0-url", party.Env("TODO0_PUBLIC_URL", demo.Todo0URL), "Todo0's public URL, for seeding (env TODO0_PUBLIC_URL)")
	fs.StringVar(&cfg.Todo0MCPURL, "todo0-mcp-url", party.Env("TODO0_MCP_PUBLIC_URL", demo.Todo0MCPURL), "Todo0 MCP's public URL, for seeding (env TODO0_MCP_PUBLIC_URL)")
	fs.StringVar(&cfg.AdminToken, "admin-token", party.Env("IDP_ADMIN_TOKEN", demo.IdPAdminToken), "Bearer token for the admin API at /admin/api (env IDP_ADMIN_TOKEN)")
	jagTTL := party.Duration(fs, "id-jag-ttl", "IDP_ID_JAG_TTL", 5*time.Minute, "ID-JAG lifetime")
	auditAge := party.Duration(fs, "audit-max-age", "IDP_AUDIT_MAX_AGE", 30*24*time.Hour, "delete audit records older than this; negative keeps them")
	quirkList := party.String(fs, "quirk", "XAA_QUIRKS", "", "vendor behaviours or presets, comma-separated (docs/quirks.md)")
	auditRows := fs.Int("audit-max-rows", 200000, "keep at most this many audit records, deleting the oldest; negative keeps them (env IDP_AUDIT_MAX_ROWS)")
	if v := party.Env("IDP_AUDIT_MAX_ROWS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("IDP_AUDIT_MAX_ROWS=%q is not an integer", v)
		}
		*auditRows = n
	}
	fs.BoolVar(&cfg.SharedSignals, "shared-signals", party.Env("IDP_SHARED_SIGNALS", "") == "true", "push CAEP/RISC Security Event Tokens to each resource app's /ssf/events (env IDP_SHARED_SIGNALS=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q, err := quirks.Parse(*quirkList)
	if err != nil {
		return err
	}
	cfg.Quirks = q
	if *auditAge == 0 || *auditRows == 0 {
		return errors.New("audit retention of 0 would delete every record; use a negative value to keep everything")
	}
	cfg.Logger, cfg.IDJAGTTL, cfg.AuditMaxAge, cfg.AuditMaxRows = logger, *jagTTL, *auditAge, *auditRows
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if *addr == "" {
		*addr = party.DefaultAddr(s.Issuer())
	}
	logger.Info("Acme IdP listening", "addr", *addr, "issuer", s.Issuer())
	return party.Run(ctx, "idp", *addr, s, logger)
}
