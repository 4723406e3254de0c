package server

// Pages of the lists that grow with the users: a group's members, an app's
// assigned users and a user's sessions and refresh tokens. Each page is one
// range of an index, however long the list; a group or an app embeds the
// first page of its users and, when there are more, the admin API URL of
// the next, so a large list is never cut short without saying so.

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// A page of users, members, assigned users or grants: the default and the
// largest.
const (
	defaultPage = 100
	maxPage     = 1000
	maxAfter    = 256 // longer than any id, username or cursor this IdP makes
)

// pageLimit is the page size asked for (0: the default), or a 400.
func pageLimit(limit int) (int, error) {
	if limit == 0 {
		return defaultPage, nil
	}
	if limit < 1 || limit > maxPage {
		return 0, oauth.InvalidRequest("limit must be an integer from 1 to %d", maxPage)
	}
	return limit, nil
}

// checkAfter refuses an after= value no page could have produced.
func checkAfter(after string) error {
	if len(after) > maxAfter || strings.IndexFunc(after, unicode.IsControl) >= 0 {
		return oauth.InvalidRequest("after must be the value from a previous page's next link")
	}
	return nil
}

// MemberView is a user as a group's member list or an app's assigned users
// show them.
type MemberView struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Active   bool   `json:"active"`
}

