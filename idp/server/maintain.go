package server

import (
	"context"
	"database/sql"
	"errors"

	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// Maintain prunes what has expired and applies the audit retention; the
// front door calls it every minute. Nothing it deletes can still be used:
//   - authorization codes and access tokens after their expiry;
//   - refresh tokens after their expiry (a refused one would be refused anyway);
//   - sessions once expired for longer than any ID token or access token
//     issued under them lives, and with no live refresh token issued under
//     them (refresh and token exchange with a refresh token look the session
//     up; a missing session is refused like a revoked one);
//   - retired signing keys once everything they signed has expired;
//   - replay records once the assertion they guard has expired.
//
// The audit log keeps AuditMaxAge and at most AuditMaxRows records.
func (s *Server) Maintain(ctx context.Context) error {
	now := s.now()
	_, err := s.replay.Prune(ctx, now.Add(-s.cfg.ClockSkew))
	// A retired signing key goes once everything it signed has expired.
	_, perr := s.keys.Prune(ctx, now.Add(-s.keyRetention()))
	// Failed client authentications aggregated since the last run are written.
	err = errors.Join(err, perr, s.flushSuppressed(ctx))
	expired := now.Add(-s.cfg.ClockSkew).Unix()
	sessionCut := now.Add(-max(s.cfg.IDTokenTTL, s.cfg.AccessTokenTTL) - s.cfg.ClockSkew).Unix()
	for _, p := range []struct {
		table, where string
		args         []any
	}{
		{"auth_codes", `expires_at < ?`, []any{expired}},
		{"access_tokens", `expires_at < ?`, []any{expired}},
		{"refresh_tokens", `expires_at < ?`, []any{expired}},
		{"sessions", `expires_at < ? AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.sid = sessions.sid AND r.expires_at >= ? AND r.revoked_at IS NULL)`, []any{sessionCut, expired}},
	} {
		_, e := sqlitedb.Prune(ctx, s.stmts, p.table, p.where, p.args...)
		err = errors.Join(err, e)
	}
	return errors.Join(err, s.pruneAudit(ctx))
}

// pruneAudit applies the audit retention. Records are appended in time
// order, so the records older than the window are the ones below the first
// id inside it, found by reading forward from the oldest (as many rows as
// are about to go, not the whole table).
func (s *Server) pruneAudit(ctx context.Context) error {
	var cut int64 // delete records with id < cut
	if s.cfg.AuditMaxAge > 0 {
		var first sql.NullInt64
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT id FROM audit WHERE at >= ? ORDER BY id LIMIT 1), (SELECT MAX(id) + 1 FROM audit))`,
			s.now().Add(-s.cfg.AuditMaxAge).Unix()).Scan(&first)
		if err != nil {
			return err
		}
		cut = first.Int64
	}
	if s.cfg.AuditMaxRows > 0 {
		var last sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT MAX(id) FROM audit`).Scan(&last); err != nil {
			return err
		}
		// ids are assigned in order and only the oldest are ever deleted,
		// so the newest AuditMaxRows records are those above last - max.
		cut = max(cut, last.Int64-int64(s.cfg.AuditMaxRows)+1)
	}
	if cut <= 0 {
		return nil
	}
	n, err := sqlitedb.Prune(ctx, s.stmts, "audit", `id < ?`, cut)
	if n > 0 {
		s.log.Info("audit retention: deleted old records", "records", n, "kept_from_id", cut, "max_age", s.cfg.AuditMaxAge.String(), "max_rows", s.cfg.AuditMaxRows)
	}
	return err
}
