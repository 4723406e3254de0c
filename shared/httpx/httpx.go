// Package httpx is the HTTP plumbing every party shares: server timeouts,
// body limits, panic recovery and request logs that never carry a token.
package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// MaxBodyBytes bounds any request body unless a handler sets a tighter limit.
const MaxBodyBytes = 1 << 20

// NewServer returns an http.Server with timeouts that keep a slow or hostile
// client from holding connections. There is no WriteTimeout because MCP's
// streamable HTTP keeps server-sent-event responses open.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Serve serves h on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := NewServer(h, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = srv.Close()
		}
		<-errc
		return err
	}
}

// Middleware wraps a party's handler h with the Host check (CheckHost on the
// hosts of publicURL), panic recovery, a body limit and a request log. The
// logger names the party (logger.With("party", ...)); the log lines add only
// the request.
func Middleware(publicURL string, logger *slog.Logger, h http.Handler) http.Handler {
	h = CheckHost(NewHosts(publicURL), h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !rec.wrote {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			logger.Info("http",
				"method", r.Method,
				"path", r.URL.Path,
				"query", RedactQuery(r.URL.Query()),
				"status", rec.status,
				"ms", time.Since(start).Milliseconds(),
			)
		}()
		h.ServeHTTP(rec, r.WithContext(oauth.ContextWithLogger(r.Context(), logger)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer (SSE).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// sensitive are parameters whose values are credentials or one-time codes.
var sensitive = map[string]bool{
	"code": true, "access_token": true, "id_token": true, "refresh_token": true,
	"subject_token": true, "actor_token": true, "assertion": true, "client_secret": true,
	"client_assertion": true, "password": true, "code_verifier": true, "id_token_hint": true,
	"token": true, "state": true, "nonce": true,
}

// RedactQuery renders a query string with sensitive values shortened.
func RedactQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if sensitive[strings.ToLower(k)] {
				v = Redact(v)
			}
			out.Add(k, v)
		}
	}
	return out.Encode()
}

// Redact shortens a token to a prefix and its length, enough to tell two
// tokens apart in a log, too little to use one.
func Redact(tok string) string {
	if tok == "" {
		return ""
	}
	n := len(tok)
	keep := 6
	if n <= 12 {
		keep = 0
	}
	return tok[:keep] + "…(" + strconv.Itoa(n) + " chars)"
}

// PublicBase checks that a configured public URL is absolute http(s) with no
// path, query or fragment, and returns it without a trailing slash.
func PublicBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("must be an absolute http(s) URL, e.g. http://localhost:7001")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must have no path, query or fragment")
	}
	return u.Scheme + "://" + u.Host, nil
}