// memberPage reads one page of user ids from q (an index range after a user
// id, in id order) joined to the users, and the id to continue after ("" on
// the last page).
func (s *Server) memberPage(ctx context.Context, q, parent, after string, limit int) ([]MemberView, string, error) {
	rows, err := s.db.QueryContext(ctx, q, parent, after, limit+1)
	if err != nil {
		return nil, "", oauth.ServerError(err)
	}
	defer rows.Close()
	out := []MemberView{}
	for rows.Next() {
		var m MemberView
		if err := rows.Scan(&m.ID, &m.Username, &m.Name, &m.Active); err != nil {
			return nil, "", oauth.ServerError(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", oauth.ServerError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

const (
	groupMembersPage = `SELECT u.id, u.username, u.name, u.active FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?`
	appUsersPage = `SELECT u.id, u.username, u.name, u.active FROM assignments a JOIN users u ON u.id = a.user_id
		WHERE a.app_id = ? AND a.user_id > ? ORDER BY a.user_id LIMIT ?`
	// The embedded first pages: ids only, as the parent objects have always
	// listed them.
	groupMemberIDs = `SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id LIMIT ?`
	appUserIDs     = `SELECT user_id FROM assignments WHERE app_id = ? ORDER BY user_id LIMIT ?`
)

// ListGroupMembers returns up to limit members of the group whose user id
// sorts after the given one, by id, and the id to continue after.
func (s *Server) ListGroupMembers(ctx context.Context, groupID, after string, limit int) ([]MemberView, string, error) {
	limit, err := pageLimit(limit)
	if err == nil {
		err = checkAfter(after)
	}
	if err != nil {
		return nil, "", err
	}
	if err := s.exists(ctx, `SELECT 1 FROM groups WHERE id = ?`, groupID, "group"); err != nil {
		return nil, "", err
	}
	return s.memberPage(ctx, groupMembersPage, groupID, after, limit)
}

// ListAppUsers returns up to limit users directly assigned to the app whose
// user id sorts after the given one, by id, and the id to continue after.
func (s *Server) ListAppUsers(ctx context.Context, appID, after string, limit int) ([]MemberView, string, error) {
	limit, err := pageLimit(limit)
	if err == nil {
		err = checkAfter(after)
	}
	if err != nil {
		return nil, "", err
	}
	if err := s.exists(ctx, `SELECT 1 FROM apps WHERE id = ?`, appID, "app"); err != nil {
		return nil, "", err
	}
	return s.memberPage(ctx, appUsersPage, appID, after, limit)
}

func (s *Server) exists(ctx context.Context, q, id, kind string) error {
	var one int
	err := s.db.QueryRowContext(ctx, q, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("no %s %q", kind, id)
	}
	if err != nil {
		return oauth.ServerError(err)
	}
	return nil
}

// firstIDs is the embedded first page of a group's or an app's users and
// the admin API path of the next page ("" when the list is complete).
func (s *Server) firstIDs(ctx context.Context, q, parent, nextPath string) ([]string, string, error) {
	ids, err := s.strings(ctx, q, parent, defaultPage+1)
	if err != nil || len(ids) <= defaultPage {
		return ids, "", err
	}
	ids = ids[:defaultPage]
	return ids, nextPath + "?" + url.Values{"after": {ids[defaultPage-1]}}.Encode(), nil
}

// ---- a user's sessions and refresh tokens ----

// grantPos is where one of the two lists of a user's grants continues:
// after the row (time, rowid) last shown, newest first, or past its end.
type grantPos struct {
	at, row int64
	end     bool
}

func (p grantPos) String() string {
	if p.end {
		return "end"
	}
	return strconv.FormatInt(p.at, 10) + "." + strconv.FormatInt(p.row, 10)
}

// The first page starts before every row.
var grantStart = grantPos{at: math.MaxInt64, row: math.MaxInt64}

// parseGrantCursor reads the opaque after= of the grants pages: the
// sessions' position and the refresh tokens', as "<time>.<rowid>" or "end",
// joined by "_".
func parseGrantCursor(after string) (sessions, tokens grantPos, err error) {
	if after == "" {
		return grantStart, grantStart, nil
	}
	bad := oauth.InvalidRequest("after must be the value from a previous page's next link")
	s, t, ok := strings.Cut(after, "_")
	if !ok || len(after) > maxAfter {
		return sessions, tokens, bad
	}
	parse := func(v string) (grantPos, bool) {
		if v == "end" {
			return grantPos{end: true}, true
		}
		a, r, ok := strings.Cut(v, ".")
		at, e1 := strconv.ParseInt(a, 10, 64)
		row, e2 := strconv.ParseInt(r, 10, 64)
		return grantPos{at: at, row: row}, ok && e1 == nil && e2 == nil && at >= 0 && row >= 0
	}
	sessions, ok1 := parse(s)
	tokens, ok2 := parse(t)
	if !ok1 || !ok2 || (sessions.end && tokens.end) {
		return sessions, tokens, bad
	}
	return sessions, tokens, nil
}

const (
	sessionsPage = `SELECT rowid, sid, user_id, auth_time, expires_at, revoked_at FROM sessions
		WHERE user_id = ? AND (auth_time, rowid) < (?, ?) AND expires_at > ? ORDER BY auth_time DESC, rowid DESC LIMIT ?`
	refreshTokensPage = `SELECT rowid, id, client_id, user_id, sid, scope, created_at, expires_at, revoked_at FROM refresh_tokens
		WHERE user_id = ? AND (created_at, rowid) < (?, ?) AND expires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT ?`
)

// ListGrants returns a page of the user's unexpired sessions (newest sign-in
// first) and refresh tokens (newest first), revoked ones too, marked, so
// the admin sees what was revoked: up to limit of each, and the cursor of
// the next page ("" when both lists are complete). Each list is one range
// of its (user, time) index.
func (s *Server) ListGrants(ctx context.Context, userID, after string, limit int) (*UserGrants, string, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, "", err
	}
	sp, tp, err := parseGrantCursor(after)
	if err != nil {
		return nil, "", err
	}
	if err := s.exists(ctx, `SELECT 1 FROM users WHERE id = ?`, userID, "user"); err != nil {
		return nil, "", err
	}
	now := s.now().Unix()
	g := &UserGrants{Sessions: []SessionView{}, RefreshTokens: []RefreshTokenView{}}
	nextS, err := s.grantPage(ctx, sessionsPage, userID, sp, now, limit, func(rows *sql.Rows) (grantPos, error) {
		var v SessionView
		var p grantPos
		var rev sql.NullInt64
		err := rows.Scan(&p.row, &v.SID, &v.UserID, &v.AuthTime, &v.ExpiresAt, &rev)
		if rev.Valid {
			v.RevokedAt = &rev.Int64
		}
		p.at = v.AuthTime
		g.Sessions = append(g.Sessions, v)
		return p, err
	})
	if err != nil {
		return nil, "", oauth.ServerError(err)
	}
	nextT, err := s.grantPage(ctx, refreshTokensPage, userID, tp, now, limit, func(rows *sql.Rows) (grantPos, error) {
		var v RefreshTokenView
		var p grantPos
		var rev sql.NullInt64
		err := rows.Scan(&p.row, &v.ID, &v.ClientID, &v.UserID, &v.SID, &v.Scope, &v.CreatedAt, &v.ExpiresAt, &rev)
		if rev.Valid {
			v.RevokedAt = &rev.Int64
		}
		p.at = v.CreatedAt
		g.RefreshTokens = append(g.RefreshTokens, v)
		return p, err
	})
	if err != nil {
		return nil, "", oauth.ServerError(err)
	}
	if nextS.end && nextT.end {
		return g, "", nil
	}
	return g, nextS.String() + "_" + nextT.String(), nil
}

// grantPage reads up to limit rows of q from the position from, each with
// scan (which keeps the row and returns its position), and returns where
// the list continues: the last row read, or the end.
func (s *Server) grantPage(ctx context.Context, q, userID string, from grantPos, now int64, limit int, scan func(*sql.Rows) (grantPos, error)) (grantPos, error) {
	if from.end {
		return from, nil
	}
	rows, err := s.db.QueryContext(ctx, q, userID, from.at, from.row, now, limit+1)
	if err != nil {
		return from, err
	}
	defer rows.Close()
	var last grantPos
	for n := 0; rows.Next(); n++ {
		if n == limit { // a row beyond the page: there is more
			return last, nil
		}
		if last, err = scan(rows); err != nil {
			return last, err
		}
	}
	return grantPos{end: true}, rows.Err()
}
