package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP session with the Go SDK client, sending token.
func (e *mcpEnv) connect(token string, offerEMA bool) *mcp.ClientSession {
	e.t.Helper()
	opts := &mcp.ClientOptions{}
	if offerEMA {
		caps := &mcp.ClientCapabilities{}
		caps.AddExtension(oauth.ExtensionEnterpriseManagedAuthorization, nil)
		opts.Capabilities = caps
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: e.url + demo.MCPPath, HTTPClient: &http.Client{Transport: bearerTransport{token}},
	}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cs.Close() })
	return cs
}

// TestExtensionEcho: EMA, the server echoes the enterprise-managed-authorization
// extension to a client that offers it, and does not impose it on others.
func TestExtensionEcho(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	tok := e.token(oauth.TypAccessToken, nil)
	ext := e.connect(tok, true).InitializeResult().Capabilities.Extensions
	if _, ok := ext[oauth.ExtensionEnterpriseManagedAuthorization]; !ok {
		t.Errorf("offered, not echoed: %v", ext)
	}
	ext = e.connect(tok, false).InitializeResult().Capabilities.Extensions
	if _, ok := ext[oauth.ExtensionEnterpriseManagedAuthorization]; ok {
		t.Errorf("not offered, still advertised: %v", ext)
	}
}

// TestToolsStructuredAndErrors: every tool declares an output schema and
// returns structured content; a failing call is a tool error (isError) a
// model can read, not a transport failure; the client's token never reaches
// Todo0 (checklist 4), which sees only Todo0 MCP's own Basic credentials.
func TestToolsStructuredAndErrors(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	tok := e.token(oauth.TypAccessToken, nil)
	cs := e.connect(tok, true)
	ctx := context.Background()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range tools.Tools {
		names[tl.Name] = true
		if tl.OutputSchema == nil || tl.InputSchema == nil {
			t.Errorf("tool %s: input schema %v, output schema %v", tl.Name, tl.InputSchema != nil, tl.OutputSchema != nil)
		}
	}
	// list_todos never returns todos: null, and its schema says so
	for _, tl := range tools.Tools {
		if tl.Name == "list_todos" {
			b, _ := json.Marshal(tl.OutputSchema)
			if strings.Contains(string(b), `"null"`) || !strings.Contains(string(b), `"todos":{"items"`) {
				t.Errorf("list_todos output schema allows null or lost todos: %s", b)
			}
		}
	}
	for n := range toolScopes {
		if !names[n] {
			t.Errorf("tool %s missing from tools/list", n)
		}
	}

	call := func(name string, args any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: transport/protocol error %v (a tool failure must be a result)", name, err)
		}
		return res
	}
	structured := func(res *mcp.CallToolResult, v any) {
		t.Helper()
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, v); err != nil || res.StructuredContent == nil {
			t.Fatalf("structured content %s: %v", b, err)
		}
	}

	res := call("create_todo", map[string]any{"title": "Book flights"})
	var created Todo
	structured(res, &created)
	if res.IsError || created.ID == 0 || created.Title != "Book flights" || created.CreatedBy != "agent" || created.ViaClient != demo.Agent0Todo0ClientID {
		t.Errorf("create_todo: %+v isError %v", created, res.IsError)
	}
	var listed listOut
	structured(call("list_todos", map[string]any{}), &listed)
	if len(listed.Todos) != 1 || listed.Todos[0].ID != created.ID {
		t.Errorf("list_todos: %+v", listed)
	}
	var done Todo
	structured(call("complete_todo", map[string]any{"id": created.ID}), &done)
	if !done.Done {
		t.Errorf("complete_todo: %+v", done)
	}

	// tool failures are results with isError and a readable message
	for _, tc := range []struct {
		name string
		args any
		want string
	}{
		{"complete_todo", map[string]any{"id": 4242}, "not found"},
		{"delete_todo", map[string]any{"id": 4242}, "not found"},
	} {
		res := call(tc.name, tc.args)
		text := ""
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text += tc.Text
			}
		}
		if !res.IsError || !strings.Contains(text, tc.want) {
			t.Errorf("%s %v: isError %v text %q", tc.name, tc.args, res.IsError, text)
		}
	}
	// bad arguments are refused by the input schema, still as a result or a
	// JSON-RPC error, never a crash
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "complete_todo", Arguments: map[string]any{"id": "seven"}}); err == nil && !res.IsError {
		t.Errorf("a string id was accepted: %+v", res)
	}

	var deleted deleteOut
	structured(call("delete_todo", map[string]any{"id": created.ID}), &deleted)
	if deleted.Deleted != created.ID {
		t.Errorf("delete_todo: %+v", deleted)
	}

	// checklist 4: never pass the client's token on
	e.api.mu.Lock()
	defer e.api.mu.Unlock()
	if len(e.api.auths) < 5 {
		t.Fatalf("the API saw %d calls", len(e.api.auths))
	}
	for _, a := range e.api.auths {
		id, secret, ok := (&http.Request{Header: http.Header{"Authorization": {a}}}).BasicAuth()
		if !ok || id != demo.MCPServiceClientID || secret != demo.MCPServiceClientSecret || strings.Contains(a, tok) {
			t.Errorf("Todo0 API got Authorization %q, want Todo0 MCP's Basic credentials", a)
		}
	}
	// ... nor in any other header, the URL or the body
	for _, raw := range e.api.raw {
		if strings.Contains(raw, tok) {
			t.Errorf("Todo0 API request carries the client's access token:\n%.300s", raw)
		}
	}
	if len(e.api.acting) != 1 || e.api.acting[0] != demo.Agent0Todo0ClientID {
		t.Errorf("acting_client sent: %v", e.api.acting)
	}
	// the user is the token's sub
	if _, ok := e.api.todos["t0u_alice"]; !ok || len(e.api.todos) != 1 {
		t.Errorf("todos by user: %v", e.api.todos)
	}
}

