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
type Stmts struct {
	DB *sql.DB

	mu sync.Mutex
	m  map[string]*sql.Stmt
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

// Exec runs a prepared q.
func (s *Stmts) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
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
