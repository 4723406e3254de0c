package server

// The admin JSON API at /admin/api: the admin service layer (admin.go) over
// HTTP, authenticated with the admin Bearer token. Documented with curl
// examples in docs/idp-admin.md.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/faults"
	"github.com/xaa-sandbox/xaa-sandbox/shared/httpx"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

const (
	apiActor        = "admin-api"
	maxAdminBody    = 64 << 10
	contentTypeJSON = "application/json"
)

// sameOrigin reports whether a request may come from a browser page of this
// IdP: Sec-Fetch-Site (sent by every current browser) must not say another
// site, and an Origin header, when present, must be our configured origin
// (or its loopback form), never one derived from the request's own Host.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if o == "null" {
		return false
	}
	return httpx.NewHosts(s.cfg.Issuer).SameOrigin(o)
}

func crossSite() *oauth.Error {
	return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "cross-site requests to the admin interface are refused", Status: http.StatusForbidden}
}

// adminAPI guards every admin API route: no cross-site requests, then the
// admin token (constant-time compare in faults.RequireAdmin).
func (s *Server) adminAPI(next http.Handler) http.Handler {
	guarded := faults.RequireAdmin(s.cfg.AdminToken, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sameOrigin(r) {
			oauth.WriteError(w, r, crossSite())
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// decodeJSON reads a bounded JSON object with no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != contentTypeJSON {
		return oauth.InvalidRequest("Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return oauth.InvalidRequest("request body is larger than %d bytes", maxAdminBody)
		}
		return oauth.InvalidRequest("could not read the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return oauth.InvalidRequest("body is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return oauth.InvalidRequest("body has data after the JSON object")
	}
	return nil
}

// api adapts a handler that returns (value, error) to JSON out.
func api(status int, f func(r *http.Request, w http.ResponseWriter) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r, w)
		if err != nil {
			oauth.WriteError(w, r, err)
			return
		}
		if v == nil {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		oauth.WriteJSON(w, status, v)
	}
}

func withBody[T any](w http.ResponseWriter, r *http.Request, f func(T) (any, error)) (any, error) {
	var in T
	if err := decodeJSON(w, r, &in); err != nil {
		return nil, err
	}
	return f(in)
}

func (s *Server) adminAPIRoutes(r *mux.Router) {
	r.Use(s.adminAPI)
	v := mux.Vars
	ok, created := http.StatusOK, http.StatusCreated

	// users
	r.Handle("/users", api(ok, paged(func(r *http.Request, after string, limit int) ([]UserView, string, error) {
		return s.ListUsers(r.Context(), after, limit)
	}))).Methods(http.MethodGet)
	r.Handle("/users", api(created, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in UserInput) (any, error) { return s.CreateUser(r.Context(), apiActor, in) })
	})).Methods(http.MethodPost)
	r.Handle("/users/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.GetUser(r.Context(), v(r)["id"]) })).Methods(http.MethodGet)
	r.Handle("/users/{id}", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in UserInput) (any, error) { return s.UpdateUser(r.Context(), apiActor, v(r)["id"], in) })
	})).Methods(http.MethodPatch)
	r.Handle("/users/{id}/deactivate", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.SetUserActive(r.Context(), apiActor, v(r)["id"], false)
	})).Methods(http.MethodPost)
	r.Handle("/users/{id}/reactivate", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.SetUserActive(r.Context(), apiActor, v(r)["id"], true)
	})).Methods(http.MethodPost)
	r.Handle("/users/{id}/sessions", api(ok, paged(func(r *http.Request, after string, limit int) (*UserGrants, string, error) {
		return s.ListGrants(r.Context(), v(r)["id"], after, limit)
	}))).Methods(http.MethodGet)
	r.Handle("/users/{id}/sessions", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		ns, nr, err := s.RevokeAllGrants(r.Context(), apiActor, v(r)["id"])
		return map[string]int64{"revoked_sessions": ns, "revoked_refresh_tokens": nr}, err
	})).Methods(http.MethodDelete)
	r.Handle("/sessions/{sid}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return nil, s.RevokeSession(r.Context(), apiActor, v(r)["sid"])
	})).Methods(http.MethodDelete)
	r.Handle("/refresh-tokens/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return nil, s.RevokeRefreshToken(r.Context(), apiActor, v(r)["id"])
	})).Methods(http.MethodDelete)

	// groups
	r.Handle("/groups", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.ListGroups(r.Context()) })).Methods(http.MethodGet)
	r.Handle("/groups", api(created, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in GroupInput) (any, error) { return s.CreateGroup(r.Context(), apiActor, in) })
	})).Methods(http.MethodPost)
	r.Handle("/groups/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.GetGroup(r.Context(), v(r)["id"]) })).Methods(http.MethodGet)
	r.Handle("/groups/{id}/members", api(ok, paged(func(r *http.Request, after string, limit int) ([]MemberView, string, error) {
		return s.ListGroupMembers(r.Context(), v(r)["id"], after, limit)
	}))).Methods(http.MethodGet)
	r.Handle("/groups/{id}/members", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in struct {
			UserID string `json:"user_id"`
		}) (any, error) {
			return s.SetGroupMember(r.Context(), apiActor, v(r)["id"], in.UserID, true)
		})
	})).Methods(http.MethodPost)
	r.Handle("/groups/{id}/members/{user}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.SetGroupMember(r.Context(), apiActor, v(r)["id"], v(r)["user"], false)
	})).Methods(http.MethodDelete)

	// apps and assignments
	r.Handle("/apps", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.ListApps(r.Context()) })).Methods(http.MethodGet)
	r.Handle("/apps", api(created, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in AppInput) (any, error) { return s.CreateApp(r.Context(), apiActor, in) })
	})).Methods(http.MethodPost)
	r.Handle("/apps/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.GetApp(r.Context(), v(r)["id"]) })).Methods(http.MethodGet)
	r.Handle("/apps/{id}", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in AppInput) (any, error) { return s.UpdateApp(r.Context(), apiActor, v(r)["id"], in) })
	})).Methods(http.MethodPatch)
	r.Handle("/apps/{id}/assignments", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in AssignmentInput) (any, error) {
			return s.SetAssignment(r.Context(), apiActor, v(r)["id"], in, true)
		})
	})).Methods(http.MethodPost)
	r.Handle("/apps/{id}/assignments/users", api(ok, paged(func(r *http.Request, after string, limit int) ([]MemberView, string, error) {
		return s.ListAppUsers(r.Context(), v(r)["id"], after, limit)
	}))).Methods(http.MethodGet)
	r.Handle("/apps/{id}/assignments/users/{user}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.SetAssignment(r.Context(), apiActor, v(r)["id"], AssignmentInput{UserID: v(r)["user"]}, false)
	})).Methods(http.MethodDelete)
	r.Handle("/apps/{id}/assignments/groups/{group}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.SetAssignment(r.Context(), apiActor, v(r)["id"], AssignmentInput{GroupID: v(r)["group"]}, false)
	})).Methods(http.MethodDelete)

	// clients
	r.Handle("/clients", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.ListClients(r.Context()) })).Methods(http.MethodGet)
	r.Handle("/clients", api(created, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in ClientInput) (any, error) { return s.CreateClient(r.Context(), apiActor, in) })
	})).Methods(http.MethodPost)
	r.Handle("/clients/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.GetClient(r.Context(), v(r)["id"]) })).Methods(http.MethodGet)
	r.Handle("/clients/{id}", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in ClientInput) (any, error) { return s.UpdateClient(r.Context(), apiActor, v(r)["id"], in) })
	})).Methods(http.MethodPatch)
	r.Handle("/clients/{id}/secret", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.RotateClientSecret(r.Context(), apiActor, v(r)["id"])
	})).Methods(http.MethodPost)

	// managed connections
	r.Handle("/connections", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.ListConnections(r.Context()) })).Methods(http.MethodGet)
	r.Handle("/connections", api(created, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in ConnectionInput) (any, error) { return s.CreateConnection(r.Context(), apiActor, in) })
	})).Methods(http.MethodPost)
	r.Handle("/connections/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return s.GetConnection(r.Context(), v(r)["id"])
	})).Methods(http.MethodGet)
	r.Handle("/connections/{id}", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		return withBody(w, r, func(in ConnectionInput) (any, error) {
			return s.UpdateConnection(r.Context(), apiActor, v(r)["id"], in)
		})
	})).Methods(http.MethodPatch)
	r.Handle("/connections/{id}", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		return nil, s.DeleteConnection(r.Context(), apiActor, v(r)["id"])
	})).Methods(http.MethodDelete)

	// signing keys
	r.Handle("/keys", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) { return s.ListKeys(r.Context()) })).Methods(http.MethodGet)
	r.Handle("/keys/rotate", api(ok, func(r *http.Request, w http.ResponseWriter) (any, error) {
		// Optional body {"publish_ahead": "15s"}: publish now, sign later.
		var in struct {
			PublishAhead string `json:"publish_ahead"`
		}
		if r.ContentLength != 0 {
			if err := decodeJSON(w, r, &in); err != nil {
				return nil, err
			}
		}
		var ahead time.Duration
		if in.PublishAhead != "" {
			d, err := time.ParseDuration(in.PublishAhead)
			if err != nil {
				return nil, oauth.InvalidRequest("publish_ahead %q is not a duration like \"15s\"", in.PublishAhead)
			}
			ahead = d
		}
		return s.RotateKeyAfter(r.Context(), apiActor, ahead)
	})).Methods(http.MethodPost)

	// audit log
	r.Handle("/audit", api(ok, func(r *http.Request, _ http.ResponseWriter) (any, error) {
		f, err := AuditFilterFromQuery(r.URL.Query().Get)
		if err != nil {
			return nil, err
		}
		return s.QueryAudit(r.Context(), f)
	})).Methods(http.MethodGet)
	r.HandleFunc("/audit/export", s.auditExport).Methods(http.MethodGet)

	// fault injection (issue 5); changes are audited like any admin change
	fh := faults.Handler(s.faults, s.cfg.AdminToken)
	r.Handle("/faults", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := strings.Join(s.faults.Active(), " ")
		fh.ServeHTTP(w, r)
		if after := strings.Join(s.faults.Active(), " "); after != before {
			s.adminChange(r.Context(), apiActor, "faults.set", auditRecord{}, map[string]any{"active": s.faults.Active()})
		}
	}))

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, r, notFound("no admin API endpoint %s %s; see docs/idp-admin.md", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, r, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "method " + r.Method + " is not allowed here", Status: http.StatusMethodNotAllowed})
	})
}

