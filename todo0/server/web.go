package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/clientauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oidcrp"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

const sessionCookie = "todo0_session"

// sessionTTL is how long a Todo0 web session lasts.
const sessionTTL = 8 * time.Hour

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

type webUser struct {
	ID, Sub, Email, Name, CSRF string
}

func (s *Server) currentUser(r *http.Request) *webUser {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	var u webUser
	err = s.stmts.QueryRow(r.Context(), `SELECT u.id, u.sub, u.email, u.name, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.cookie_hash = ? AND s.expires_at > ?`,
		hash(ck.Value), s.now().Unix()).Scan(&u.ID, &u.Sub, &u.Email, &u.Name, &u.CSRF)
	if err != nil {
		return nil
	}
	return &u
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	id, _, err := s.rp.FinishLogin(w, r)
	if err != nil {
		status := http.StatusBadRequest
		var le *oidcrp.LoginError
		if errors.As(err, &le) {
			status = http.StatusForbidden
		}
		s.render(w, status, "home.html", map[string]any{"Error": "Sign-in failed: " + err.Error()})
		return
	}
	// The user and the session: one transaction, one commit.
	cookie := randomID() + randomID()
	var user provisioned
	err = s.stmts.InTx(r.Context(), func(tx sqlitedb.Tx) error {
		var err error
		if user, err = s.provision(r.Context(), tx, id.Issuer, id.Subject, id.Email, id.Name); err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `INSERT INTO sessions(cookie_hash, user_id, csrf, expires_at) VALUES (?,?,?,?)`,
			hash(cookie), user.id, randomID(), s.now().Add(sessionTTL).Unix())
		return err
	})
	s.settle(user, err)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		s.log.Error("session", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: httpx.SecureCookie(s.cfg.PublicURL, r), MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout signs the user out of Todo0 (POST with the session's CSRF token:
// a request without it ends nothing and clears nothing), and with "acme" set
// sends the browser to Acme's end_session_endpoint as well. Todo0 keeps no
// ID token, so it names itself by client_id and Acme asks the user to
// confirm (OpenID Connect RP-Initiated Logout 1.0).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	u := s.currentUser(r)
	if u == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !s.csrfOK(r, u) {
		s.render(w, http.StatusForbidden, "home.html", map[string]any{"Error": "That sign-out request did not come from Todo0's own page (its CSRF token was missing or wrong), so nothing was signed out (checklist 8.1). Reload the page and use its Sign out button."})
		return
	}
	ck, _ := r.Cookie(sessionCookie)
	_, _ = s.stmts.Exec(r.Context(), `DELETE FROM sessions WHERE cookie_hash = ?`, hash(ck.Value))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	if r.PostFormValue("acme") == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	endpoint, params, err := s.rp.EndSession(r.Context(), "", s.cfg.PublicURL+"/", "")
	if err != nil {
		s.render(w, http.StatusBadGateway, "home.html", map[string]any{"Error": "Signed out of Todo0, but Acme's sign-out could not be reached: " + err.Error()})
		return
	}
	http.Redirect(w, r, endpoint+"?"+params.Encode(), http.StatusSeeOther)
}

func (s *Server) csrfOK(r *http.Request, u *webUser) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(u.CSRF)) == 1
}

// todo is one todo as pages and the API show it.
type todo struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Done      bool   `json:"done"`
	CreatedAt int64  `json:"created_at"`
	CreatedBy string `json:"created_by"`           // "person" or "agent"
	ViaClient string `json:"via_client,omitempty"` // the agent's client id at Todo0
	ViaName   string `json:"via_name,omitempty"`   // that client's registered name ("Agent0")
}

// todoColumns selects a todo with the name of the client that created it.
const todoColumns = `t.id, t.title, t.done, t.created_at, t.created_by, t.via_client, COALESCE(c.name, '') FROM todos t LEFT JOIN clients c ON c.id = t.via_client`

func scanTodo(sc interface{ Scan(...any) error }, t *todo) error {
	return sc.Scan(&t.ID, &t.Title, &t.Done, &t.CreatedAt, &t.CreatedBy, &t.ViaClient, &t.ViaName)
}

// A page of todos: the API's default and largest, and the web page's size.
const (
	defaultTodoPage = 100
	maxTodoPage     = 500
	webTodoPage     = 50
	todoQueryLimit  = "501" // maxTodoPage + 1
)

