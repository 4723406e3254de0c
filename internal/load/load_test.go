package load

import (
	"context"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/internal/sandbox"
)

// TestCompare is the load bar's bookkeeping: an acknowledged todo must be
// stored exactly once under its acknowledged id.
func TestCompare(t *testing.T) {
	p := "load r1 "
	acked := map[string]int64{p + "a": 1, p + "b": 2}
	for _, tc := range []struct {
		name                  string
		stored                []StoredTodo
		lost, dup, unacknowld int
	}{
		{"all there", []StoredTodo{{1, p + "a"}, {2, p + "b"}, {9, "other run"}}, 0, 0, 0},
		{"one lost", []StoredTodo{{1, p + "a"}}, 1, 0, 0},
		{"wrong id counts as lost", []StoredTodo{{1, p + "a"}, {3, p + "b"}}, 1, 0, 0},
		{"duplicate", []StoredTodo{{1, p + "a"}, {2, p + "b"}, {5, p + "b"}}, 0, 1, 0},
		{"never acknowledged", []StoredTodo{{1, p + "a"}, {2, p + "b"}, {7, p + "c"}}, 0, 0, 1},
	} {
		lost, dup, un := Compare(acked, tc.stored, p)
		if lost != tc.lost || dup != tc.dup || un != tc.unacknowld {
			t.Errorf("%s: lost, dup, unacked = %d, %d, %d; want %d, %d, %d", tc.name, lost, dup, un, tc.lost, tc.dup, tc.unacknowld)
		}
	}
}

// TestRunSmall runs a short load against an in-process sandbox: every flow
// completes and every acknowledged todo is stored exactly once.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rep, err := Run(ctx, Config{Target: Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}, Concurrency: 3, Flows: 12})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Flows != 12 || len(rep.Acknowledged) != 12 {
		t.Fatalf("report not OK: flows %d, errors %d %v, lost %d, dup %d, unacked %d", rep.Flows, rep.Errors, rep.ErrorSample, rep.Lost, rep.Duplicated, rep.Unacknowledged)
	}
	// The check looks at real storage: drop one acknowledgement's id and it is lost.
	for title := range rep.Acknowledged {
		rep.Acknowledged[title] = -1
		break
	}
	if err := Check(ctx, NewHTTPClient(1), mustAgent(t, ctx, sb), rep); err != nil || rep.Lost != 1 {
		t.Fatalf("Check after tampering: err %v, lost %d, want 1", err, rep.Lost)
	}
}

func mustAgent(t *testing.T, ctx context.Context, sb *sandbox.Sandbox) *Agent {
	a, err := SignIn(ctx, Target{IdPURL: sb.IdPURL, Agent0URL: sb.Agent0URL, Todo0URL: sb.Todo0URL, MCPResource: sb.MCPResource}, NewHTTPClient(1), "alice", "alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	return a
}
