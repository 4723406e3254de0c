package load

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
)

// Config bounds a load run.
type Config struct {
	Target
	Concurrency int           // simulated agents (8)
	Flows       int           // total flows across all agents (1000)
	Duration    time.Duration // stop starting flows after this (5m)
	User        string        // who the agents act for ("alice")
	Password    string        // ("alice-demo")
	// Progress, when set, receives a line every few seconds.
	Progress io.Writer
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Flows <= 0 {
		c.Flows = 1000
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Minute
	}
	if c.User == "" {
		c.User, c.Password = "alice", "alice-demo"
	}
}

// Steps of one flow, in order.
var Steps = []string{"exchange", "redeem", "mcp_tool", "flow"}

// Report is what a run measured and what the check found.
type Report struct {
	RunID       string
	Concurrency int
	SignIns     int
	Flows       int // flows that completed
	Errors      int
	ErrorSample []string // first few distinct errors
	Elapsed     time.Duration
	Latency     map[string]Percentiles // per step
	// Acknowledged are todo titles whose create_todo succeeded, with their ids.
	Acknowledged map[string]int64
	// Check results (after the run): acknowledged todos missing, titles of
	// this run stored more than once, titles stored that were never acknowledged.
	Lost, Duplicated, Unacknowledged int
	Checked                          bool
}

// Percentiles of one step's latency.
type Percentiles struct {
	N             int
	P50, P99, Max time.Duration
}

// FlowsPerSecond is completed flows over wall time.
func (r *Report) FlowsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Flows) / r.Elapsed.Seconds()
}

// OK is the bar: no errors, every flow checked, nothing lost or duplicated.
func (r *Report) OK() bool {
	return r.Errors == 0 && r.Checked && r.Lost == 0 && r.Duplicated == 0 && r.Unacknowledged == 0
}

// Print writes the report as a small table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "run %s: %d agents, %d sign-ins, %d flows in %s = %.1f flows/s, %d errors\n",
		r.RunID, r.Concurrency, r.SignIns, r.Flows, r.Elapsed.Round(time.Millisecond), r.FlowsPerSecond(), r.Errors)
	fmt.Fprintf(w, "  %-10s %8s %10s %10s %10s\n", "step", "n", "p50", "p99", "max")
	for _, s := range Steps {
		p := r.Latency[s]
		fmt.Fprintf(w, "  %-10s %8d %10s %10s %10s\n", s, p.N, round(p.P50), round(p.P99), round(p.Max))
	}
	for _, e := range r.ErrorSample {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if r.Checked {
		fmt.Fprintf(w, "check: %d acknowledged todos, %d lost, %d duplicated, %d stored but never acknowledged\n",
			len(r.Acknowledged), r.Lost, r.Duplicated, r.Unacknowledged)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d > 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// recorder collects latencies and errors from all agents.
type recorder struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration
	errs    int
	sample  []string
	acked   map[string]int64
	flows   int
	signIns int
}

func (r *recorder) step(name string, d time.Duration) {
	r.mu.Lock()
	r.lat[name] = append(r.lat[name], d)
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs++
	msg := err.Error()
	if len(r.sample) < 5 && !slices.Contains(r.sample, msg) {
		r.sample = append(r.sample, msg)
	}
}

// Run starts cfg.Concurrency agents that share cfg.Flows flows, stops
// starting new ones after cfg.Duration, then checks the stored todos.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	hc := NewHTTPClient(cfg.Concurrency)
	defer hc.CloseIdleConnections()
	rep := &Report{RunID: newRunID(), Concurrency: cfg.Concurrency}
	rec := &recorder{lat: map[string][]time.Duration{}, acked: map[string]int64{}}

	// Sign every agent in first, so the measured phase is flows only.
	agents := make([]*Agent, cfg.Concurrency)
	var wg sync.WaitGroup
	var signErr atomic.Value
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := SignIn(ctx, cfg.Target, hc, cfg.User, cfg.Password)
			if err != nil {
				signErr.Store(err)
				return
			}
			agents[i] = a
		}()
	}
	wg.Wait()
	if err, _ := signErr.Load().(error); err != nil {
		return nil, fmt.Errorf("signing the agents in: %w", err)
	}
	rec.signIns = len(agents)

	deadline := time.Now().Add(cfg.Duration)
	var next atomic.Int64
	start := time.Now()
	stopProgress := progress(cfg.Progress, rec, start)
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n := next.Add(1)
				if n > int64(cfg.Flows) {
					return
				}
				title := fmt.Sprintf("load %s agent %d flow %d", rep.RunID, i, n)
				if err := oneFlow(ctx, a, rec, title); err != nil {
					rec.fail(err)
				}
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	stopProgress()

	rep.Flows, rep.Errors, rep.ErrorSample, rep.Acknowledged, rep.SignIns = rec.flows, rec.errs, rec.sample, rec.acked, rec.signIns
	rep.Latency = map[string]Percentiles{}
	for _, s := range Steps {
		rep.Latency[s] = percentiles(rec.lat[s])
	}
	if len(rep.Acknowledged) > 0 || rep.Errors > 0 {
		if err := Check(ctx, hc, agents[0], rep); err != nil {
			return rep, fmt.Errorf("checking the stored todos: %w", err)
		}
	}
	return rep, nil
}

