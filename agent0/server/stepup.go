package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Step-up (ID-JAG draft "Step-Up Authentication", RFC 9470): the IdP
// refuses the exchange with insufficient_user_authentication when the
// administrator's connection needs a more recent sign-in. That is not a
// refusal to remember: Agent0 sends the user back to the IdP to sign in
// again (prompt=login, max_age), and the new sign-in's exchange goes through.

// stepUpMaxAge reports a step-up demand and the max_age it names (0 when
// the IdP named none).
func stepUpMaxAge(err error) (int64, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != oauth.ErrInsufficientUserAuthentication {
		return 0, false
	}
	var body struct {
		MaxAge int64 `json:"max_age"`
	}
	_ = json.Unmarshal(re.Body, &body)
	return body.MaxAge, true
}

// stepUpLogin is where the browser goes to sign in again for a step-up.
func stepUpLogin(maxAge int64) string {
	return "/login?step_up=" + strconv.FormatInt(maxAge, 10)
}

// login starts the sign-in; /login?step_up=N asks the IdP for a fresh one
// (prompt=login, max_age=N).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("step_up")
	if v == "" {
		s.rp.StartLogin(w, r, "/")
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		n = 0
	}
	s.rp.StartLogin(w, r, "/", oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", strconv.FormatInt(n, 10)))
}

// afterChat is where a chat form goes back to: the chat, or the IdP's
// sign-in when the connection failed for a step-up.
func (s *Server) afterChat(sessionID string) string {
	c := s.connectionFor(sessionID)
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if n, ok := stepUpMaxAge(err); ok {
		return stepUpLogin(n)
	}
	return "/#last"
}
