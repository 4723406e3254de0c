//go:build browser

package browser

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write docs/screenshots/*.png from the real pages")

// TestScreenshots drives a short conversation and captures Agent0's chat
// page, its connections panel and the flow inspector. With
// -args -update-screenshots it writes them to docs/screenshots/ (the
// README's images); without, to a temporary directory, so the pages are
// still checked to render. Regenerate with:
//
//	go test -tags browser -run TestScreenshots ./e2e/browser/ -args -update-screenshots
func TestScreenshots(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "..", "docs", "screenshots")
	}
	opts := shortTokens
	if *updateScreenshots {
		// The README's images show the documented URLs, localhost:7001..7004
		// (the ports must be free while they are made).
		sandbox.DefaultPorts(&opts)
	}
	sb := StartSandbox(t, opts)
	alice := NewPerson(t, "alice")
	alice.SignIn(sb.Agent0URL+"/login", "alice", "alice-demo")
	alice.Say("help")
	alice.WaitText("#chat", "tools/list")
	alice.Say("add buy milk")
	alice.WaitText("#chat", "Added")
	alice.Say("add book the team offsite")
	alice.WaitText("#chat", "Added")
	time.Sleep(accessTokenGone) // so the inspector shows a silent re-exchange
	alice.Say("done 1")
	alice.WaitText("#chat", "done")
	alice.Say("show my todos")
	alice.WaitText("#chat", "You have 2 todos")
	alice.Screenshot(filepath.Join(dir, "chat.png"))
	alice.element("#connections", filepath.Join(dir, "connections.png"))

	alice.Go(sb.Agent0URL + "/inspector")
	alice.Click(`details[data-title^="Silent re-exchange"] summary`)
	alice.Screenshot(filepath.Join(dir, "inspector.png"))
	for _, f := range []string{"chat.png", "connections.png", "inspector.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 5000 {
			t.Fatalf("screenshot %s missing or empty: %v", f, err)
		}
	}
}

// element saves a PNG of the element matching sel.
func (p *Person) element(sel, path string) {
	p.t.Helper()
	var png []byte
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Screenshot(sel, &png, chromedp.ByQuery)); err != nil {
		p.t.Fatalf("screenshot of %s: %v", sel, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