// todoPage returns up to limit of the user's todos after the cursor, oldest
// first, and the cursor of the next page ("" after the last one). It reads
// one index range (todos_user), so a page costs the same however many todos
// the user has.
func (s *Server) todoPage(ctx context.Context, userID, cursor string, limit int) ([]todo, string, error) {
	after, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	// The LIMIT is a constant, the largest page plus one, and the loop stops
	// after limit+1 rows: with a bound LIMIT SQLite re-plans (re-prepares)
	// the statement on every run, which doubled the query's cost.
	limit = min(limit, maxTodoPage)
	rows, err := s.stmts.Query(ctx, `SELECT `+todoColumns+` WHERE t.user_id = ? AND t.id > ? ORDER BY t.id LIMIT `+todoQueryLimit, userID, after)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := make([]todo, 0, min(limit+1, 64))
	for len(out) <= limit && rows.Next() {
		var t todo
		if err := scanTodo(rows, &t); err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// errBadCursor is a cursor this server did not hand out.
var errBadCursor = errors.New("cursor must be a next_cursor value from an earlier page")

// parseCursor reads a cursor: opaque to clients, the id of the last todo of
// the previous page here.
func parseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != c {
		return 0, errBadCursor
	}
	return n, nil
}

// MaxTitle bounds a todo title.
const MaxTitle = 200

func validTitle(t string) (string, bool) {
	t = strings.TrimSpace(t)
	return t, t != "" && len(t) <= MaxTitle
}

// createTodo stores a todo and returns it as stored, built from what was
// written (and the acting client's name from the client cache) rather than
// read back.
func (s *Server) createTodo(ctx context.Context, userID, title, createdBy, via string) (todo, error) {
	t := todo{Title: title, CreatedAt: s.now().Unix(), CreatedBy: createdBy, ViaClient: via}
	if via != "" {
		c, err := s.client(ctx, via)
		switch {
		case err == nil:
			t.ViaName = c.Name
		case !errors.Is(err, clientauth.ErrUnknownClient):
			return todo{}, err
		}
	}
	res, err := s.stmts.Exec(ctx, `INSERT INTO todos(user_id, title, created_at, created_by, via_client) VALUES (?,?,?,?,?)`,
		userID, title, t.CreatedAt, createdBy, via)
	if err != nil {
		return todo{}, err
	}
	if t.ID, err = res.LastInsertId(); err != nil {
		return todo{}, err
	}
	return t, nil
}

func (s *Server) todo(ctx context.Context, id int64) (todo, error) {
	var t todo
	err := scanTodo(s.stmts.QueryRow(ctx, `SELECT `+todoColumns+` WHERE t.id = ?`, id), &t)
	return t, err
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	u := s.currentUser(r)
	data := map[string]any{"User": u, "IdP": s.cfg.IdPIssuer}
	if u != nil {
		cursor := r.URL.Query().Get("cursor")
		ts, next, err := s.todoPage(r.Context(), u.ID, cursor, webTodoPage)
		if errors.Is(err, errBadCursor) {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		data["Todos"], data["Next"], data["Paged"], data["Cursor"] = ts, next, cursor != "", cursor
		var apps []map[string]any
		rows, err := s.stmts.Query(r.Context(), `SELECT g.client_id, c.name, g.last_at, g.n FROM grant_apps g LEFT JOIN clients c ON c.id = g.client_id WHERE g.user_id = ? ORDER BY g.client_id`, u.ID)
		if err == nil {
			for rows.Next() {
				var id string
				var name sql.NullString
				var last, n int64
				if rows.Scan(&id, &name, &last, &n) == nil {
					apps = append(apps, map[string]any{"ClientID": id, "Name": name.String, "Last": last, "Count": n})
				}
			}
			rows.Close()
		}
		data["Apps"] = apps
	}
	s.render(w, http.StatusOK, "home.html", data)
}

func (s *Server) webCreateTodo(w http.ResponseWriter, r *http.Request) {
	u := s.currentUser(r)
	if u == nil || !s.csrfOK(r, u) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	title, ok := validTitle(r.PostFormValue("title"))
	if !ok {
		http.Error(w, "a todo needs a title of 1 to 200 characters", http.StatusBadRequest)
		return
	}
	if _, err := s.createTodo(r.Context(), u.ID, title, "person", ""); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) webCompleteTodo(w http.ResponseWriter, r *http.Request) {
	u := s.currentUser(r)
	if u == nil || !s.csrfOK(r, u) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	res, err := s.stmts.Exec(r.Context(), `UPDATE todos SET done = 1 WHERE id = ? AND user_id = ?`, id, u.ID)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		http.Error(w, "no such todo of yours", http.StatusNotFound)
		return
	}
	// Back to the page the person was on: the form carries that page's
	// cursor, which is checked like any other before it goes into a URL.
	to := "/"
	if c := r.PostFormValue("cursor"); c != "" {
		if _, err := parseCursor(c); err == nil {
			to = "/?cursor=" + c
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	httpx.RenderHTML(w, s.tmpl, status, name, data, "", s.log)
}
