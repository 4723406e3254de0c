package peer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// startPeer serves zitadel/oidc's example OP on a loopback port, with the
// example's "api" client (client_secret_basic, token exchange allowed).
func startPeer(b *testing.B) (issuer string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	issuer = "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) + "/"
	storage.RegisterClients(storage.WebClient("api", "secret", "http://localhost:9999/auth/callback"))
	st := storage.NewStorage(storage.NewUserStore(issuer))
	router := exampleop.SetupServer(issuer, st, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})), false)
	srv := &http.Server{Handler: router}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return issuer
}

// peerIDToken signs test-user in at the example OP (its login form) and
// returns the ID token of an authorization code flow.
func peerIDToken(b *testing.B, ctx context.Context, hc *http.Client, issuer string) string {
	jar, _ := cookiejar.New(nil)
	var code string
	c := &http.Client{Transport: hc.Transport, Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "localhost:9999" {
			code = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}}
	q := url.Values{"client_id": {"api"}, "response_type": {"code"}, "scope": {"openid profile"}, "redirect_uri": {"http://localhost:9999/auth/callback"}, "state": {"s1234567"}, "nonce": {"n1234567"}}
	resp, err := c.Get(issuer + "auth?" + q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		b.Fatalf("no login form at the peer: %s", body)
	}
	resp, err = c.PostForm(issuer+"login/username", url.Values{"id": {string(m[1])}, "username": {"test-user@localhost"}, "password": {"verysecure"}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if code == "" {
		b.Fatalf("the peer's sign-in did not redirect with a code (HTTP %d)", resp.StatusCode)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := post(ctx, hc, issuer+"oauth/token", "api", "secret", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://localhost:9999/auth/callback"}}, &tok); err != nil || tok.IDToken == "" {
		b.Fatalf("the peer's code exchange: %v", err)
	}
	return tok.IDToken
}

// post is the one client both token endpoints are driven with: a form with
// client_secret_basic, the JSON answer decoded.
func post(ctx context.Context, hc *http.Client, endpoint, id, secret string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d %s", endpoint, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// exchanges starts this sandbox and the example OP side by side, signs a
// user in at each, and returns one token exchange at each through the same
// HTTP client (conns idle connections per host) and form code.
func exchanges(b *testing.B, conns int) (ours, theirs func() error) {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close() })
	hc := load.NewHTTPClient(conns)
	a, err := load.SignIn(ctx, load.Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}, hc, "alice", "alice-demo")
	if err != nil {
		b.Fatal(err)
	}
	peer := startPeer(b)
	peerIDT := peerIDToken(b, ctx, hc, peer)

	ours = func() error {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		err := post(ctx, hc, a.TokenEndpoint, demo.Agent0IdPClientID, demo.Agent0IdPClientSecret, url.Values{
			"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDJAG},
			"audience": {sb.Todo0URL}, "resource": {sb.MCPResource}, "scope": {demo.ScopeRead + " " + demo.ScopeWrite},
			"subject_token": {a.IDToken}, "subject_token_type": {oauth.TokenTypeIDToken},
		}, &out)
		if err == nil && out.AccessToken == "" {
			err = fmt.Errorf("no ID-JAG")
		}
		return err
	}
	theirs = func() error {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		err := post(ctx, hc, peer+"oauth/token", "api", "secret", url.Values{
			"grant_type": {oauth.GrantTypeTokenExchange}, "requested_token_type": {oauth.TokenTypeIDToken},
			"subject_token": {peerIDT}, "subject_token_type": {oauth.TokenTypeIDToken}, "scope": {"openid profile"},
		}, &out)
		if err == nil && out.AccessToken == "" {
			err = fmt.Errorf("no token from the peer")
		}
		return err
	}
	for _, f := range []func() error{ours, theirs} { // warm up, and fail early
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	// Same algorithm on both sides: the peer's ID tokens are RS256 JWTs too.
	if h, _, _ := strings.Cut(peerIDT, "."); !strings.Contains(decodeSegment(h), `"RS256"`) {
		b.Fatalf("the peer's ID token header %s is not RS256", decodeSegment(h))
	}
	return ours, theirs
}

// BenchmarkTokenExchangeVsPeer alternates one token exchange at this IdP
// (ID token -> ID-JAG: RS256 verify + RS256 sign, policy checks, a durable
// audit record) with one at the example OP (ID token -> ID token: RS256
// verify + RS256 sign), through the same HTTP client and form code, and
// reports each one's wall and CPU time and ours/peer (> 1: we are slower;
// the target is <= 1, throughput at least the peer's).
func BenchmarkTokenExchangeVsPeer(b *testing.B) {
	ours, theirs := exchanges(b, 4)
	var oursT, theirsT, oursC, theirsC time.Duration
	for b.Loop() {
		c0, t0 := cpuTime(), time.Now()
		if err := ours(); err != nil {
			b.Fatal(err)
		}
		c1, t1 := cpuTime(), time.Now()
		if err := theirs(); err != nil {
			b.Fatal(err)
		}
		c2, t2 := cpuTime(), time.Now()
		oursT, theirsT = oursT+t1.Sub(t0), theirsT+t2.Sub(t1)
		oursC, theirsC = oursC+c1-c0, theirsC+c2-c1
	}
	n := float64(b.N)
	b.ReportMetric(float64(oursT.Microseconds())/n, "ours-us")
	b.ReportMetric(float64(theirsT.Microseconds())/n, "peer-us")
	b.ReportMetric(float64(oursT)/float64(theirsT), "ours/peer")
	b.ReportMetric(float64(oursC.Microseconds())/n, "ours-cpu-us")
	b.ReportMetric(float64(theirsC.Microseconds())/n, "peer-cpu-us")
	b.ReportMetric(float64(oursC)/float64(theirsC), "cpu-ours/peer")
}

func decodeSegment(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return string(b)
}

// BenchmarkTokenExchangeThroughputVsPeer measures throughput under
// concurrency: each round runs peerClients clients doing peerPerClient
// exchanges each at this IdP, then the same at the example OP, alternating
// which goes first, and reports exchanges per second of each and
// ours/peer (>= 1: our throughput is at least the peer's).
func BenchmarkTokenExchangeThroughputVsPeer(b *testing.B) {
	const peerClients, peerPerClient = 8, 25
	ours, theirs := exchanges(b, peerClients)
	var oursC, theirsC time.Duration
	burst := func(f func() error, cpu *time.Duration) time.Duration {
		start, c0 := time.Now(), cpuTime()
		defer func() { *cpu += cpuTime() - c0 }()
		errs := make(chan error, peerClients)
		for range peerClients {
			go func() {
				var err error
				for range peerPerClient {
					if err = f(); err != nil {
						break
					}
				}
				errs <- err
			}()
		}
		for range peerClients {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var oursT, theirsT time.Duration
	round := 0
	for b.Loop() {
		if round%2 == 0 {
			oursT += burst(ours, &oursC)
			theirsT += burst(theirs, &theirsC)
		} else {
			theirsT += burst(theirs, &theirsC)
			oursT += burst(ours, &oursC)
		}
		round++
	}
	n := float64(b.N * peerClients * peerPerClient)
	b.ReportMetric(n/oursT.Seconds(), "ours-per-s")
	b.ReportMetric(n/theirsT.Seconds(), "peer-per-s")
	b.ReportMetric(float64(theirsT)/float64(oursT), "throughput-ours/peer")
	// CPU time per exchange under concurrency, and the cores each kept
	// busy: below the machine's cores, something other than CPU limits it.
	b.ReportMetric(float64(oursC.Microseconds())/n, "ours-cpu-us")
	b.ReportMetric(float64(theirsC.Microseconds())/n, "peer-cpu-us")
	b.ReportMetric(oursC.Seconds()/oursT.Seconds(), "ours-cores")
	b.ReportMetric(theirsC.Seconds()/theirsT.Seconds(), "peer-cores")
}
