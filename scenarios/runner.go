package scenarios

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
	"github.com/xaa-sandbox/xaa-sandbox/internal/webclient"
	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/dpop"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// Target is where the four parties are. With Play's InProcess the runner
// fills it from the sandbox it starts for each scenario.
type Target struct {
	IdP, Agent0, Todo0 string // base URLs
	MCPBase            string // Todo0 MCP base URL
	MCP                string // Todo0 MCP resource id (MCPBase + /mcp)

	// IdPDataDir is the IdP's data directory (holding idp.db), when the
	// runner may read it: `forge: {sign: idp}` signs with the IdP's own key.
	// Set automatically in-process; `play --idp-data-dir` with --target.
	IdPDataDir string
	// Todo0DataDir is Todo0's data directory (holding todo0.db), for
	// `forge: {sign: todo0}` (access tokens signed by the real AS key).
	Todo0DataDir string
	// Agent0DataDir is Agent0's data directory (holding agent0.db), for
	// `forge: {sign: agent0}` (tokens Agent0 would sign, like an actor token).
	Agent0DataDir string
	clockSkew     time.Duration
}

// DefaultTarget is the documented localhost ports (`go run . up`).
func DefaultTarget() *Target {
	return &Target{IdP: demo.IdPURL, Agent0: demo.Agent0URL, Todo0: demo.Todo0URL, MCPBase: demo.Todo0MCPURL, MCP: demo.Todo0MCPURL + demo.MCPPath, clockSkew: 30 * time.Second}
}

// Options configure Play.
type Options struct {
	// Target plays against parties already running; nil starts a fresh
	// in-process sandbox for every scenario.
	Target *Target
	// Narrator receives each scenario as it finishes (nil: silent).
	Narrator Narrator
	// Logger receives the parties' request logs in-process (nil: discarded).
	Logger *slog.Logger
	// Parallel is how many in-process scenarios play at once (1 when <= 0).
	Parallel int
	// Share plays the scenarios that change nothing global (no setup, no
	// faults, no admin actions, no key rotation) against one shared
	// in-process sandbox instead of a fresh one each: a fresh IdP spends
	// most of its start-up hashing demo passwords and making RSA keys.
	Share bool
	// Quirks start in-process sandboxes with these vendor behaviours
	// (shared/quirks): scenarios written for the strict sandbox then show
	// what changes.
	Quirks quirks.Set
}

// shareable reports whether a scenario leaves the parties as it found them
// for every other scenario playing at the same time.
func shareable(sc *Scenario) bool {
	if sc.Setup.needsInProcess() || len(sc.Setup.Faults) > 0 {
		return false
	}
	for _, list := range [][]*Step{sc.Steps, sc.Cleanup} {
		for _, st := range list {
			// Audit expectations read the IdP's newest record, which another
			// scenario playing at the same time could have written.
			if st.Faults != nil || st.Admin != nil || st.RotateKeys != nil || len(st.Expect.Audit) > 0 {
				return false
			}
		}
	}
	return true
}

// startShared starts the sandbox Share uses.
func startShared(ctx context.Context, o Options) (*Target, func(), error) {
	dir, err := os.MkdirTemp("", "xaa-play-shared-")
	if err != nil {
		return nil, nil, err
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir, Logger: o.Logger, Quirks: o.Quirks})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	t := &Target{IdP: sb.IdPURL, Agent0: sb.Agent0URL, Todo0: sb.Todo0URL, MCPBase: sb.MCPURL, MCP: sb.MCPResource,
		IdPDataDir: filepath.Join(dir, "idp"), Todo0DataDir: filepath.Join(dir, "todo0"), Agent0DataDir: filepath.Join(dir, "agent0"), clockSkew: 30 * time.Second}
	return t, func() { sb.Close(); os.RemoveAll(dir) }, nil
}

// Report is one scenario's result.
type Report struct {
	Name    string        `json:"name"`
	Title   string        `json:"title"`
	Teaches string        `json:"teaches"`
	File    string        `json:"file"`
	Passed  bool          `json:"passed"`
	Skipped string        `json:"skipped,omitempty"`
	Problem string        `json:"problem,omitempty"` // set when the scenario failed: which step and why
	Elapsed string        `json:"elapsed"`
	Steps   []*StepReport `json:"steps"`
}

