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

// TestStmtsInTx: the writes of one InTx commit together, with the same
// prepared statements as outside a transaction, and an error rolls all of
// them back.
func TestStmtsInTx(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), []string{`CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)`})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &Stmts{DB: db}
	defer st.Close()
	const ins = `INSERT INTO t(k, v) VALUES (?, ?)`
	if err := st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, ins, "a", 1); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, ins, "a", 2) // primary key: fails
		return err
	}); err == nil {
		t.Fatal("duplicate key committed")
	}
	var n int
	if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after a failed transaction: %d rows (%v), want 0: the first insert must roll back", n, err)
	}
	if err := st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, ins, "a", 1); err != nil {
			return err
		}
		var v int
		return tx.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, "a").Scan(&v)
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a committed transaction: %d rows (%v), want 1", n, err)
	}
	if _, ok := st.m[ins]; !ok {
		t.Error("the transaction's insert was not prepared through Stmts")
	}
}
