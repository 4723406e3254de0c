//go:build browser

// Package browser drives the sandbox's pages in a real, headless Chromium
// (Debian's chromium package at /usr/bin/chromium, or $CHROMIUM) through the
// DevTools protocol (github.com/chromedp/chromedp). It is behind the
// "browser" build tag so that plain `go test ./...` stays fast and
// Chromium-free:
//
//	go test -tags browser ./e2e/browser/...
//
// # Helper API, for adding tests next to these
//
//	sb := StartSandbox(t, sandbox.Options{})  // all four parties, t.TempDir(), closed at cleanup
//	alice := NewPerson(t, "alice")            // one person = one Chromium with its own
//	                                          // user-data-dir, so its own cookie jar
//	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")  // fills the Acme form if asked
//	alice.Go(url)                             // navigate and wait for the page to load
//	alice.Fill(`input[name="message"]`, "add buy milk")
//	alice.Click(`#send`)                      // click; waits for the next page when it navigates
//	alice.Submit(`form#chat`)                 // submit a form and wait for the next page
//	alice.Say("add buy milk")                 // Agent0's chat: fill #message, click #send
//	alice.WaitText(`#result`, "buy milk")     // poll until the element's text contains it
//	alice.MustContain("Todo0 connected")      // the whole page's visible text
//	alice.Text(`#todos`), alice.HTML(), alice.URL(), alice.Exists(sel)
//	alice.Run(chromedp actions...)            // anything else chromedp can do
//	alice.Screenshot(path)                    // full-page PNG
//
// Selectors are CSS selectors (chromedp.ByQuery). Every helper fails the
// test (t.Fatalf) on error or after ActionTimeout, naming what it waited for.
//
// When a test fails, each of its persons saves a full-page screenshot and the
// page's HTML to e2e/artifacts/<TestName>-<person>.png / .html (git-ignored),
// so a CI failure can be looked at afterwards.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// ActionTimeout bounds each helper call (navigation, wait, click).
const ActionTimeout = 30 * time.Second

// ArtifactsDir receives screenshots and HTML of failed tests, relative to
// this package's directory (where `go test` runs it): e2e/artifacts.
const ArtifactsDir = "../artifacts"

// chromiumPath is the browser binary: $CHROMIUM or Debian's /usr/bin/chromium.
func chromiumPath(t testing.TB) string {
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		// Not a skip: the browser suite is asked for explicitly (-tags
		// browser), and .ci/run installs Chromium before running it.
		t.Fatalf("Chromium not found at %s (install Debian's chromium package, or set $CHROMIUM): %v", p, err)
	}
	return p
}

// StartSandbox runs all four parties on ephemeral loopback ports with a
// fresh t.TempDir() (unless o.DataDir is set) and closes them at cleanup.
func StartSandbox(t testing.TB, o sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	sb, err := sandbox.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("sandbox close: %v", err)
		}
	})
	return sb
}

// Person is one simulated person at one browser: a Chromium process with its
// own profile (so its own cookies), and one tab.
type Person struct {
	t    testing.TB
	Name string
	ctx  context.Context // the tab
}

// NewPerson starts a browser for name. It is closed at cleanup, after saving
// a screenshot and the page's HTML if the test failed.
func NewPerson(t testing.TB, name string) *Person {
	t.Helper()
	// The profile directory is removed by hand: Chromium's helper processes
	// can still write into it for a moment after the browser has exited,
	// which makes t.TempDir's own cleanup fail a test that passed.
	profile, err := os.MkdirTemp("", "xaa-browser-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		// Exactly these flags (not chromedp's long default list): a quiet,
		// headless browser that talks to nothing but the sandbox.
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	p := &Person{t: t, Name: name, ctx: tctx}
	// Start the browser now so a broken Chromium fails here, clearly, and
	// give every page the same desktop-sized viewport. (No timeout on this
	// first Run: cancelling its context would stop the browser.)
	if err := chromedp.Run(tctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		cancelTab()
		cancelAlloc()
		removeProfile(t, profile)
		t.Fatalf("start Chromium for %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.saveArtifacts()
		}
		cancelTab()
		cancelAlloc()
		removeProfile(t, profile)
	})
	return p
}

// removeProfile deletes a browser profile, retrying while Chromium's last
// helper processes finish writing to it.
func removeProfile(t testing.TB, dir string) {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("browser profile %s left behind: %v", dir, err)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// artifactBase is e2e/artifacts/<TestName>-<person>.
func (p *Person) artifactBase() string {
	return filepath.Join(ArtifactsDir, unsafeName.ReplaceAllString(p.t.Name()+"-"+p.Name, "_"))
}

func (p *Person) saveArtifacts() {
	if err := os.MkdirAll(ArtifactsDir, 0o755); err != nil {
		p.t.Logf("artifacts: %v", err)
		return
	}
	base := p.artifactBase()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	var png []byte
	var html, loc string
	if err := chromedp.Run(ctx,
		chromedp.Location(&loc),
		chromedp.OuterHTML("html", &html, chromedp.ByQuery),
		chromedp.FullScreenshot(&png, 100), // 100 = PNG (less is JPEG)
	); err != nil {
		p.t.Logf("artifacts for %s: %v", p.Name, err)
	}
	if len(png) > 0 {
		_ = os.WriteFile(base+".png", png, 0o644)
	}
	if html != "" {
		_ = os.WriteFile(base+".html", []byte("<!-- "+loc+" -->\n"+html), 0o644)
	}
	abs, _ := filepath.Abs(base)
	p.t.Logf("%s's browser was at %s; saved %s.png and .html", p.Name, loc, abs)
}

// Run runs chromedp actions in the person's tab within ActionTimeout.
func (p *Person) Run(what string, actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v (page %s)", p.Name, what, err, p.URL())
	}
}