// StepReport is one step's narration and verdict.
type StepReport struct {
	N        int       `json:"n"`
	Kind     string    `json:"kind"`
	Line     int       `json:"line"`
	Cleanup  bool      `json:"cleanup,omitempty"`
	Explain  string    `json:"explain,omitempty"`
	Calls    []*Call   `json:"calls,omitempty"`
	Tokens   []Decoded `json:"tokens,omitempty"` // tokens the step made itself (forge)
	Notes    []string  `json:"notes,omitempty"`
	Outcome  Outcome   `json:"outcome"`
	Expected string    `json:"expected"`
	Passed   bool      `json:"passed"`
	Problem  string    `json:"problem,omitempty"`
	Elapsed  string    `json:"elapsed"`
}

// Outcome is what actually happened in a step.
type Outcome struct {
	RefusedBy       string `json:"refused_by,omitempty"` // "" = the step succeeded
	Status          int    `json:"status,omitempty"`
	Error           string `json:"error,omitempty"`
	Description     string `json:"description,omitempty"`
	WWWAuthenticate string `json:"www_authenticate,omitempty"`
	Text            string `json:"text,omitempty"`
	Scope           string `json:"scope,omitempty"`

	token string // the token the step issued or forged, for expect.claims
	hasSc bool
	// response is the JSON body of an exchange or redemption, for expect.response.
	response map[string]any
	// reply is Agent0's chat answer that this step added (hasReply).
	reply    string
	hasReply bool
	// auditMark is the IdP's newest audit id before the step, so audit
	// expectations read only records the step itself caused.
	auditMark int64
}

func (o Outcome) String() string {
	if o.RefusedBy == "" {
		if o.Status != 0 {
			return fmt.Sprintf("succeeded (HTTP %d)", o.Status)
		}
		return "succeeded"
	}
	s := "refused by " + o.RefusedBy
	if o.Status != 0 {
		s += fmt.Sprintf(" with HTTP %d", o.Status)
	}
	if o.Error != "" {
		s += " " + o.Error
	}
	return s
}

// Play runs each scenario and returns their reports in order. With
// Parallel > 1 in-process scenarios run concurrently (each has its own
// sandbox); the narrator still receives them in order.
func Play(ctx context.Context, scs []*Scenario, o Options) []*Report {
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	n := o.Parallel
	if n < 1 || o.Target != nil {
		n = 1 // parties that outlive us are shared state: one scenario at a time
	}
	var shared *Target
	if o.Target == nil && o.Share {
		t, stop, err := startShared(ctx, o)
		if err == nil {
			defer stop()
			shared = t
		}
	}
	out := make([]*Report, len(scs))
	done := make([]chan struct{}, len(scs))
	for i := range scs {
		done[i] = make(chan struct{})
	}
	// Start scenarios in order (at most n at a time) while this goroutine
	// narrates them in order as they finish.
	go func() {
		sem := make(chan struct{}, n)
		for i, sc := range scs {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				so := o
				if shared != nil && shareable(sc) {
					so.Target = shared
				}
				out[i] = playOne(ctx, sc, so, attacker)
				close(done[i])
			}()
		}
	}()
	for i := range scs {
		<-done[i]
		if o.Narrator != nil {
			o.Narrator.Scenario(out[i])
		}
	}
	return out
}

