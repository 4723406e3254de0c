package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// The service API serves Todo0 MCP, which authenticates as its own client
// (never with the end user's token) and names the user it acts for.

type serviceKey struct{}

// requireService authenticates a service client with HTTP Basic.
func (s *Server) requireService(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := s.clients.Authenticate(r, nil)
		if err != nil {
			oauth.WriteError(w, r, err)
			return
		}
		full, err := s.client(r.Context(), c.ID)
		if err != nil || full.Kind != "service" {
			oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrAccessDenied, Description: "only service clients may use the todo API", Status: http.StatusForbidden})
			return
		}
		if user := mux.Vars(r)["user"]; !s.knownUsers.has(user) {
			var exists int
			if err := s.stmts.QueryRow(r.Context(), `SELECT COUNT(*) FROM users WHERE id = ?`, user).Scan(&exists); err != nil || exists == 0 {
				oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such Todo0 user"})
				return
			}
			s.knownUsers.add(user)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serviceKey{}, c.ID)))
	})
}

// apiListTodos is one page of the user's todos, oldest first:
// ?limit= (default 100, at most 500) and ?cursor= (the next_cursor of the
// previous page). next_cursor is absent on the last page.
func (s *Server) apiListTodos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultTodoPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTodoPage {
			oauth.WriteError(w, r, oauth.InvalidRequest("limit must be an integer from 1 to %d", maxTodoPage))
			return
		}
		limit = n
	}
	ts, next, err := s.todoPage(r.Context(), mux.Vars(r)["user"], q.Get("cursor"), limit)
	if errors.Is(err, errBadCursor) {
		oauth.WriteError(w, r, oauth.InvalidRequest("%v", err))
		return
	}
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	out := map[string]any{"todos": ts}
	if next != "" {
		out["next_cursor"] = next
	}
	oauth.WriteJSON(w, http.StatusOK, out)
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return oauth.InvalidRequest("body must be a JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return oauth.InvalidRequest("body must hold exactly one JSON object")
	}
	return nil
}

func (s *Server) apiCreateTodo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string `json:"title"`
		// ActingClient is the client at Todo0 the MCP caller's token was issued
		// to, so a person can see which agent acted for them.
		ActingClient string `json:"acting_client"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		oauth.WriteError(w, r, err)
		return
	}
	title, ok := validTitle(in.Title)
	if !ok {
		oauth.WriteError(w, r, oauth.InvalidRequest("title must be 1 to %d characters", MaxTitle))
		return
	}
	// The acting client is shown to the user as who acted for them, so it
	// must be an app registered here to redeem ID-JAGs.
	if c, err := s.client(r.Context(), in.ActingClient); err != nil || c.Kind != "requesting_app" {
		oauth.WriteError(w, r, oauth.InvalidRequest("acting_client must be the Todo0 client id the caller's access token was issued to"))
		return
	}
	t, err := s.createTodo(r.Context(), mux.Vars(r)["user"], title, "agent", in.ActingClient)
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	oauth.WriteJSON(w, http.StatusCreated, t)
}

func (s *Server) apiUpdateTodo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Done *bool `json:"done"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		oauth.WriteError(w, r, err)
		return
	}
	if in.Done == nil {
		oauth.WriteError(w, r, oauth.InvalidRequest("send {\"done\": true} or {\"done\": false}"))
		return
	}
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	res, err := s.stmts.Exec(r.Context(), `UPDATE todos SET done = ? WHERE id = ? AND user_id = ?`, *in.Done, id, mux.Vars(r)["user"])
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such todo for this user"})
		return
	}
	s.writeTodo(w, r, id)
}

func (s *Server) writeTodo(w http.ResponseWriter, r *http.Request, id int64) {
	t, err := s.todo(r.Context(), id)
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	oauth.WriteJSON(w, http.StatusOK, t)
}

func (s *Server) apiDeleteTodo(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	res, err := s.stmts.Exec(r.Context(), `DELETE FROM todos WHERE id = ? AND user_id = ?`, id, mux.Vars(r)["user"])
	if err != nil {
		oauth.WriteError(w, r, oauth.ServerError(err))
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such todo for this user"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
