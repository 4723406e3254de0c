package sqlitedb

import (
	"context"
	"path/filepath"
	"testing"
)

// TestStmtsReuse: a query is prepared once and reused; results are those of
// the plain query; a bad query reports its error instead of panicking.
func TestStmtsReuse(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), []string{`CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)`})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &Stmts{DB: db}
	defer st.Close()
	for i := range 3 {
		if _, err := st.Exec(ctx, `INSERT INTO t(k, v) VALUES (?, ?)`, string(rune('a'+i)), i); err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := st.QueryRow(ctx, `SELECT v FROM t WHERE k = ?`, "c").Scan(&v); err != nil || v != 2 {
		t.Fatalf("QueryRow: %d %v", v, err)
	}
	rows, err := st.Query(ctx, `SELECT k FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 3 || len(st.m) != 3 {
		t.Errorf("%d rows, %d prepared statements, want 3 and 3", n, len(st.m))
	}
	if err := st.QueryRow(ctx, `SELECT nope FROM t`).Scan(&v); err == nil {
		t.Error("a bad query did not fail")
	}
	if _, err := st.Exec(ctx, `INSERT INTO nowhere VALUES (1)`); err == nil {
		t.Error("a bad statement did not fail")
	}
}
