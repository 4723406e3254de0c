// Command xaa-sandbox is the front door: `go run . up` starts all four
// partyCommands of the Cross App Access sandbox on http://localhost:7001..7004.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/sandboxclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

const usage = `xaa-sandbox: a local Cross App Access (ID-JAG) sandbox.

Usage:
  go run . up [flags]     start the IdP, Agent0, Todo0 and Todo0 MCP and wait for Ctrl-C
                          (--json: print the URLs and credentials as one line of JSON)
  go run . load [flags]   simulated agents doing full flows; reports flows/s, latency, lost todos
  go run . play --all     play the narrated scenario catalogue (--list, NAME..., --json, --markdown FILE, --target)
  go run . check KIND     check your own authorization server (as), MCP server (mcp) or client
                          (client -- COMMAND), rule by rule; go run . check -h
  go run . quirks         list the vendor behaviours and presets for --quirk (up, play, check)

  xaa-sandbox idp|agent0|todo0|todo0-mcp [flags]   run one party alone (as go run ./idp ...)
  xaa-sandbox healthcheck PARTY|URL               exit 0 when the party's /healthz answers 200
  xaa-sandbox hold                                sleep until signalled (the compose holder)

Run "go run . up -h" for the flags of up.
Each party also runs alone: go run ./idp, ./agent0, ./todo0, ./todo0-mcp (each with -h).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "up":
		err = up(ctx, os.Args[2:], os.Stdout)
	case "load":
		err = loadCmd(ctx, os.Args[2:], os.Stdout)
	case "play":
		err = play(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "healthcheck":
		err = healthcheck(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "hold":
		err = hold(ctx, os.Args[2:], os.Stderr)
	case "idp", "agent0", "todo0", "todo0-mcp":
		// Exactly what the party's own binary does, so its flags, environment
		// and exit status stay the same.
		stop()
		name := os.Args[1]
		os.Args = append([]string{os.Args[0] + " " + name}, os.Args[2:]...)
		os.Exit(party.Main(name, partyCommands[name].run))
	case "check":
		err = checkCmd(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "quirks":
		err = quirksCmd(os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, errCheckFailed) {
		os.Exit(1) // the report said why
	}
	if err != nil && err != flag.ErrHelp {
		fmt.Fprintln(os.Stderr, "xaa-sandbox:", err)
		os.Exit(1)
	}
}

// upConfig is what `up --json` prints: sandboxclient.Config and where the
// data is.
type upConfig struct {
	sandboxclient.Config
	DataDir string `json:"data_dir"`
}

func up(ctx context.Context, args []string, out io.Writer) error {
	o, verbose, asJSON, err := upFlags(args)
	if err != nil {
		return err
	}
	if verbose {
		o.Logger = party.Logger()
	}
	return startUp(ctx, o, asJSON, out)
}

// upFlags reads up's flags into the sandbox's options.
func upFlags(args []string) (o sandbox.Options, verbose, asJSON bool, err error) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	sandbox.DefaultPorts(&o)
	fs.StringVar(&o.DataDir, "data-dir", party.Env("XAA_DATA_DIR", ".xaa-data"), "data directory: one database per party, keys included (env XAA_DATA_DIR)")
	fs.StringVar(&o.Host, "host", party.Env("XAA_HOST", "localhost"), "host name in every public URL (env XAA_HOST)")
	fs.StringVar(&o.BindHost, "bind", party.Env("XAA_BIND", "127.0.0.1"), "address to listen on; 0.0.0.0 exposes the sandbox and its demo secrets to your network (env XAA_BIND)")
	fs.IntVar(&o.IdPPort, "idp-port", o.IdPPort, "Acme IdP port")
	fs.IntVar(&o.Agent0Port, "agent0-port", o.Agent0Port, "Agent0 port")
	fs.IntVar(&o.Todo0Port, "todo0-port", o.Todo0Port, "Todo0 port")
	fs.IntVar(&o.MCPPort, "mcp-port", o.MCPPort, "Todo0 MCP port")
	fs.DurationVar(&o.IDJAGTTL, "id-jag-ttl", 5*time.Minute, "ID-JAG lifetime")
	fs.DurationVar(&o.AccessTokenTTL, "access-token-ttl", 5*time.Minute, "Todo0 access token lifetime")
	fs.BoolVar(&o.SharedSignals, "shared-signals", false, "Acme pushes Shared Signals (CAEP session-revoked, RISC account-disabled) to Todo0, which ends live access tokens at once; Todo0 MCP checks each token with Todo0")
	fs.IntVar(&o.MCPMaxSessionsPerUser, "max-sessions-per-user", 16, "Todo0 MCP sessions one user may hold (a new one closes the oldest); a load run against this sandbox needs one per agent (load -c)")
	fs.BoolVar(&verbose, "v", false, "log every request")
	fs.BoolVar(&asJSON, "json", false, "once every party is ready, print one line of JSON (URLs, demo credentials, admin tokens) instead of the banner, for harnesses in other languages")
	quirkFlag(fs, &o.Quirks)
	if err := fs.Parse(args); err != nil {
		return o, false, false, err
	}
	if o.MCPMaxSessionsPerUser < 1 || o.MCPMaxSessionsPerUser > 100_000 {
		return o, false, false, fmt.Errorf("up: --max-sessions-per-user must be between 1 and 100000, got %d", o.MCPMaxSessionsPerUser)
	}
	return o, verbose, asJSON, nil
}

func startUp(ctx context.Context, o sandbox.Options, asJSON bool, out io.Writer) error {
	start := time.Now()
	sb, err := sandbox.Start(ctx, o)
	if err != nil {
		return err
	}
	defer sb.Close()
	if asJSON {
		if err := json.NewEncoder(out).Encode(upConfig{
			Config: sandboxclient.Config{
				URLs:        sandboxclient.NewURLs(sb.IdPURL, sb.Agent0URL, sb.Todo0URL, sb.MCPURL),
				Credentials: sandboxclient.DemoCredentials(),
			},
			DataDir: o.DataDir,
		}); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	fmt.Fprintf(out, "XAA sandbox is up (%s), data in %s\n\n", time.Since(start).Round(time.Millisecond), o.DataDir)
	if q := o.Quirks.String(); q != "" {
		fmt.Fprintf(out, "Vendor behaviours on (docs/quirks.md): %s\n\n", q)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  Acme IdP\t"+sb.IdPURL+"\tenterprise IdP (OIDC, token exchange -> ID-JAG)")
	fmt.Fprintln(tw, "  Agent0\t"+sb.Agent0URL+"\tthe AI app: start here")
	fmt.Fprintln(tw, "  Todo0\t"+sb.Todo0URL+"\ttodo app and its authorization server")
	fmt.Fprintln(tw, "  Todo0 MCP\t"+sb.MCPResource+"\tMCP server (streamable HTTP)")
	tw.Flush()
	fmt.Fprintln(out, "\nDemo users (password):")
	for _, u := range demo.Users {
		note := "assigned to " + fmt.Sprint(u.Apps)
		switch {
		case !u.Active:
			note = "deactivated"
		case u.Admin:
			note = "IdP admin"
		}
		fmt.Fprintf(out, "  %-6s %-12s %s\n", u.Username, u.Password, note)
	}
	fmt.Fprintf(out, "\nOpen %s and sign in as alice. Ctrl-C stops the sandbox.\n", sb.Agent0URL)
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping...")
	return nil
}
