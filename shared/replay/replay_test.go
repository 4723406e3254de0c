package replay_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/replay"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// EMA: a jti is accepted once; concurrent redemptions of one token cannot both win.
func TestUseOnce(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "r.db"), []string{replay.Migration})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &replay.Store{DB: db}
	exp := time.Now().Add(time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.Use(ctx, "id-jag", "iss", "j1", exp); {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, replay.ErrReplayed):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions of one jti succeeded, want 1", wins.Load())
	}
	// Namespaces and issuers do not collide.
	if err := s.Use(ctx, "id-jag", "other-iss", "j1", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "client_assertion", "iss", "j1", exp); err != nil {
		t.Fatal(err)
	}
	// Prune drops only what expired.
	if err := s.Use(ctx, "id-jag", "iss", "old", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if err := s.Use(ctx, "id-jag", "iss", "j1", exp); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("unexpired jti forgotten by Prune: %v", err)
	}
}
