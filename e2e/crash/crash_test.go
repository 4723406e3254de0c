//go:build heavy

// Package crash kills parties with SIGKILL in the middle of load and
// restarts them on the same data: nothing acknowledged may be lost and the
// signing keys may not change. It builds and runs the real binaries, so it
// is heavy: go test -tags heavy ./e2e/crash (.ci/run runs it).
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// party is one running binary.
type party struct {
	name, bin, url string
	args           []string
	cmd            *exec.Cmd
	log            *bytes.Buffer
}

func (p *party) start(t *testing.T) {
	t.Helper()
	p.log = &bytes.Buffer{}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "XAA_LOG_LEVEL=warn"}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy:\n%s", p.name, p.log)
}

// kill sends SIGKILL: no shutdown hook, no flush, no close.
func (p *party) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func build(t *testing.T, dir string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./idp", "./agent0", "./todo0", "./todo0-mcp")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// driver runs flows from n agents until stopped, tolerating errors while a
// party is down, and remembers every acknowledged todo and ID-JAG.
type driver struct {
	agents  []*load.Agent
	stop    atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[string]int64
	jags    int
	errs    int
	flows   atomic.Int64
	runID   string
	lastErr string
}

func (d *driver) run(ctx context.Context) {
	for i, a := range d.agents {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for n := 0; !d.stop.Load(); n++ {
				title := fmt.Sprintf("crash %s agent %d flow %d", d.runID, i, n)
				jag, err := a.Exchange(ctx)
				if err == nil {
					d.mu.Lock()
					d.jags++
					d.mu.Unlock()
					var at string
					if at, err = a.Redeem(ctx, jag); err == nil {
						var id int64
						if id, err = a.CreateTodo(ctx, at, title); err == nil {
							d.mu.Lock()
							d.acked[title] = id
							d.mu.Unlock()
							d.flows.Add(1)
							continue
						}
					}
				}
				d.mu.Lock()
				d.errs++
				d.lastErr = err.Error()
				d.mu.Unlock()
				time.Sleep(20 * time.Millisecond) // a party is down: do not spin
			}
		}()
	}
}

