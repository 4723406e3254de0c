//go:build heavy

package bench

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
)

// TestPartyFootprint measures each party as its own binary: the time from
// exec to a healthy /healthz on a data directory that already holds its
// database and keys, and the resident set size after 3 s idle. It reports
// against the targets (start-up < 200 ms for all four, < 40 MB
// resident each); it does not fail on them, since the numbers depend on the
// machine. Run: go test -tags heavy -run Footprint -v ./internal/bench
func TestPartyFootprint(t *testing.T) {
	bin, data := t.TempDir(), t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./idp", "./agent0", "./todo0", "./todo0-mcp")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := map[string]int{}
	for _, n := range []string{"idp", "agent0", "todo0", "todo0-mcp"} {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port[n] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	u := func(n string) string { return "http://127.0.0.1:" + strconv.Itoa(port[n]) }
	args := map[string][]string{
		"idp":       {"-public-url", u("idp"), "-data-dir", filepath.Join(data, "idp"), "-agent0-url", u("agent0"), "-todo0-url", u("todo0"), "-todo0-mcp-url", u("todo0-mcp")},
		"todo0":     {"-public-url", u("todo0"), "-data-dir", filepath.Join(data, "todo0"), "-idp-issuer", u("idp"), "-mcp-resource", u("todo0-mcp") + "/mcp"},
		"todo0-mcp": {"-public-url", u("todo0-mcp"), "-auth-server", u("todo0")},
		"agent0":    {"-public-url", u("agent0"), "-data-dir", filepath.Join(data, "agent0"), "-idp-issuer", u("idp"), "-mcp-url", u("todo0-mcp") + "/mcp"},
	}
	order := []string{"idp", "todo0", "todo0-mcp", "agent0"}
	start := func(n string) (*exec.Cmd, time.Duration) {
		c := exec.Command(filepath.Join(bin, n), args[n]...)
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "XAA_LOG_LEVEL=warn"}
		t0 := time.Now()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		for time.Since(t0) < 20*time.Second {
			if resp, err := http.Get(u(n) + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return c, time.Since(t0)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("%s did not become healthy", n)
		return nil, 0
	}
	stop := func(c *exec.Cmd) {
		_ = c.Process.Signal(os.Interrupt)
		_ = c.Wait()
	}
	// First start creates databases and keys (RSA generation for the IdP).
	var first []*exec.Cmd
	for _, n := range order {
		c, d := start(n)
		t.Logf("%-10s first start (creates database and keys): %s", n, d.Round(time.Millisecond))
		first = append(first, c)
	}
	for _, c := range first {
		stop(c)
	}
	// Second start: existing keys.
	var total time.Duration
	var running []*exec.Cmd
	for _, n := range order {
		c, d := start(n)
		total += d
		running = append(running, c)
		t.Logf("%-10s start with existing keys, exec to healthy: %s", n, d.Round(time.Millisecond))
	}
	t.Logf("all four, one after another: %s (target < 200ms)", total.Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	for i, n := range order {
		rss := vmRSS(t, running[i].Process.Pid)
		t.Logf("%-10s idle RSS %.1f MB (target < 40 MB)", n, float64(rss)/1024)
	}
	// Idle again after work: 400 flows from 8 agents, then 5 s of quiet.
	rep, err := load.Run(context.Background(), load.Config{Target: load.Target{IdPURL: u("idp"), Agent0URL: u("agent0"), Todo0URL: u("todo0"), MCPResource: u("todo0-mcp") + "/mcp"},
		Concurrency: 8, Flows: 400})
	if err != nil || !rep.OK() {
		t.Fatalf("load: %v (%d errors %v)", err, rep.Errors, rep.ErrorSample)
	}
	time.Sleep(5 * time.Second)
	for i, n := range order {
		rss := vmRSS(t, running[i].Process.Pid)
		t.Logf("%-10s idle RSS after 400 flows %.1f MB (target < 40 MB)", n, float64(rss)/1024)
	}
	for _, c := range running {
		stop(c)
	}
}

func vmRSS(t *testing.T, pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}
