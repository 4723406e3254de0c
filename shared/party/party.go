// Package party is what the four binaries share around their servers:
// flags that fall back to environment variables, logging, and the run loop.
package party

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
)

// Env returns the environment variable's value, or def.
func Env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// String defines a string flag whose default comes from env when set.
func String(fs *flag.FlagSet, name, env, def, usage string) *string {
	return fs.String(name, Env(env, def), usage+" (env "+env+")")
}

// Duration defines a duration flag whose default comes from env when set.
func Duration(fs *flag.FlagSet, name, env string, def time.Duration, usage string) *time.Duration {
	if v := Env(env, ""); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	return fs.Duration(name, def, usage+" (env "+env+")")
}

// Logger returns the process logger: text on stderr, level from XAA_LOG_LEVEL
// (debug, info, warn, error; default info).
func Logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(Env("XAA_LOG_LEVEL", "info"))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// DefaultAddr is the listen address for a public URL: its port on loopback,
// so a sandbox with well-known demo secrets is not reachable from the network
// unless asked (--addr :7001 in a container).
func DefaultAddr(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Port() == "" {
		return "127.0.0.1:0"
	}
	return "127.0.0.1:" + u.Port()
}

// Server is what each party's server package provides.
type Server interface {
	Handler() http.Handler
	Maintain(ctx context.Context) error
	Close() error
}

// Run listens on addr and serves s until ctx is done, running maintenance
// every minute.
func Run(ctx context.Context, name, addr string, s Server, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen %s: %w", name, addr, err)
	}
	return RunListener(ctx, ln, s, logger)
}

// RunListener serves s on ln until ctx is done.
func RunListener(ctx context.Context, ln net.Listener, s Server, logger *slog.Logger) error {
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Maintain(ctx); err != nil && ctx.Err() == nil {
					logger.Warn("maintenance failed", "err", err)
				}
			}
		}
	}()
	return httpx.Serve(ctx, ln, s.Handler(), logger)
}

// Main runs one party binary: run parses args, builds the server and serves
// it until SIGINT/SIGTERM. It returns the process exit code.
func Main(name string, run func(ctx context.Context, args []string, logger *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := Logger().With("party", name)
	if err := run(ctx, os.Args[1:], logger); err != nil && err != flag.ErrHelp {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, strings.TrimPrefix(err.Error(), name+": "))
		return 1
	}
	return 0
}
