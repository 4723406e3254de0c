package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
)

// panel is the connections panel: the state of the user's Todo0 connection.
type panel struct {
	State      string // connected | expired | re-exchanging | refused | failed
	StateLabel string
	Title      string // for refused/failed: the plain-words headline
	Detail     string
	ErrorCode  string // the OAuth error from the IdP or AS, if any
	ErrorDesc  string
	Scopes     []string
	AccessExp  time.Time
	IDJAGExp   time.Time
	Exchanges  int
	Refused    int // refused attempts count too: the panel shows them
	AS         string
	Steps      int
	RetryAt    time.Time // after a refusal: when Agent0 asks again on its own (zero: only on Reconnect)
}

func (s *Server) panelFor(sessionID string, c *connection, err error) panel {
	t := c.rec.Tokens()
	p := panel{Scopes: t.Scopes, AccessExp: t.AccessExp, IDJAGExp: t.IDJAGExp, Exchanges: t.Exchanges, Refused: t.Refused, Steps: len(c.rec.Exchanges())}
	c.mu.Lock()
	p.AS = c.as
	if c.refused != nil && s.cfg.RetryRefusedAfter > 0 {
		p.RetryAt = c.refusedAt.Add(s.cfg.RetryRefusedAfter)
	}
	if err == nil {
		if c.refused != nil {
			err = c.refused
		} else if c.session == nil {
			err = c.err
		}
	}
	c.mu.Unlock()
	switch {
	case err != nil:
		p.Title, p.Detail = explain(err)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			p.ErrorCode, p.ErrorDesc = re.ErrorCode, re.ErrorDescription
		}
		if isRefusal(err) {
			p.State, p.StateLabel = "refused", p.Title
		} else {
			p.State, p.StateLabel = "failed", p.Title
		}
	case t.Exchanging > 0:
		p.State, p.StateLabel = "re-exchanging", "Re-exchanging: getting a fresh ID-JAG and access token"
	case !t.AccessExp.IsZero() && !s.now().Before(t.AccessExp):
		p.State, p.StateLabel = "expired", "Access token expired: Agent0 re-exchanges silently on the next call"
	default:
		p.State, p.StateLabel = "connected", "Todo0 connected via Cross App Access"
	}
	return p
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	data := map[string]any{"User": ss, "IdP": s.cfg.IdPIssuer, "MCP": s.cfg.MCPURL, "Page": "home"}
	if ss != nil {
		// Connect on first view (no network once connected, or refused).
		_, c, err := s.mcpSession(r.Context(), ss.ID)
		data["Panel"] = s.panelFor(ss.ID, c, err)
		c.mu.Lock()
		data["Tools"] = c.tools
		c.mu.Unlock()
		data["Chat"] = c.chat.list()
	}
	s.render(w, http.StatusOK, "home.html", data)
}

// chat handles one chat line: parse, call the tool, append the answer.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	s.say(r, ss, r.PostFormValue("message"))
	http.Redirect(w, r, s.afterChat(ss.ID), http.StatusSeeOther)
}

// say runs one chat line for the user and records both sides.
func (s *Server) say(r *http.Request, ss *session, text string) {
	text = strings.TrimSpace(text)
	if len(text) > 2000 {
		text = text[:2000]
	}
	ctx := r.Context()
	_, c, err := s.mcpSession(ctx, ss.ID)
	user := chatMsg{FromUser: true, Text: text}
	if err != nil {
		title, detail := explain(err)
		c.chat.add(user, chatMsg{ErrTitle: title, ErrDetail: detail})
		return
	}
	c.mu.Lock()
	tools := c.tools
	c.mu.Unlock()
	in := parseCommand(text, tools)
	var ans chatMsg
	switch {
	case in.Help:
		fresh, err := s.refreshTools(ctx, ss.ID)
		if err != nil {
			ans.ErrTitle, ans.ErrDetail = explain(err)
			break
		}
		ans = chatMsg{Text: fmt.Sprintf("Todo0 offers %d tools (from tools/list). Say “show my todos”, “add buy milk”, “done 3”, “delete 3”, or call any tool with “call <tool> {json}”.", len(fresh)), Tools: fresh}
	case in.Tool != "":
		out, err := s.callTool(ctx, ss.ID, in.Tool, in.Args)
		if err != nil {
			ans.Tool = in.Tool
			ans.ErrTitle, ans.ErrDetail = explain(err)
			break
		}
		ans = reply(in.Tool, in.Args, out)
	default:
		ans.Text = in.Reply
	}
	c.chat.add(user, ans)
}

// addTodo is the form-post shortcut for "add <title>" (kept for scripts).
func (s *Server) addTodo(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	s.say(r, ss, "add "+strings.TrimSpace(r.PostFormValue("title")))
	http.Redirect(w, r, s.afterChat(ss.ID), http.StatusSeeOther)
}

// completeTodo is the form-post shortcut for "done <id>".
func (s *Server) completeTodo(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	s.say(r, ss, "done "+mux.Vars(r)["id"])
	http.Redirect(w, r, s.afterChat(ss.ID), http.StatusSeeOther)
}

// reconnect forgets a refusal and the MCP session; the page then connects
// afresh (a new token exchange).
func (s *Server) reconnect(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil || !s.csrfOK(r, ss) {
		http.Error(w, "sign in first (or the form expired)", http.StatusForbidden)
		return
	}
	c := s.connectionFor(ss.ID)
	c.mu.Lock()
	c.refused, c.err, c.tools = nil, nil, nil
	c.mu.Unlock()
	c.rec.markReconnect()
	s.dropConnection(ss.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	httpx.RenderHTML(w, s.tmpl, status, name, data, "", s.log)
}
