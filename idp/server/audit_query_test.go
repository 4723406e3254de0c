package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestQueryAuditMatchesModel: the indexed audit query returns exactly what
// the filter means (user by id or username; app: records about the app or
// by one of its clients; exact event or prefix ending in "."; outcome;
// before; limit), newest first, for every combination of filters, checked
// against a plain model over the same records.
func TestQueryAuditMatchesModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.s.db.Exec(`DELETE FROM audit`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"00u_alice", "00u_bob", "", "00u_nobody"}
	clients := []string{"agent0", "todo0", "", "stranger"}
	apps := []string{"todo0", "agent0", ""}
	events := []string{"token_exchange", "sign_in", "admin.user.update", "admin.app.assign", "refresh", "admin"}
	outcomes := []string{"granted", "denied", "ok", "failed"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	for range 1500 {
		// written directly: failed sign-ins through audit() would be aggregated
		if err := e.s.writeAudit(ctx, auditRecord{Event: pick(events), Outcome: pick(outcomes), UserID: pick(users), ClientID: pick(clients), AppID: pick(apps)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.s.QueryAudit(ctx, AuditFilter{Limit: 10000})
	if err != nil || len(all) != 1500 {
		t.Fatalf("%d records, %v", len(all), err)
	}
	clientApp := map[string]string{}
	for _, c := range []string{"agent0", "todo0"} {
		cl, err := e.s.client(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		clientApp[c] = cl.AppID
	}
	model := func(f AuditFilter) []int64 {
		var out []int64
		for _, r := range all {
			switch {
			case f.User != "" && r.UserID != f.User && !((f.User == "alice" || f.User == "bob") && "00u_"+f.User == r.UserID):
			case f.App != "" && r.AppID != f.App && clientApp[r.ClientID] != f.App:
			case f.Event != "" && !(r.Event == f.Event || strings.HasSuffix(f.Event, ".") && strings.HasPrefix(r.Event, f.Event)):
			case f.Outcome != "" && r.Outcome != f.Outcome:
			case f.Before > 0 && r.ID >= f.Before:
			default:
				out = append(out, r.ID)
			}
		}
		limit := f.Limit
		if limit == 0 {
			limit = 100
		}
		return out[:min(len(out), limit)]
	}
	for i := range 400 {
		f := AuditFilter{Limit: []int{0, 1, 7, 10000}[rng.IntN(4)]}
		if rng.IntN(2) == 0 {
			f.User = pick([]string{"00u_alice", "alice", "00u_bob", "bob", "nobody"})
		}
		if rng.IntN(2) == 0 {
			f.App = pick([]string{"todo0", "agent0", "nope"})
		}
		if rng.IntN(2) == 0 {
			f.Event = pick([]string{"token_exchange", "admin.", "admin", "admin.user.", "zzz.", "sign_in"})
		}
		if rng.IntN(2) == 0 {
			f.Outcome = pick(outcomes)
		}
		if rng.IntN(3) == 0 {
			f.Before = all[rng.IntN(len(all))].ID
		}
		got, err := e.s.QueryAudit(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		ids := make([]int64, len(got))
		for j, r := range got {
			ids[j] = r.ID
		}
		if want := model(f); !slices.Equal(ids, want) {
			t.Fatalf("case %d %+v:\n got %d %v\nwant %d %v", i, f, len(ids), head(ids), len(want), head(want))
		}
	}
}

func head(ids []int64) string { return fmt.Sprint(ids[:min(len(ids), 8)]) }