// auditExport streams matching audit records as JSON lines, oldest first
// within the page, for SIEM-style ingestion.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) {
	f, err := AuditFilterFromQuery(r.URL.Query().Get)
	if err != nil {
		oauth.WriteError(w, r, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 10000
	}
	entries, err := s.QueryAudit(r.Context(), f)
	if err != nil {
		oauth.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="acme-idp-audit.jsonl"`)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := len(entries) - 1; i >= 0; i-- {
		_ = enc.Encode(entries[i])
	}
}

// paged serves one page of a list (?after=, ?limit= from 1 to maxPage,
// default defaultPage): the page as JSON and, while there is more, a Link
// header with rel="next" (RFC 8288) naming the next page, same limit.
func paged[T any](list func(r *http.Request, after string, limit int) (T, string, error)) func(*http.Request, http.ResponseWriter) (any, error) {
	return func(r *http.Request, w http.ResponseWriter) (any, error) {
		q := r.URL.Query()
		limit := 0
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, oauth.InvalidRequest("limit must be an integer from 1 to %d", maxPage)
			}
			limit = n
		}
		page, next, err := list(r, q.Get("after"), limit)
		if err != nil {
			return nil, err
		}
		if next != "" {
			nq := url.Values{"after": {next}}
			if limit != 0 {
				nq.Set("limit", strconv.Itoa(limit))
			}
			w.Header().Set("Link", "<"+r.URL.EscapedPath()+"?"+nq.Encode()+`>; rel="next"`)
		}
		return page, nil
	}
}