func (d *driver) waitFlows(t *testing.T, n int64) {
	t.Helper()
	start := d.flows.Load()
	deadline := time.Now().Add(60 * time.Second)
	for d.flows.Load() < start+n {
		if time.Now().After(deadline) {
			d.mu.Lock()
			defer d.mu.Unlock()
			t.Fatalf("load stalled at %d flows (errors %d, last %s)", d.flows.Load(), d.errs, d.lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func kids(t *testing.T, url string) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	getJSON(t, url, "", &set)
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	slices.Sort(out)
	return out
}

func getJSON(t *testing.T, url, bearer string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type auditEntry struct {
	ID      int64  `json:"id"`
	Event   string `json:"event"`
	Outcome string `json:"outcome"`
}

func audit(t *testing.T, idp string) []auditEntry {
	var es []auditEntry
	getJSON(t, idp+"/admin/api/audit?limit=10000", demo.IdPAdminToken, &es)
	return es
}

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TestSIGKILLDuringLoad: Todo0 and then the IdP are killed with SIGKILL
// while 6 agents run full flows, and restarted on the same data directory.
// Afterwards every acknowledged todo is stored exactly once, an admin change
// to a user made just before the kill is still there, every audit record
// seen before the kill is still there (and there is one granted
// token_exchange record per ID-JAG received), and both parties publish the
// same signing keys as before.
func TestSIGKILLDuringLoad(t *testing.T) {
	bin, data := t.TempDir(), t.TempDir()
	build(t, bin)
	ports := map[string]int{}
	for _, n := range []string{"idp", "agent0", "todo0", "mcp"} {
		ports[n] = freePort(t)
	}
	url := func(n string) string { return "http://127.0.0.1:" + strconv.Itoa(ports[n]) }
	idp := &party{name: "idp", bin: filepath.Join(bin, "idp"), url: url("idp"), args: []string{
		"-public-url", url("idp"), "-data-dir", filepath.Join(data, "idp"),
		"-agent0-url", url("agent0"), "-todo0-url", url("todo0"), "-todo0-mcp-url", url("mcp")}}
	todo0 := &party{name: "todo0", bin: filepath.Join(bin, "todo0"), url: url("todo0"), args: []string{
		"-public-url", url("todo0"), "-data-dir", filepath.Join(data, "todo0"), "-idp-issuer", url("idp"),
		"-mcp-resource", url("mcp") + demo.MCPPath}}
	mcp := &party{name: "todo0-mcp", bin: filepath.Join(bin, "todo0-mcp"), url: url("mcp"), args: []string{
		"-public-url", url("mcp"), "-auth-server", url("todo0")}}
	agent0 := &party{name: "agent0", bin: filepath.Join(bin, "agent0"), url: url("agent0"), args: []string{
		"-public-url", url("agent0"), "-data-dir", filepath.Join(data, "agent0"), "-idp-issuer", url("idp"), "-mcp-url", url("mcp") + demo.MCPPath}}
	all := []*party{idp, todo0, mcp, agent0}
	for _, p := range all {
		p.start(t)
	}
	t.Cleanup(func() {
		for _, p := range all {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	})
	idpKids, todoKids := kids(t, url("idp")+"/oauth2/jwks"), kids(t, url("todo0")+"/oauth2/jwks")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	target := load.Target{IdPURL: url("idp"), Agent0URL: url("agent0"), Todo0URL: url("todo0"), MCPResource: url("mcp") + demo.MCPPath}
	hc := load.NewHTTPClient(8)
	d := &driver{acked: map[string]int64{}, runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	for range 6 {
		a, err := load.SignIn(ctx, target, hc, "alice", "alice-demo")
		if err != nil {
			t.Fatal(err)
		}
		d.agents = append(d.agents, a)
	}
	d.run(ctx)
	defer func() { d.stop.Store(true); d.wg.Wait() }()

	// 1. Todo0 dies mid-load.
	d.waitFlows(t, 60)
	todo0.kill(t)
	time.Sleep(300 * time.Millisecond)
	todo0.start(t)
	d.waitFlows(t, 60)

	// 2. A user change and the audit trail so far, then the IdP dies mid-load.
	newName := "Bob Brown (renamed " + d.runID + ")"
	patch, _ := json.Marshal(map[string]string{"name": newName})
	req, _ := http.NewRequest(http.MethodPatch, url("idp")+"/admin/api/users/00u_bob", bytes.NewReader(patch))
	req.Header.Set("Authorization", "Bearer "+demo.IdPAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("renaming bob: %v %v", err, resp)
	}
	resp.Body.Close()
	before := audit(t, url("idp"))
	d.waitFlows(t, 20)
	idp.kill(t)
	time.Sleep(300 * time.Millisecond)
	idp.start(t)
	d.waitFlows(t, 60)

	d.stop.Store(true)
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Logf("%d flows acknowledged, %d ID-JAGs received, %d errors while parties were down", len(d.acked), d.jags, d.errs)

	// Todos: every acknowledged one exactly once, under its id.
	uid, err := d.agents[0].Todo0UserID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := load.StoredTodos(ctx, hc, url("todo0"), uid)
	if err != nil {
		t.Fatal(err)
	}
	lost, dup, unacked := load.Compare(d.acked, stored, "crash "+d.runID+" ")
	t.Logf("todos: %d acknowledged, %d lost, %d duplicated, %d stored whose acknowledgement was cut off by a kill", len(d.acked), lost, dup, unacked)
	if lost != 0 || dup != 0 {
		t.Errorf("lost %d, duplicated %d acknowledged todos", lost, dup)
	}
	// The user change.
	var bob user
	getJSON(t, url("idp")+"/admin/api/users/00u_bob", demo.IdPAdminToken, &bob)
	if bob.Name != newName {
		t.Errorf("bob's name after the IdP restart = %q, want %q", bob.Name, newName)
	}
	// The audit trail.
	after := audit(t, url("idp"))
	ids := map[int64]bool{}
	granted := 0
	for _, e := range after {
		ids[e.ID] = true
		if e.Event == "token_exchange" && e.Outcome == "granted" {
			granted++
		}
	}
	missing := 0
	for _, e := range before {
		if !ids[e.ID] {
			missing++
		}
	}
	if missing != 0 {
		t.Errorf("%d of %d audit records from before the kill are gone", missing, len(before))
	}
	if granted < d.jags {
		t.Errorf("%d granted token_exchange audit records for %d ID-JAGs received", granted, d.jags)
	}
	// Keys.
	if got := kids(t, url("idp")+"/oauth2/jwks"); !slices.Equal(got, idpKids) {
		t.Errorf("IdP keys changed: %v -> %v", idpKids, got)
	}
	if got := kids(t, url("todo0")+"/oauth2/jwks"); !slices.Equal(got, todoKids) {
		t.Errorf("Todo0 keys changed: %v -> %v", todoKids, got)
	}
}
