// Package replay remembers one-time identifiers (ID-JAG jti, client assertion
// jti) until they expire, so each can be used exactly once.
package replay

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Migration creates the table; parties append it to their migrations.
const Migration = `CREATE TABLE seen_jti (
	id  TEXT PRIMARY KEY,  -- namespace NUL issuer NUL jti
	exp INTEGER NOT NULL   -- unix seconds; the row may go once the token is expired
);
CREATE INDEX seen_jti_exp ON seen_jti(exp);`

// ErrReplayed means the identifier was used before.
var ErrReplayed = errors.New("replay: identifier already used")

// Store is a SQLite-backed replay cache. The insert is atomic, so two
// concurrent redemptions of one token cannot both succeed.
type Store struct{ DB *sql.DB }

// Use records (namespace, issuer, jti) until exp, failing with ErrReplayed if
// it is already recorded.
func (s *Store) Use(ctx context.Context, namespace, issuer, jti string, exp time.Time) error {
	return UseIn(ctx, s.DB, namespace, issuer, jti, exp)
}

// Execer runs a statement: a *sql.DB, a *sql.Tx or a sqlitedb.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// UseIn is Use through ex, typically a transaction: the record then commits
// (and the identifier counts as used) only together with the writes that
// act on the token, in one commit.
func UseIn(ctx context.Context, ex Execer, namespace, issuer, jti string, exp time.Time) error {
	id := namespace + "\x00" + issuer + "\x00" + jti
	res, err := ex.ExecContext(ctx, `INSERT INTO seen_jti(id, exp) VALUES (?, ?) ON CONFLICT(id) DO NOTHING`, id, exp.Unix())
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrReplayed
	}
	return nil
}

// Prune deletes identifiers whose tokens expired before cutoff; a token that
// old is refused by its exp check anyway.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM seen_jti WHERE exp < ?`, cutoff.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