func playOne(ctx context.Context, sc *Scenario, o Options, attacker *rsa.PrivateKey) (rep *Report) {
	start := time.Now()
	rep = &Report{Name: sc.Name, Title: sc.Title, Teaches: strings.TrimSpace(sc.Teaches), File: sc.File}
	defer func() { rep.Elapsed = time.Since(start).Round(time.Millisecond).String() }()
	t := o.Target
	if t == nil {
		dir, err := os.MkdirTemp("", "xaa-play-")
		if err != nil {
			rep.Problem = err.Error()
			return rep
		}
		defer os.RemoveAll(dir)
		opts := sandbox.Options{
			DataDir:           dir,
			IDJAGTTL:          time.Duration(sc.Setup.IDJAGTTL),
			AccessTokenTTL:    time.Duration(sc.Setup.AccessTokenTTL),
			IDTokenTTL:        time.Duration(sc.Setup.IDTokenTTL),
			ClockSkew:         time.Duration(sc.Setup.ClockSkew),
			IdPJWKSMinRefresh: time.Duration(sc.Setup.JWKSMinRefresh),
			IdPSigningAlg:     sc.Setup.IdPSigningAlg,
			SharedSignals:     sc.Setup.SharedSignals,
			Logger:            o.Logger,
			Quirks:            o.Quirks,
		}
		if opts.ClockSkew == 0 && (sc.Setup.IDJAGTTL != 0 || sc.Setup.AccessTokenTTL != 0 || sc.Setup.IDTokenTTL != 0) {
			// Lifetimes of seconds mean nothing with the default 30 s of
			// tolerance. One second still covers JWT times being whole
			// seconds (a "2 s" token may have only just over 1 s left).
			opts.ClockSkew = time.Second
		}
		sb, err := sandbox.Start(ctx, opts)
		if err != nil {
			rep.Problem = "starting the sandbox: " + err.Error()
			return rep
		}
		defer sb.Close()
		skew := opts.ClockSkew
		if skew == 0 {
			skew = 30 * time.Second
		}
		t = &Target{IdP: sb.IdPURL, Agent0: sb.Agent0URL, Todo0: sb.Todo0URL, MCPBase: sb.MCPURL, MCP: sb.MCPResource,
			IdPDataDir: filepath.Join(dir, "idp"), Todo0DataDir: filepath.Join(dir, "todo0"), Agent0DataDir: filepath.Join(dir, "agent0"), clockSkew: skew}
	} else {
		if sc.Setup.needsInProcess() {
			rep.Skipped = "its setup sets token lifetimes or cache timings, which only a sandbox the runner starts can honour (drop --target)"
			rep.Passed = true
			return rep
		}
		for _, st := range sc.Steps {
			if st.Forge != nil && st.Forge.Sign == "idp" && t.IdPDataDir == "" {
				rep.Skipped = "it signs with the IdP's own key: drop --target, or give --idp-data-dir (e.g. .xaa-data/idp for go run . up)"
				rep.Passed = true
				return rep
			}
			if st.Forge != nil && st.Forge.Sign == "agent0" && t.Agent0DataDir == "" {
				rep.Skipped = "it signs with Agent0's own key, which only a sandbox the runner starts lets it read (drop --target)"
				rep.Passed = true
				return rep
			}
			if st.Forge != nil && st.Forge.Sign == "todo0" && t.Todo0DataDir == "" {
				rep.Skipped = "it signs with the Todo0 AS's own key: drop --target, or give --todo0-data-dir (e.g. .xaa-data/todo0 for go run . up)"
				rep.Passed = true
				return rep
			}
		}
	}
	r := &run{t: t, hc: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		vars: map[string]string{}, seen: map[string]string{}, browsers: map[string]*webclient.Browser{}, attacker: attacker, dpopKeys: map[string]*dpop.Key{}}
	r.vars["idp"], r.vars["agent0"], r.vars["todo0"], r.vars["mcp"], r.vars["mcp_base"] = t.IdP, t.Agent0, t.Todo0, t.MCP, t.MCPBase

	// Faults go back to what was active before, afterwards (with --target
	// the parties outlive us, and someone may have switched faults on).
	before := map[string][]string{}
	touch := func(p string) {
		if _, ok := before[p]; ok || o.Target == nil {
			return
		}
		prev, err := r.activeFaults(ctx, p)
		if err != nil {
			prev = []string{}
		}
		before[p] = prev
	}
	defer func() {
		for p, prev := range before {
			_, _, _ = r.setFaults(context.Background(), p, prev)
		}
	}()
	for _, p := range faultParties {
		names := sc.Setup.Faults[p]
		if len(names) == 0 {
			continue
		}
		touch(p)
		resp, call, err := r.setFaults(ctx, p, names)
		if err != nil || resp.Status != http.StatusOK {
			msg := "could not switch faults on " + p
			if err != nil {
				msg += ": " + err.Error()
			} else {
				msg += fmt.Sprintf(": HTTP %d %s", resp.Status, call.Body)
			}
			rep.Problem = "setup: " + msg
			rep.Steps = append(rep.Steps, &StepReport{Kind: "setup", Calls: []*Call{call}, Problem: msg})
			return rep
		}
		rep.Steps = append(rep.Steps, &StepReport{Kind: "setup", Explain: "Switch on faults at " + partyName(p) + ": " + strings.Join(names, ", "), Calls: []*Call{call}, Passed: true, Expected: "succeeds", Outcome: Outcome{Status: resp.Status}})
	}
	n := 0
	failed := false
	for _, st := range sc.Steps {
		n++
		if st.Faults != nil {
			touch(st.Faults.Party)
		}
		sr := r.step(ctx, st, n)
		rep.Steps = append(rep.Steps, sr)
		if !sr.Passed {
			failed = true
			rep.Problem = fmt.Sprintf("scenario %s, step %d (%s, %s:%d): %s", sc.Name, n, st.Kind, sc.File, st.Line, sr.Problem)
			break
		}
	}
	for _, st := range sc.Cleanup {
		n++
		sr := r.step(ctx, st, n)
		sr.Cleanup = true
		rep.Steps = append(rep.Steps, sr)
		if !sr.Passed && !failed {
			failed = true
			rep.Problem = fmt.Sprintf("scenario %s, cleanup step %d (%s, %s:%d): %s", sc.Name, n, st.Kind, sc.File, st.Line, sr.Problem)
		}
	}
	if o.Target != nil && len(r.made) > 0 {
		sr := r.deleteMadeTodos(ctx)
		rep.Steps = append(rep.Steps, sr)
		if !sr.Passed && !failed {
			failed = true
			rep.Problem = fmt.Sprintf("scenario %s, restoring: %s", sc.Name, sr.Problem)
		}
	}
	rep.Passed = !failed
	return rep
}

