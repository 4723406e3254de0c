package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// ---- signing keys ----

// KeysView is the key set as the admin sees it.
type KeysView struct {
	Algorithm string         `json:"algorithm"`
	ActiveKID string         `json:"active_kid"`
	Keys      []keys.KeyInfo `json:"keys"`
	// RetainFor is how long a retired key stays published: the longest
	// lifetime of anything it signed (ID token or ID-JAG) plus clock skew.
	RetainFor string `json:"retain_for"`
	// PendingKID is published already and signs from PendingSignsAt
	// (a rotation with publish_ahead).
	PendingKID     string     `json:"pending_kid,omitempty"`
	PendingSignsAt *time.Time `json:"pending_signs_at,omitempty"`
}

func (s *Server) keyRetention() time.Duration {
	return max(s.cfg.IDTokenTTL, s.cfg.IDJAGTTL) + s.cfg.ClockSkew
}

func (s *Server) ListKeys(ctx context.Context) (*KeysView, error) {
	list, err := s.keys.List(ctx)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	v := &KeysView{Algorithm: string(s.keys.Algorithm()), ActiveKID: s.keys.ActiveKeyID(), Keys: list, RetainFor: s.keyRetention().String()}
	if kid, at := s.keys.PendingKeyID(); kid != "" {
		v.PendingKID, v.PendingSignsAt = kid, &at
	}
	return v, nil
}

// RotateKey makes a new key sign ID tokens and ID-JAGs. The old key stays in
// the JWKS until everything it signed has expired (Maintain prunes it).
func (s *Server) RotateKey(ctx context.Context, actor string) (*KeysView, error) {
	return s.RotateKeyAfter(ctx, actor, 0)
}

// maxPublishAhead bounds how long a rotation may wait before the new key signs.
const maxPublishAhead = time.Hour

// RotateKeyAfter publishes a new key now and signs with it after ahead
// (immediately when ahead is 0). Resource servers refetch the JWKS on an
// unknown kid only so often (Todo0: every 10 s at most), so an ahead at least
// that long rotates without a single refused token; an immediate rotation
// can be refused for up to that long (the key-rotation scenario shows it).
func (s *Server) RotateKeyAfter(ctx context.Context, actor string, ahead time.Duration) (*KeysView, error) {
	if ahead < 0 || ahead > maxPublishAhead {
		return nil, oauth.InvalidRequest("publish_ahead must be between 0s and %s", maxPublishAhead)
	}
	old := s.keys.ActiveKeyID()
	kid, err := s.keys.RotateAfter(ctx, ahead)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	s.adminChange(ctx, actor, "keys.rotate", auditRecord{}, map[string]any{"old_kid": old, "new_kid": kid, "alg": string(s.keys.Algorithm()), "publish_ahead": ahead.String()})
	return s.ListKeys(ctx)
}

// ---- audit log ----

