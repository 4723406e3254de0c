// Package faults is the sandbox's fault injection: named misbehaviours a
// party can be switched into through its admin API, so SDK authors can check
// that their client or server notices. Every fault is off by default and
// forgotten on restart.
package faults

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Fault is one misbehaviour a party knows.
type Fault struct {
	Name        string `json:"name"`        // e.g. "id_jag.wrong_aud"
	Description string `json:"description"` // what the party does wrong, and who should notice
}

// Set holds a party's known faults and which are active.
type Set struct {
	known  []Fault
	mu     sync.RWMutex
	active map[string]bool
}

// NewSet returns a Set that knows the given faults, none active.
func NewSet(known ...Fault) *Set {
	return &Set{known: known, active: map[string]bool{}}
}

// On reports whether the fault is active. Parties call it at the point where
// they would misbehave.
func (s *Set) On(name string) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active[name]
}

// Active lists the active faults, sorted.
func (s *Set) Active() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for n := range s.active {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Known lists every fault the party knows.
func (s *Set) Known() []Fault { return slices.Clone(s.known) }

// Replace makes exactly names active. Unknown names are an error and change nothing.
func (s *Set) Replace(names []string) error {
	next := map[string]bool{}
	for _, n := range names {
		if !slices.ContainsFunc(s.known, func(f Fault) bool { return f.Name == n }) {
			return fmt.Errorf("unknown fault %q", n)
		}
		next[n] = true
	}
	s.mu.Lock()
	s.active = next
	s.mu.Unlock()
	return nil
}

type state struct {
	Active []string `json:"active"`
	Known  []Fault  `json:"known"`
}

// Handler serves the fault switchboard: GET lists known and active faults,
// PUT {"active": [...]} replaces the active set (an empty list turns all
// off). It is an admin endpoint: token must be sent as a Bearer token.
func Handler(s *Set, token string) http.Handler {
	return RequireAdmin(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut, http.MethodPost:
			var in struct {
				Active []string `json:"active"`
			}
			dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				oauth.WriteError(w, r, oauth.InvalidRequest(`body must be {"active": ["fault.name", ...]}: %v`, err))
				return
			}
			if err := s.Replace(in.Active); err != nil {
				oauth.WriteError(w, r, oauth.InvalidRequest("%v", err))
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT")
			oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "use GET or PUT", Status: http.StatusMethodNotAllowed})
			return
		}
		oauth.WriteJSON(w, http.StatusOK, state{Active: s.Active(), Known: s.Known()})
	}))
}

// RequireAdmin lets a request through only with "Authorization: Bearer
// token" (compared in constant time). Browsers never send such a header on
// their own, so a cross-site request cannot use it.
func RequireAdmin(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		got := ""
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
		if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "admin API: send the admin token as a Bearer token", Status: http.StatusUnauthorized})
			return
		}
		next.ServeHTTP(w, r)
	})
}
