package sqlitedb_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	v1 := []string{`CREATE TABLE a (x INTEGER)`}
	db, err := sqlitedb.Open(ctx, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var mode string
	_ = db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode = %s, want wal", mode)
	}
	db.Close()

	// A later binary applies only the new version and keeps the data.
	db, err = sqlitedb.Open(ctx, path, append(v1, `CREATE TABLE b (y INTEGER)`))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("data lost: %d %v", n, err)
	}
	db.Close()

	// An older binary refuses a newer database instead of corrupting it.
	if _, err := sqlitedb.Open(ctx, path, v1); err == nil || !strings.Contains(err.Error(), "schema version 2") {
		t.Fatalf("older binary opened a newer database: %v", err)
	}
	// A failing migration leaves nothing half-applied.
	if _, err := sqlitedb.Open(ctx, path, append(append(v1, `CREATE TABLE b (y INTEGER)`), `CREATE TABLE c (z); SYNTAX ERROR`)); err == nil {
		t.Fatal("broken migration applied")
	}
	db, _ = sqlitedb.Open(ctx, path, append(v1, `CREATE TABLE b (y INTEGER)`))
	defer db.Close()
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'c'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("half-applied migration left table c: %d %v", n, err)
	}
}