// AuditEntry is one audit record.
type AuditEntry struct {
	ID       int64          `json:"id"`
	At       time.Time      `json:"at"`
	Event    string         `json:"event"`
	Outcome  string         `json:"outcome"`
	ClientID string         `json:"client_id,omitempty"`
	UserID   string         `json:"user_id,omitempty"`
	AppID    string         `json:"app_id,omitempty"`
	Error    string         `json:"error,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Rule     string         `json:"rule,omitempty"`
	Detail   map[string]any `json:"detail,omitempty"`
}

// AuditFilter selects audit records; empty fields match everything.
type AuditFilter struct {
	User    string // user id or username
	App     string // app id: records about the app, or by one of its clients
	Outcome string // granted, denied, ok, failed
	Event   string // exact event, or a prefix ending in "." (e.g. "admin.")
	Before  int64  // records with id < Before (paging)
	Limit   int    // default 100, at most 10000
}

// AuditFilterFromQuery reads ?user=&app=&outcome=&event=&before=&limit=.
func AuditFilterFromQuery(get func(string) string) (AuditFilter, error) {
	f := AuditFilter{User: get("user"), App: get("app"), Outcome: get("outcome"), Event: get("event")}
	for name, dst := range map[string]*int64{"before": &f.Before} {
		if v := get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, oauth.InvalidRequest("%s must be a non-negative integer", name)
			}
			*dst = n
		}
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, oauth.InvalidRequest("limit must be a positive integer")
		}
		f.Limit = n
	}
	return f, nil
}

// QueryAudit returns matching records, newest first.
//
// Each filter is an index on (column, id): the records of one filter value
// are read newest first straight from its index and the scan stops after
// limit matches, so a page costs the same at 1,000 records or 1,000,000.
// A filter that stands for several values (a user's id and username, an app
// and its clients, an event prefix) reads one index range per value and
// merges them. The first filter given (user, app, event, outcome) picks the
// index; the others are checked on the rows it yields.
func (s *Server) QueryAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	type stream struct {
		index, col string
		vals       []string
	}
	var streams []stream // the filters, in the order that picks the index
	if f.User != "" {
		vals := []string{f.User}
		var id string
		if err := s.db.QueryRowContext(ctx, `SELECT id FROM users WHERE username = ?`, f.User).Scan(&id); err == nil && id != f.User {
			vals = append(vals, id)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, oauth.ServerError(err)
		}
		streams = append(streams, stream{"audit_user", "user_id", vals})
	}
	var appClients []string
	if f.App != "" {
		var err error
		if appClients, err = s.strings(ctx, `SELECT id FROM clients WHERE app_id = ?`, f.App); err != nil {
			return nil, oauth.ServerError(err)
		}
		streams = append(streams, stream{"audit_app", "app_id", []string{f.App}})
	}
	if f.Event != "" {
		events := []string{f.Event}
		if strings.HasSuffix(f.Event, ".") {
			var err error
			if events, err = s.auditEventsWithPrefix(ctx, f.Event); err != nil {
				return nil, oauth.ServerError(err)
			}
		}
		streams = append(streams, stream{"audit_event", "event", events})
	}
	if f.Outcome != "" {
		streams = append(streams, stream{"audit_outcome", "outcome", []string{f.Outcome}})
	}
	in := func(col string, vals []string) (string, []any) {
		if len(vals) == 0 {
			return `0`, nil
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		return col + ` IN (?` + strings.Repeat(`,?`, len(vals)-1) + `)`, args
	}
	// The conditions every branch checks besides its own index value.
	cond := func(skip int) (string, []any) {
		var where []string
		var args []any
		for i, st := range streams {
			if i == skip {
				continue
			}
			w, a := in(st.col, st.vals)
			if st.col == "app_id" {
				c, ca := in("client_id", appClients)
				w, a = `(`+w+` OR `+c+`)`, append(a, ca...)
			}
			where, args = append(where, w), append(args, a...)
		}
		if f.Before > 0 {
			where, args = append(where, `id < ?`), append(args, f.Before)
		}
		if len(where) == 0 {
			return ``, nil
		}
		return ` AND ` + strings.Join(where, ` AND `), args
	}
	const cols = `id, at, event, outcome, client_id, user_id, app_id, error, reason, rule, detail`
	var branches []string
	var args []any
	branch := func(index, col, val string) {
		rest, ra := cond(0)
		branches = append(branches, `SELECT * FROM (SELECT `+cols+` FROM audit INDEXED BY `+index+` WHERE `+col+` = ?`+rest+` ORDER BY id DESC LIMIT ?)`)
		args = append(append(append(args, val), ra...), limit)
	}
	if len(streams) == 0 {
		rest, ra := cond(-1)
		branches = append(branches, `SELECT `+cols+` FROM audit WHERE 1`+rest)
		args = append(args, ra...)
	} else {
		for _, v := range streams[0].vals {
			branch(streams[0].index, streams[0].col, v)
		}
		if streams[0].col == "app_id" {
			for _, c := range appClients {
				branch("audit_client", "client_id", c)
			}
		}
	}
	if len(branches) == 0 { // an event prefix no record has
		return []AuditEntry{}, nil
	}
	q := strings.Join(branches, ` UNION `) + ` ORDER BY 1 DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, oauth.ServerError(err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.Outcome, &e.ClientID, &e.UserID, &e.AppID, &e.Error, &e.Reason, &e.Rule, &detail); err != nil {
			return nil, oauth.ServerError(err)
		}
		e.At = time.Unix(at, 0).UTC()
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, oauth.ServerError(err)
	}
	return out, nil
}

// auditEventsWithPrefix lists the distinct events that start with prefix,
// one index seek each (there are a few dozen event names, not one per record).
func (s *Server) auditEventsWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	last := prefix
	op := `>=`
	for len(out) < 1000 {
		var ev string
		err := s.db.QueryRowContext(ctx, `SELECT event FROM audit INDEXED BY audit_event WHERE event `+op+` ? ORDER BY event LIMIT 1`, last).Scan(&ev)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !strings.HasPrefix(ev, prefix)) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
		last, op = ev, `>`
	}
	return out, nil
}