// run is one scenario's state: where the parties are, saved values, browsers.
type run struct {
	t        *Target
	hc       *http.Client
	vars     map[string]string
	browsers map[string]*webclient.Browser
	seen     map[string]string // raw token -> where it was first shown
	attacker *rsa.PrivateKey
	made     []madeTodo           // todos created through Todo0 MCP, deleted afterwards with --target
	dpopKeys map[string]*dpop.Key // the runner's DPoP keys, by name
}

func (r *run) browser(user string) *webclient.Browser {
	b, ok := r.browsers[user]
	if !ok {
		b = webclient.New()
		r.browsers[user] = b
	}
	return b
}

var varRe = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)\}`)

// expand replaces ${name} with saved values; an unknown name is an error.
func (r *run) expand(s string) (string, error) {
	var missing []string
	out := varRe.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := r.vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("${%s} is not set: an earlier step must produce it", missing[0])
	}
	return out, nil
}

// expandAny expands strings inside YAML values.
func (r *run) expandAny(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return r.expand(t)
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			e, err := r.expandAny(x)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			e, err := r.expandAny(x)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	return v, nil
}

// naturalParty is who answers a step's request, hence who refuses.
func naturalParty(kind string) string {
	switch kind {
	case "exchange", "sign_in", "refresh", "admin", "idp_logout", "rotate_keys":
		return "idp"
	case "redeem":
		return "todo0"
	case "call_tool":
		return "mcp"
	case "agent0":
		return "agent0"
	case "discover", "forge":
		return "client"
	}
	return ""
}

func (r *run) step(ctx context.Context, st *Step, n int) *StepReport {
	sr := &StepReport{N: n, Kind: st.Kind, Line: st.Line, Explain: strings.TrimSpace(st.Explain)}
	start := time.Now()
	defer func() { sr.Elapsed = time.Since(start).Round(time.Millisecond).String() }()
	var mark int64
	if len(st.Expect.Audit) > 0 {
		var err error
		if mark, err = r.auditMark(ctx); err != nil {
			sr.Problem = err.Error()
			return sr
		}
	}
	out, err := r.act(ctx, st, sr)
	out.auditMark = mark
	sr.Outcome = out
	sr.Expected = describeExpect(st)
	if err != nil {
		sr.Problem = err.Error()
		return sr
	}
	sr.Problem = r.check(st, out, sr)
	sr.Passed = sr.Problem == ""
	r.dedupe(sr)
	return sr
}

// dedupe shows each token decoded once per scenario; later appearances
// point back to the step that showed it.
func (r *run) dedupe(sr *StepReport) {
	mark := func(ds []Decoded) {
		for i := range ds {
			d := &ds[i]
			if where, ok := r.seen[d.raw]; ok {
				d.Header, d.Claims, d.Seen = nil, nil, where
				continue
			}
			r.seen[d.raw] = fmt.Sprintf("step %d (%s)", sr.N, d.Label)
		}
	}
	for _, c := range sr.Calls {
		mark(c.Tokens)
	}
	mark(sr.Tokens)
}

func (r *run) act(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	switch st.Kind {
	case "sign_in":
		return r.signIn(ctx, st, sr)
	case "refresh":
		return r.refresh(ctx, st, sr)
	case "exchange":
		return r.exchange(ctx, st, sr)
	case "redeem":
		return r.redeem(ctx, st, sr)
	case "forge":
		return r.forge(ctx, st, sr)
	case "discover":
		return r.discover(ctx, st, sr)
	case "call_tool":
		return r.callTool(ctx, st, sr)
	case "wait":
		return r.wait(ctx, st, sr)
	case "faults":
		resp, call, err := r.setFaults(ctx, st.Faults.Party, st.Faults.Active)
		sr.Calls = append(sr.Calls, call)
		if err != nil {
			return Outcome{}, err
		}
		return httpOutcome(st.Faults.Party, resp), nil
	case "admin":
		return r.admin(ctx, st, sr)
	case "rotate_keys":
		return r.rotateKeys(ctx, st, sr)
	case "idp_logout":
		return r.idpLogout(ctx, st, sr)
	case "agent0":
		return r.agent0(ctx, st, sr)
	}
	return Outcome{}, fmt.Errorf("step kind %q is not implemented", st.Kind)
}

// httpOutcome reads an OAuth-style response: 2xx succeeds, anything else is
// a refusal by party with the RFC 6749 error code.
func httpOutcome(party string, resp *response) Outcome {
	// Every challenge (a DPoP refusal sends a Bearer and a DPoP one).
	o := Outcome{Status: resp.Status, WWWAuthenticate: strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")}
	if resp.Status >= 300 {
		o.RefusedBy = party
		o.Error, o.Description = oauthError(resp)
		if o.Error == "" {
			o.Error = challengeParam(o.WWWAuthenticate, "error")
			o.Description = challengeParam(o.WWWAuthenticate, "error_description")
		}
	}
	if sc, ok := resp.JSON["scope"].(string); ok {
		o.Scope, o.hasSc = sc, true
	}
	return o
}

func describeExpect(st *Step) string {
	e := st.Expect
	by := e.RefusedBy
	if by == "" && (e.Error != "" || e.Status >= 400) {
		by = naturalParty(st.Kind)
	}
	if by == "" {
		s := "succeeds"
		if e.Status != 0 {
			s += fmt.Sprintf(" (HTTP %d)", e.Status)
		}
		return s
	}
	s := "refused by " + by
	if e.Status != 0 {
		s += fmt.Sprintf(" with HTTP %d", e.Status)
	}
	if e.Error != "" {
		s += " " + e.Error
	}
	return s
}

// check compares what happened with what the step expects.
func (r *run) check(st *Step, out Outcome, sr *StepReport) string {
	e := st.Expect
	wantBy := e.RefusedBy
	if wantBy == "" && (e.Error != "" || e.Status >= 400) {
		wantBy = naturalParty(st.Kind)
	}
	var probs []string
	if out.RefusedBy != wantBy {
		probs = append(probs, fmt.Sprintf("expected it to be %s, but it %s", describeExpect(st), outcomeVerb(out)))
	} else {
		if e.Status != 0 && out.Status != e.Status {
			probs = append(probs, fmt.Sprintf("expected HTTP %d, got %d", e.Status, out.Status))
		}
		if e.Error != "" && out.Error != e.Error {
			probs = append(probs, fmt.Sprintf("expected error %q, got %q", e.Error, out.Error))
		}
	}
	if len(probs) > 0 && out.Description != "" {
		probs = append(probs, "("+out.Description+")")
	}
	if e.DescriptionContains != "" && !strings.Contains(out.Description, e.DescriptionContains) {
		probs = append(probs, fmt.Sprintf("error_description %q does not contain %q", out.Description, e.DescriptionContains))
	}
	for _, w := range e.WWWAuthenticateContains {
		if w2, err := r.expand(w); err != nil || !strings.Contains(out.WWWAuthenticate, w2) {
			probs = append(probs, fmt.Sprintf("WWW-Authenticate %q does not contain %q", out.WWWAuthenticate, w2))
		}
	}
	if e.ResultContains != "" && !strings.Contains(out.Text, e.ResultContains) {
		probs = append(probs, fmt.Sprintf("result does not contain %q", e.ResultContains))
	}
	for _, w := range e.PageContains {
		if !strings.Contains(out.Text, w) {
			probs = append(probs, fmt.Sprintf("page does not contain %q", w))
		}
	}
	if len(e.ReplyContains) > 0 && !out.hasReply {
		probs = append(probs, "Agent0 added no answer to the chat in this step")
	}
	for _, w := range e.ReplyContains {
		if out.hasReply && !strings.Contains(out.reply, w) {
			probs = append(probs, fmt.Sprintf("Agent0's answer %q does not contain %q", out.reply, w))
		}
	}
	if e.Scope != nil {
		want, _ := r.expand(*e.Scope)
		got := out.Scope
		if !out.hasSc && out.token != "" {
			if d := decode("", out.token); d != nil {
				got, _ = d.Claims["scope"].(string)
			}
		}
		if got != want {
			probs = append(probs, fmt.Sprintf("expected scope %q, got %q", want, got))
		}
	}
	for k, v := range e.Response {
		want, err := r.expandAny(v)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		got, present := out.response[k]
		switch {
		case out.response == nil:
			probs = append(probs, "expected a JSON response, but the step had none")
		case want == nil && present:
			probs = append(probs, fmt.Sprintf("response field %s should be absent, got %s", k, jsonText(got)))
		case want != nil && jsonText(want) != jsonText(got):
			probs = append(probs, fmt.Sprintf("response field %s is %s, expected %s", k, jsonText(got), jsonText(want)))
		}
	}
	if len(e.Claims) > 0 {
		d := decode("", out.token)
		if d == nil {
			probs = append(probs, "expected claims, but the step produced no token")
		} else {
			for k, v := range e.Claims {
				want, err := r.expandAny(v)
				if err != nil {
					probs = append(probs, err.Error())
					continue
				}
				wj, _ := json.Marshal(want)
				gj, _ := json.Marshal(d.Claims[k])
				if string(wj) != string(gj) {
					probs = append(probs, fmt.Sprintf("claim %s is %s, expected %s", k, gj, wj))
				}
			}
		}
	}
	if len(e.Audit) > 0 && len(probs) == 0 {
		if p := r.checkAudit(e.Audit, out.auditMark, sr); p != "" {
			probs = append(probs, p)
		}
	}
	return strings.Join(probs, "; ")
}

func outcomeVerb(o Outcome) string {
	if o.RefusedBy == "" {
		return "succeeded"
	}
	return "was " + o.String()
}

func partyName(p string) string {
	switch p {
	case "idp":
		return "Acme IdP"
	case "todo0":
		return "Todo0"
	case "mcp":
		return "Todo0 MCP"
	case "agent0":
		return "Agent0"
	case "client":
		return "the client (this runner, playing a strict client)"
	}
	return p
}

func (r *run) partyURL(p string) string {
	switch p {
	case "idp":
		return r.t.IdP
	case "todo0":
		return r.t.Todo0
	case "mcp":
		return r.t.MCPBase
	case "agent0":
		return r.t.Agent0
	}
	return ""
}

// adminToken is each party's sandbox admin bearer token.
func adminToken(p string) string {
	switch p {
	case "idp":
		return demo.IdPAdminToken
	case "todo0":
		return demo.Todo0AdminToken
	case "mcp":
		return demo.MCPAdminToken
	}
	return ""
}

func (r *run) setFaults(ctx context.Context, party string, names []string) (*response, *Call, error) {
	if names == nil {
		names = []string{}
	}
	resp, call, err := do(ctx, r.hc, request{Party: party, Method: http.MethodPut, URL: r.partyURL(party) + "/admin/api/faults",
		JSON: map[string]any{"active": names}, Bearer: adminToken(party)})
	if err == nil && resp.Status == http.StatusOK {
		// Show what the active faults do rather than the whole switchboard.
		var st struct {
			Active []string `json:"active"`
			Known  []struct{ Name, Description string }
		}
		if json.Unmarshal(resp.Body, &st) == nil {
			lines := []string{fmt.Sprintf("active: %v", st.Active)}
			for _, k := range st.Known {
				if slices.Contains(st.Active, k.Name) {
					lines = append(lines, "  "+k.Name+": "+k.Description)
				}
			}
			call.Body = strings.Join(lines, "\n")
		}
	}
	return resp, call, err
}

// Discard is a writer for quiet runs.
var Discard io.Writer = io.Discard

// jsonText is v as compact JSON (absent and null both print null).
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
