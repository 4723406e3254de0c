package sqlitedb

import (
	"context"
	"path/filepath"
	"testing"
)

// TestPruneInBatches: Prune deletes every matching row, across several
// batches, and nothing else.
func TestPruneInBatches(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, exp INTEGER NOT NULL)`})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 2*PruneBatch + 17
	if _, err := db.Exec(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) INSERT INTO t(exp) SELECT i FROM s`, n+100); err != nil {
		t.Fatal(err)
	}
	got, err := Prune(ctx, &Stmts{DB: db}, "t", `exp <= ?`, n)
	if err != nil || got != int64(n) {
		t.Fatalf("pruned %d, %v; want %d", got, err, n)
	}
	var left, minExp int
	_ = db.QueryRow(`SELECT COUNT(*), MIN(exp) FROM t`).Scan(&left, &minExp)
	if left != 100 || minExp != n+1 {
		t.Errorf("left %d rows from exp %d", left, minExp)
	}
	if _, err := Prune(ctx, &Stmts{DB: db}, "t; DROP TABLE t", `1`); err == nil {
		t.Error("a bad table name was accepted")
	}
}