// toolText is the text content of a tool result.
func toolText(res *mcp.CallToolResult) string {
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	return text
}

// TestListTodosPages: list_todos pages the MCP way (a cursor argument, a
// nextCursor in the structured result, absent on the last page), so a user
// with any number of todos can be listed; every todo appears exactly once,
// in order; the page size has a default and a bound.
func TestListTodosPages(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	e.api.mu.Lock()
	for i := range 7 {
		e.api.todos["t0u_alice"] = append(e.api.todos["t0u_alice"], Todo{ID: int64(10 + i), Title: "t", CreatedBy: "person"})
	}
	e.api.mu.Unlock()
	cs := e.connect(e.token(oauth.TypAccessToken, nil), false)
	ctx := context.Background()
	list := func(args map[string]any) (listOut, *mcp.CallToolResult) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_todos", Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		var out listOut
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &out)
		return out, res
	}
	var ids []int64
	cursor, pages := "", 0
	for {
		args := map[string]any{"limit": 3}
		if cursor != "" {
			args["cursor"] = cursor
		}
		out, res := list(args)
		if res.IsError {
			t.Fatalf("page %d: %s", pages, toolText(res))
		}
		pages++
		for _, td := range out.Todos {
			ids = append(ids, td.ID)
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
	}
	if pages != 3 || fmt.Sprint(ids) != "[10 11 12 13 14 15 16]" {
		t.Errorf("%d pages, ids %v", pages, ids)
	}
	if out, res := list(map[string]any{}); res.IsError || len(out.Todos) != 7 || out.NextCursor != "" {
		t.Errorf("default page: %+v %s", out, toolText(res))
	}
	e.api.mu.Lock()
	if got := e.api.lists[len(e.api.lists)-1]; got != "limit=50" {
		t.Errorf("default page asked Todo0 for %q, want limit=50", got)
	}
	e.api.mu.Unlock()
	// arguments are still checked against the input schema
	for _, args := range []map[string]any{{"bogus": 1}, {"limit": "ten"}, {"cursor": 7}} {
		if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_todos", Arguments: args}); err == nil && !res.IsError {
			t.Errorf("arguments %v were accepted", args)
		}
	}
	for _, bad := range []int{-1, maxListLimit + 1} {
		if _, res := list(map[string]any{"limit": bad}); !res.IsError || !strings.Contains(toolText(res), "limit") {
			t.Errorf("limit %d: isError %v %q", bad, res.IsError, toolText(res))
		}
	}
}

// TestListTodosBrokenAnswer: an answer from Todo0 that is cut off, longer
// than the limit or not JSON is a tool error the caller sees, never a short
// or empty list.
func TestListTodosBrokenAnswer(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	cs := e.connect(e.token(oauth.TypAccessToken, nil), false)
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter)
		want   string
	}{
		{"cut off", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write([]byte(`{"todos":[{"id":1,"title":"a"}`))
		}, "reading Todo0's answer"},
		{"over the limit", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"todos":[],"pad":"` + strings.Repeat("x", maxAnswer) + `"}`))
		}, "longer than"},
		{"not JSON", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"todos":[`)) }, "not the expected JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.api.mu.Lock()
			e.api.listAnswer = tc.answer
			e.api.mu.Unlock()
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError || !strings.Contains(toolText(res), tc.want) {
				t.Errorf("isError %v, text %q, want %q", res.IsError, toolText(res), tc.want)
			}
		})
	}
}

// list_todos' output schema says what the tool returns: todos is an array,
// never null (a Go slice's inferred schema allows null; strict validators
// warn about a schema that admits what the tool never sends).
func TestListTodosOutputSchemaTodosNotNullable(t *testing.T) {
	e := newMCPEnv(t)
	cs := e.connect(e.token(oauth.TypAccessToken, nil), true)
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools.Tools {
		if tl.Name != "list_todos" {
			continue
		}
		b, _ := json.Marshal(tl.OutputSchema)
		var s struct {
			Properties map[string]struct {
				Type any `json:"type"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if got := s.Properties["todos"].Type; got != "array" {
			t.Fatalf("todos type %v, want \"array\": %s", got, b)
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_todos", Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("list_todos with the schema: %v %+v", err, res)
		}
		out, _ := json.Marshal(res.StructuredContent)
		if string(out) != `{"todos":[]}` {
			t.Fatalf("empty list is %s", out)
		}
		return
	}
	t.Fatal("no list_todos")
}