// oneFlow is exchange -> redeem -> MCP create_todo, each step timed.
func oneFlow(ctx context.Context, a *Agent, rec *recorder, title string) error {
	t0 := time.Now()
	jag, err := a.Exchange(ctx)
	if err != nil {
		return err
	}
	t1 := time.Now()
	rec.step("exchange", t1.Sub(t0))
	at, err := a.Redeem(ctx, jag)
	if err != nil {
		return err
	}
	t2 := time.Now()
	rec.step("redeem", t2.Sub(t1))
	id, err := a.CreateTodo(ctx, at, title)
	if err != nil {
		return err
	}
	t3 := time.Now()
	rec.step("mcp_tool", t3.Sub(t2))
	rec.step("flow", t3.Sub(t0))
	rec.mu.Lock()
	rec.flows++
	rec.acked[title] = id
	rec.mu.Unlock()
	return nil
}

func progress(w io.Writer, rec *recorder, start time.Time) func() {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(5 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				rec.mu.Lock()
				f, e := rec.flows, rec.errs
				rec.mu.Unlock()
				el := time.Since(start)
				fmt.Fprintf(w, "  %s: %d flows (%.1f/s), %d errors\n", el.Round(time.Second), f, float64(f)/el.Seconds(), e)
			}
		}
	}()
	return func() { close(done) }
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.5) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return Percentiles{N: len(ds), P50: at(0.50), P99: at(0.99), Max: ds[len(ds)-1]}
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StoredTodo is a todo as Todo0's service API returns it.
type StoredTodo struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// StoredTodos lists the todos Todo0 holds for the Todo0 user id, through the
// service API with Todo0 MCP's service credentials (shared/demo), following
// next_cursor through every page.
func StoredTodos(ctx context.Context, hc *http.Client, todo0URL, userID string) ([]StoredTodo, error) {
	var all []StoredTodo
	cursor := ""
	for {
		var out struct {
			Todos      []StoredTodo `json:"todos"`
			NextCursor string       `json:"next_cursor"`
		}
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		u := todo0URL + "/api/v1/users/" + url.PathEscape(userID) + "/todos?" + q.Encode()
		if err := getJSON(ctx, hc, u, demo.MCPServiceClientID, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Todos...)
		if out.NextCursor == "" {
			return all, nil
		}
		cursor = out.NextCursor
	}
}

// Todo0UserID is the Todo0 user the agent's access tokens name (their sub).
// It runs one exchange and redemption to get a token and reads its payload;
// the token was just issued to us by Todo0, so its signature is not at issue.
func (a *Agent) Todo0UserID(ctx context.Context) (string, error) {
	jag, err := a.Exchange(ctx)
	if err != nil {
		return "", err
	}
	at, err := a.Redeem(ctx, jag)
	if err != nil {
		return "", err
	}
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		return "", errors.New("access token is not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		return "", errors.New("access token has no sub")
	}
	return c.Sub, nil
}

// Check compares the acknowledged todos with what Todo0 stores: every
// acknowledged title exactly once with its acknowledged id, and no stored
// title of this run that was never acknowledged.
func Check(ctx context.Context, hc *http.Client, a *Agent, rep *Report) error {
	uid, err := a.Todo0UserID(ctx)
	if err != nil {
		return err
	}
	stored, err := StoredTodos(ctx, hc, a.T.Todo0URL, uid)
	if err != nil {
		return err
	}
	lost, dup, unacked := Compare(rep.Acknowledged, stored, "load "+rep.RunID+" ")
	rep.Lost, rep.Duplicated, rep.Unacknowledged, rep.Checked = lost, dup, unacked, true
	return nil
}

// Compare counts acknowledged todos missing from stored (or stored under
// another id), titles with prefix stored more than once, and titles with
// prefix stored that were never acknowledged.
func Compare(acked map[string]int64, stored []StoredTodo, prefix string) (lost, dup, unacked int) {
	seen := map[string][]int64{}
	for _, t := range stored {
		if strings.HasPrefix(t.Title, prefix) {
			seen[t.Title] = append(seen[t.Title], t.ID)
		}
	}
	for title, id := range acked {
		ids := seen[title]
		if !slices.Contains(ids, id) {
			lost++
		}
	}
	for title, ids := range seen {
		if len(ids) > 1 {
			dup++
		}
		if _, ok := acked[title]; !ok {
			unacked++
		}
	}
	return lost, dup, unacked
}