// Go navigates to u and waits for the page to load.
func (p *Person) Go(u string) {
	p.t.Helper()
	p.Run("open "+u, chromedp.Navigate(u), chromedp.WaitReady("body", chromedp.ByQuery))
}

// URL is the tab's current address.
func (p *Person) URL() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	var loc string
	_ = chromedp.Run(ctx, chromedp.Location(&loc))
	return loc
}

// Fill replaces the value of the input matching sel with text.
func (p *Person) Fill(sel, text string) {
	p.t.Helper()
	set := chromedp.SetValue(sel, text, chromedp.ByQuery)
	if text == "" {
		set = chromedp.Clear(sel, chromedp.ByQuery)
	}
	p.Run("fill "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), set)
}

// Click clicks the element matching sel. If the click navigates (a link or
// a form's submit button), Click waits for the new page to load.
func (p *Person) Click(sel string) {
	p.t.Helper()
	p.navigating("click "+sel, chromedp.Click(sel, chromedp.ByQuery, chromedp.NodeVisible))
}

// Submit submits the form matching sel (or the form of the element matching
// sel) and waits for the next page.
func (p *Person) Submit(sel string) {
	p.t.Helper()
	p.navigating("submit "+sel, chromedp.Submit(sel, chromedp.ByQuery))
}

// navigating runs act, and if it starts a navigation waits for its load
// event: every sandbox page is server-rendered, so a form post or a link
// click is a full page load.
func (p *Person) navigating(what string, act chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		started bool
	)
	loaded := make(chan struct{}, 1)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	chromedp.ListenTarget(lctx, func(ev any) {
		switch ev.(type) {
		case *page.EventFrameStartedLoading:
			mu.Lock()
			started = true
			mu.Unlock()
		case *page.EventLoadEventFired:
			select {
			case loaded <- struct{}{}:
			default:
			}
		}
	})
	if err := chromedp.Run(ctx, act); err != nil {
		p.t.Fatalf("%s: %s: %v (page %s)", p.Name, what, err, p.URL())
	}
	// Give the browser a moment to start navigating, then wait for the load.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		mu.Lock()
		s := started
		mu.Unlock()
		if s {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	s := started
	mu.Unlock()
	if !s {
		return // no navigation (an in-page control)
	}
	select {
	case <-loaded:
	case <-ctx.Done():
		p.t.Fatalf("%s: %s: the next page did not load within %s (page %s)", p.Name, what, ActionTimeout, p.URL())
	}
	p.Run(what+": wait for body", chromedp.WaitReady("body", chromedp.ByQuery))
}

// Exists reports whether an element matches sel right now.
func (p *Person) Exists(sel string) bool {
	p.t.Helper()
	var nodes []*cdp.Node
	p.Run("look for "+sel, chromedp.Nodes(sel, &nodes, chromedp.ByQuery, chromedp.AtLeast(0)))
	return len(nodes) > 0
}

// Text is the visible text of the first element matching sel (its
// innerText, or textContent for SVG elements, which have no innerText).
func (p *Person) Text(sel string) string {
	p.t.Helper()
	var s string
	p.Run("read "+sel, chromedp.WaitReady(sel, chromedp.ByQuery), chromedp.Evaluate(textJS(sel), &s))
	return s
}

func textJS(sel string) string {
	q, _ := json.Marshal(sel)
	return `(function(){const e=document.querySelector(` + string(q) + `);return e?(e.innerText??e.textContent??""):""})()`
}

// HTML is the current page's HTML.
func (p *Person) HTML() string {
	p.t.Helper()
	var s string
	p.Run("read the page's HTML", chromedp.OuterHTML("html", &s, chromedp.ByQuery))
	return s
}

// MustContain fails unless the page's visible text contains every want.
func (p *Person) MustContain(want ...string) {
	p.t.Helper()
	body := p.Text("body")
	for _, w := range want {
		if !strings.Contains(body, w) {
			p.t.Fatalf("%s: the page %s does not say %q; it says:\n%s", p.Name, p.URL(), w, body)
		}
	}
}

// MustNotContain fails if the page's visible text contains any of unwanted.
func (p *Person) MustNotContain(unwanted ...string) {
	p.t.Helper()
	body := p.Text("body")
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			p.t.Fatalf("%s: the page %s says %q; it should not:\n%s", p.Name, p.URL(), w, body)
		}
	}
}

// WaitText polls until the text of the element matching sel contains want.
func (p *Person) WaitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(ActionTimeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(textJS(sel), &last))
		cancel()
		if err == nil && strings.Contains(last, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s: %s never said %q on %s; it says:\n%s", p.Name, sel, want, p.URL(), last)
}

// SignIn opens start (an app's /login) and, if Acme shows its login form,
// signs in as username. It returns with the app's page loaded, and reports
// whether a password was asked for (false means single sign-on reused the
// Acme session).
func (p *Person) SignIn(start, username, password string) (askedPassword bool) {
	p.t.Helper()
	p.Go(start)
	if !p.Exists(`input[name="password"]`) {
		return false
	}
	p.Fill(`input[name="username"]`, username)
	p.Fill(`input[name="password"]`, password)
	p.Submit(`input[name="password"]`)
	return true
}

// Say types text into Agent0's chat box and sends it (a form post; the
// answer is on the next page, in #chat).
func (p *Person) Say(text string) {
	p.t.Helper()
	p.Fill("#message", text)
	p.Click("#send")
}

// Screenshot saves a full-page PNG of the current page to path.
func (p *Person) Screenshot(path string) {
	p.t.Helper()
	var png []byte
	p.Run("screenshot", chromedp.FullScreenshot(&png, 100))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// String names the person in messages.
func (p *Person) String() string { return fmt.Sprintf("%s's browser", p.Name) }
