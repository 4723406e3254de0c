package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// reconcileSeededURLs makes the seeded demo world follow the configured URLs
// of the other parties on every start. The world is seeded once, with the
// URLs of that first start; started again on other ports or another host,
// sign-in would fail ("redirect_uri is not registered") and the managed
// connection would name a resource that no longer answers.
//
// The previous URLs are read back from the seeded rows themselves (Agent0's
// and Todo0's registered /callback, the Todo0 app's MCP resource), and only
// values equal to a previous seeded URL are rewritten, so whatever an
// administrator registered by hand is left as it is. It also registers the
// seeded clients' post-logout redirect URIs on worlds seeded before they
// existed.
func (s *Server) reconcileSeededURLs(ctx context.Context) ([]string, error) {
	var changed []string
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		changed = nil
		w := worldTx{ctx: ctx, tx: tx}
		oldAgent0 := w.seededBase(`SELECT redirect_uris FROM clients WHERE id = ?`, demo.Agent0IdPClientID, "/callback")
		oldTodo0 := w.seededBase(`SELECT redirect_uris FROM clients WHERE id = ?`, demo.Todo0IdPClientID, "/callback")
		oldMCP := w.seededBase(`SELECT resources FROM apps WHERE id = ?`, demo.AppTodo0, demo.MCPPath)
		if oldAgent0 != "" && oldAgent0 != s.cfg.Agent0URL {
			changed = append(changed, "Agent0 "+oldAgent0+" -> "+s.cfg.Agent0URL)
			w.replaceInList(`clients`, `redirect_uris`, demo.Agent0IdPClientID, oldAgent0+"/callback", s.cfg.Agent0URL+"/callback")
			w.exec(`UPDATE clients SET jwks_uri = ? WHERE id = ? AND jwks_uri = ?`, s.cfg.Agent0URL+"/.well-known/jwks.json", demo.Agent0IdPClientID, oldAgent0+"/.well-known/jwks.json")
			w.replaceInList(`clients`, `post_logout_redirect_uris`, demo.Agent0IdPClientID, oldAgent0+"/", s.cfg.Agent0URL+"/")
		}
		if oldTodo0 != "" && oldTodo0 != s.cfg.Todo0URL {
			changed = append(changed, "Todo0 "+oldTodo0+" -> "+s.cfg.Todo0URL)
			w.replaceInList(`clients`, `redirect_uris`, demo.Todo0IdPClientID, oldTodo0+"/callback", s.cfg.Todo0URL+"/callback")
			w.replaceInList(`clients`, `post_logout_redirect_uris`, demo.Todo0IdPClientID, oldTodo0+"/", s.cfg.Todo0URL+"/")
			w.exec(`UPDATE apps SET audience = ? WHERE id = ? AND audience = ?`, s.cfg.Todo0URL, demo.AppTodo0, oldTodo0)
		}
		if oldMCP != "" && oldMCP != s.cfg.Todo0MCPURL {
			changed = append(changed, "Todo0 MCP "+oldMCP+" -> "+s.cfg.Todo0MCPURL)
			oldRes, newRes := oldMCP+demo.MCPPath, s.cfg.Todo0MCPURL+demo.MCPPath
			w.replaceInList(`apps`, `resources`, demo.AppTodo0, oldRes, newRes)
			rows := w.ids(`SELECT id FROM managed_connections WHERE resource_app_id = ?`, demo.AppTodo0)
			for _, id := range rows {
				w.replaceInList(`managed_connections`, `resources`, id, oldRes, newRes)
			}
		}
		// Worlds seeded before post-logout redirects existed get them now.
		w.exec(`UPDATE clients SET post_logout_redirect_uris = ? WHERE id = ? AND post_logout_redirect_uris = '[]'`, mustJSON([]string{s.cfg.Agent0URL + "/"}), demo.Agent0IdPClientID)
		w.exec(`UPDATE clients SET post_logout_redirect_uris = ? WHERE id = ? AND post_logout_redirect_uris = '[]'`, mustJSON([]string{s.cfg.Todo0URL + "/"}), demo.Todo0IdPClientID)
		return w.err
	})
	return changed, err
}

// worldTx runs the reconciliation's statements, keeping the first error.
type worldTx struct {
	ctx context.Context
	tx  *sql.Tx
	err error
}

func (w *worldTx) exec(q string, args ...any) {
	if w.err == nil {
		_, w.err = w.tx.ExecContext(w.ctx, q, args...)
	}
}

func (w *worldTx) list(q string, id string) []string {
	if w.err != nil {
		return nil
	}
	var raw string
	if err := w.tx.QueryRowContext(w.ctx, q, id).Scan(&raw); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			w.err = err
		}
		return nil
	}
	var out []string
	_ = json.Unmarshal([]byte(raw), &out) // not a list: nothing seeded to follow
	return out
}

// seededBase is the base URL of the first entry of a JSON list column that
// ends in suffix: the URL the world was seeded with ("" when an admin
// changed it beyond recognition, or deleted the row).
func (w *worldTx) seededBase(q, id, suffix string) string {
	for _, v := range w.list(q, id) {
		if base, ok := strings.CutSuffix(v, suffix); ok && strings.HasPrefix(base, "http") {
			return base
		}
	}
	return ""
}

// replaceInList rewrites one exact entry of a JSON list column.
func (w *worldTx) replaceInList(table, column, id, old, new string) {
	vals := w.list(`SELECT `+column+` FROM `+table+` WHERE id = ?`, id)
	hit := false
	for i, v := range vals {
		if v == old {
			vals[i], hit = new, true
		}
	}
	if hit {
		w.exec(`UPDATE `+table+` SET `+column+` = ? WHERE id = ?`, mustJSON(vals), id)
	}
}

func (w *worldTx) ids(q string, args ...any) []string {
	if w.err != nil {
		return nil
	}
	rows, err := w.tx.QueryContext(w.ctx, q, args...)
	if err != nil {
		w.err = err
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			w.err = err
			return nil
		}
		out = append(out, id)
	}
	w.err = rows.Err()
	return out
}
