package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Stmts prepares each query the first time it runs and reuses the prepared
// statement after that, so a hot path (a token request runs half a dozen
// queries) does not parse and plan its SQL on every request. The queries
// are the program's own constant strings, so the cache is bounded by them.
//
// Its writes (Exec, InTx) take turns in this process. SQLite has one writer
// at a time, and a connection that finds the write lock taken sleeps in its
// busy handler, 1 ms and longer, rather than being woken when the lock is
// released: under concurrent requests that left the CPU idle while writers
// slept (token exchanges at 8 concurrent clients kept 1.5 of 2 cores busy).
// Waiting on a Go mutex instead wakes the next writer as soon as the last one
// commits. Writes that do not go through Stmts still wait in SQLite.
type Stmts struct {
	DB *sql.DB

	mu sync.Mutex
	m  map[string]*sql.Stmt

	write sync.Mutex
}

func (s *Stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[q]; ok {
		return st, nil
	}
	st, err := s.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.m == nil {
		s.m = map[string]*sql.Stmt{}
	}
	s.m[q] = st
	return st, nil
}

// QueryRow runs a prepared q; a failure to prepare shows in Scan.
func (s *Stmts) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.get(ctx, q)
	if err != nil {
		return s.DB.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Query runs a prepared q.
func (s *Stmts) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// Exec runs a prepared q, a write: after the process's other writes.
func (s *Stmts) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	s.write.Lock()
	defer s.write.Unlock()
	return st.ExecContext(ctx, args...)
}

// Close closes every prepared statement (before the database is closed).
func (s *Stmts) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, st := range s.m {
		err = errors.Join(err, st.Close())
	}
	s.m = nil
	return err
}

// Tx is a transaction whose statements come prepared from Stmts.
type Tx struct {
	*sql.Tx
	s *Stmts
}

// ExecContext runs a prepared q in the transaction.
func (t Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// QueryRowContext runs a prepared q in the transaction; a failure to
// prepare shows in Scan.
func (t Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.s.get(ctx, q)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, q, args...)
	}
	return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// InTx runs fn in one transaction (one commit) with prepared statements,
// committing when fn returns nil. The transaction is a write: it runs after
// the process's other writes, and fn must not write through s itself (only
// through its Tx), which would wait for the transaction it is in.
func (s *Stmts) InTx(ctx context.Context, fn func(Tx) error) error {
	s.write.Lock()
	defer s.write.Unlock()
	return InTx(ctx, s.DB, func(tx *sql.Tx) error { return fn(Tx{Tx: tx, s: s}) })
}
