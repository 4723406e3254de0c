package sqlitedb

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
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

// TestStmtsWritesTakeTurns: concurrent writes through Stmts (Exec and InTx)
// never meet SQLite's write lock taken. The database here has no busy
// timeout, so a write that found the lock held would fail with SQLITE_BUSY
// at once instead of sleeping in the busy handler, as it does with Open's.
func TestStmtsWritesTakeTurns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	if db, err := Open(ctx, path, []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)`}); err != nil {
		t.Fatal(err)
	} else {
		db.Close()
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(8)
	st := &Stmts{DB: db}
	defer st.Close()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w%2 == 0 {
					_, err := st.Exec(ctx, `INSERT INTO t(v) VALUES (?)`, i)
					errs <- err
					continue
				}
				errs <- st.InTx(ctx, func(tx Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO t(v) VALUES (?)`, i); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE t SET v = v + 1 WHERE id = last_insert_rowid()`)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				t.Errorf("a write failed: %v", err)
			}
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != writers*each {
		t.Errorf("%d rows (%v), %d writes failed; want %d rows", n, err, failed, writers*each)
	}
}
