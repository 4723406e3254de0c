package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/keys"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/sqlitedb"
)

// Todo0 MCP may not import the todo0 party, so these tests stand up fakes
// of Todo0's authorization server and todo API from shared/ packages.

// fakeAS is an authorization server: RFC 8414 metadata and a JWKS from a
// persisted key set, plus Sign for minting tokens.
type fakeAS struct {
	*httptest.Server
	keys *keys.Set
}

func newFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir()+"/as.db", []string{keys.Migration})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ks, err := keys.Open(context.Background(), db, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAS{keys: ks}
	r := http.NewServeMux()
	r.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]any{"issuer": a.URL, "token_endpoint": a.URL + "/oauth2/token", "jwks_uri": a.URL + "/oauth2/jwks"})
	})
	r.Handle("GET /oauth2/jwks", ks)
	a.Server = httptest.NewServer(r)
	t.Cleanup(a.Close)
	return a
}

// fakeAPI is Todo0's service API: todos per user in memory, every
// Authorization header it received, and every request whole (URL, all
// headers, body), to look for a token passed on anywhere.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	auths  []string
	raw    []string
	todos  map[string][]Todo
	nextID int64
	acting []string
	lists  []string // the query of each list call
	// listAnswer, when set, answers list calls instead (broken answers).
	listAnswer func(http.ResponseWriter)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	a := &fakeAPI{todos: map[string][]Todo{}, nextID: 1}
	r := mux.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var dump bytes.Buffer
			fmt.Fprintf(&dump, "%s %s\n", r.Method, r.URL.RequestURI())
			_ = r.Header.Write(&dump)
			body, _ := io.ReadAll(r.Body)
			dump.Write(body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			a.mu.Lock()
			a.auths = append(a.auths, r.Header.Get("Authorization"))
			a.raw = append(a.raw, dump.String())
			a.mu.Unlock()
			id, secret, ok := r.BasicAuth()
			if !ok || id != demo.MCPServiceClientID || secret != demo.MCPServiceClientSecret {
				oauth.WriteError(w, r, oauth.InvalidClient(true, "service credentials required"))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	notFound := func(w http.ResponseWriter) {
		oauth.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such todo for this user"})
	}
	r.HandleFunc("/api/v1/users/{user}/todos", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		u := mux.Vars(r)["user"]
		if r.Method == http.MethodGet {
			if a.listAnswer != nil {
				a.listAnswer(w)
				return
			}
			// Todo0's paging: ?limit= and an opaque ?cursor= (here: the last id)
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			after, _ := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
			a.lists = append(a.lists, r.URL.RawQuery)
			page := []Todo{}
			for _, t := range a.todos[u] {
				if t.ID > after {
					page = append(page, t)
				}
			}
			out := map[string]any{}
			if limit > 0 && len(page) > limit {
				page = page[:limit]
				out["next_cursor"] = strconv.FormatInt(page[limit-1].ID, 10)
			}
			out["todos"] = page
			oauth.WriteJSON(w, http.StatusOK, out)
			return
		}
		var in struct{ Title, ActingClient string }
		_ = json.NewDecoder(r.Body).Decode(&struct {
			Title        *string `json:"title"`
			ActingClient *string `json:"acting_client"`
		}{&in.Title, &in.ActingClient})
		t := Todo{ID: a.nextID, Title: in.Title, CreatedBy: "agent", ViaClient: in.ActingClient}
		a.nextID++
		a.todos[u] = append(a.todos[u], t)
		a.acting = append(a.acting, in.ActingClient)
		oauth.WriteJSON(w, http.StatusCreated, t)
	})
	r.HandleFunc("/api/v1/users/{user}/todos/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		u := mux.Vars(r)["user"]
		id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
		for i, t := range a.todos[u] {
			if t.ID != id {
				continue
			}
			if r.Method == http.MethodDelete {
				a.todos[u] = append(a.todos[u][:i], a.todos[u][i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
			a.todos[u][i].Done = true
			oauth.WriteJSON(w, http.StatusOK, a.todos[u][i])
			return
		}
		notFound(w)
	})
	a.Server = httptest.NewServer(r)
	t.Cleanup(a.Close)
	return a
}

type mcpEnv struct {
	t   *testing.T
	s   *Server
	url string
	as  *fakeAS
	api *fakeAPI
}

func newMCPEnv(t *testing.T, tweak ...func(*Config)) *mcpEnv {
	t.Helper()
	e := &mcpEnv{t: t, as: newFakeAS(t), api: newFakeAPI(t)}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := Config{PublicURL: srv.URL, AuthServer: e.as.URL, Todo0API: e.api.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	e.s, e.url = s, srv.URL
	return e
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// claims of a good Todo0 access token for alice via Agent0 (RFC 9068).
func (e *mcpEnv) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.as.URL, "sub": "t0u_alice", "aud": e.s.Resource(), "client_id": demo.Agent0Todo0ClientID,
		"jti": randomID(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"scope": "todos.read todos.write",
	}
}

// token signs claims (after mut) with the fake AS's key and the given typ.
func (e *mcpEnv) token(typ string, mut func(map[string]any)) string {
	e.t.Helper()
	c := e.claims()
	if mut != nil {
		mut(c)
	}
	tok, err := e.as.keys.Sign(typ, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// post sends a JSON-RPC body to /mcp the way a streamable HTTP client does.
func (e *mcpEnv) post(path, authz, body string) *http.Response {
	e.t.Helper()
	return e.postWith(path, authz, body, nil)
}

// postWith is post with extra request headers.
func (e *mcpEnv) postWith(path, authz, body string, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// challengeParams parses a WWW-Authenticate Bearer challenge (RFC 9110
// 11.6.1 auth-params; values here are always quoted strings).
func challengeParams(t *testing.T, h string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("WWW-Authenticate %q is not a Bearer challenge", h)
	}
	out := map[string]string{}
	for rest != "" {
		k, v, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("bad challenge %q", h)
		}
		end := strings.IndexByte(v, '"') // descriptions never hold quotes or backslashes
		if end < 0 {
			t.Fatalf("unterminated value in %q", h)
		}
		out[k] = v[:end]
		rest = strings.TrimPrefix(v[end+1:], ", ")
	}
	return out
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func callBody(tool string, args string) string {
	return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
}
