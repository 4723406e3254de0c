package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

type todo struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Done      bool   `json:"done"`
	CreatedBy string `json:"created_by"`
	ViaClient string `json:"via_client"`
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	data := map[string]any{"User": ss, "IdP": s.cfg.IdPIssuer, "MCP": s.cfg.MCPURL}
	if ss != nil {
		var out struct {
			Todos []todo `json:"todos"`
		}
		if err := s.callTool(r.Context(), ss.ID, "list_todos", map[string]any{}, &out); err != nil {
			data["ConnTitle"], data["ConnDetail"] = explain(err)
		} else {
			data["Connected"], data["Todos"] = true, out.Todos
		}
		if msg := r.URL.Query().Get("msg"); msg != "" {
			data["Flash"] = msg
		}
	}
	s.render(w, http.StatusOK, "home.html", data)
}

func (s *Server) addTodo(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	title := strings.TrimSpace(r.PostFormValue("title"))
	var t todo
	if err := s.callTool(r.Context(), ss.ID, "create_todo", map[string]any{"title": title}, &t); err != nil {
		_, detail := explain(err)
		http.Redirect(w, r, "/?msg="+urlEscape("Could not add the todo: "+detail), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/?msg="+urlEscape("Added “"+t.Title+"” to Todo0 as "+ss.Name+"."), http.StatusSeeOther)
}

func (s *Server) completeTodo(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err := s.callTool(r.Context(), ss.ID, "complete_todo", map[string]any{"id": id}, nil); err != nil {
		_, detail := explain(err)
		http.Redirect(w, r, "/?msg="+urlEscape("Could not complete the todo: "+detail), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) reconnect(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	s.dropConnection(ss.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("render", "template", name, "err", err)
	}
}

func urlEscape(s string) string { return url.QueryEscape(s) }
