//go:build heavy

package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/load"
	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// dbSize is a database's live bytes (pages in use) and its files' size.
type dbSize struct{ live, file int64 }

func measure(t *testing.T, path string) dbSize {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pages, free, size int64
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT (SELECT page_count FROM pragma_page_count()), (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())`).Scan(&pages, &free, &size); err != nil {
		t.Fatal(err)
	}
	var file int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if st, err := os.Stat(path + suffix); err == nil {
			file += st.Size()
		}
	}
	return dbSize{live: (pages - free) * size, file: file}
}

// TestDiskPerFlow runs load flows against a sandbox whose tokens expire in
// seconds (long enough that a busy CI machine redeems and uses them in time), lets them expire, runs every party's maintenance and measures
// what stays on disk: twice (after half the flows and after all), so the
// growth per flow is a difference of two measurements of the same world.
// With the audit log capped (at a quarter of the flows, so the cap is
// reached before the first measurement), the IdP must stop growing;
// Todo0 keeps one row per todo (user data) and nothing per token.
//
//	XAA_DISK_FLOWS=10000 go test -tags heavy -run DiskPerFlow -v -timeout 30m ./internal/bench
func TestDiskPerFlow(t *testing.T) {
	flows := 2000
	if v := os.Getenv("XAA_DISK_FLOWS"); v != "" {
		flows, _ = strconv.Atoi(v)
	}
	auditCap := flows / 4 // reached before the first measurement
	dir := t.TempDir()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: dir, IDJAGTTL: 10 * time.Second, AccessTokenTTL: 10 * time.Second, ClockSkew: time.Second, IdPAuditMaxRows: auditCap})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	target := load.Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}
	files := map[string]string{"idp": "idp/idp.db", "todo0": "todo0/todo0.db", "agent0": "agent0/agent0.db"}
	step := func(n int) map[string]dbSize {
		rep, err := load.Run(ctx, load.Config{Target: target, Concurrency: 8, Flows: n, Duration: 30 * time.Minute})
		if err != nil || rep.Errors > 0 || !rep.OK() {
			t.Fatalf("load: %v %+v", err, rep)
		}
		time.Sleep(12 * time.Second) // every ID-JAG, access token and replay record expires
		for _, p := range []interface{ Maintain(context.Context) error }{sb.IdP, sb.Todo0, sb.MCP, sb.Agent0} {
			if err := p.Maintain(ctx); err != nil {
				t.Fatal(err)
			}
		}
		out := map[string]dbSize{}
		for name, f := range files {
			out[name] = measure(t, filepath.Join(dir, f))
		}
		return out
	}
	half := step(flows / 2)
	full := step(flows - flows/2)
	var total int64
	for _, name := range []string{"idp", "todo0", "agent0"} {
		h, f := half[name], full[name]
		per := float64(f.live-h.live) / float64(flows-flows/2)
		total += f.live
		t.Logf("%-6s after %5d flows: live %8d B, files %8d B | after %5d flows: live %8d B, files %8d B | growth %.1f B/flow",
			name, flows/2, h.live, h.file, flows, f.live, f.file, per)
	}
	t.Logf("all databases after %d flows and maintenance: %d B live (%.1f B/flow overall)", flows, total, float64(total)/float64(flows))
	// The bounds (docs/performance.md): the capped IdP does not grow; Todo0
	// grows by its todos (about 100 B each with the index) and nothing else.
	if g := full["idp"].live - half["idp"].live; g > 64<<10 {
		t.Errorf("the IdP grew %d B over %d flows with the audit log capped at %d records", g, flows-flows/2, auditCap)
	}
	if per := float64(full["todo0"].live-half["todo0"].live) / float64(flows-flows/2); per > 200 {
		t.Errorf("Todo0 grows %.0f B per flow; its todo is about 100 B", per)
	}
	fmt.Fprintln(os.Stderr)
}
