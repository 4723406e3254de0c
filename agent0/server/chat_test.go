package server

import (
	"reflect"
	"strings"
	"testing"
)

var todoTools = []toolInfo{
	{Name: "list_todos"},
	{Name: "create_todo", Params: []string{"title"}, Required: []string{"title"}},
	{Name: "complete_todo", Params: []string{"id"}, Required: []string{"id"}},
	{Name: "delete_todo", Params: []string{"id"}, Required: []string{"id"}},
	// A tool Agent0 has no rule for: reachable by name and by "call".
	{Name: "archive_todo", Params: []string{"id", "reason"}, Required: []string{"id"}},
}

// The chat is deterministic: each line maps to one intent, and only tools
// that tools/list offered are ever called.
func TestParseCommand(t *testing.T) {
	tests := []struct {
		in       string
		tools    []toolInfo
		tool     string
		args     map[string]any
		help     bool
		replyHas string
	}{
		{in: "show my todos", tool: "list_todos", args: map[string]any{}},
		{in: "List todos", tool: "list_todos", args: map[string]any{}},
		{in: "todos", tool: "list_todos", args: map[string]any{}},
		{in: "add buy milk", tool: "create_todo", args: map[string]any{"title": "buy milk"}},
		{in: "Add a todo: call mom", tool: "create_todo", args: map[string]any{"title": "call mom"}},
		{in: "done 3", tool: "complete_todo", args: map[string]any{"id": int64(3)}},
		{in: "complete #12", tool: "complete_todo", args: map[string]any{"id": int64(12)}},
		{in: "delete 3", tool: "delete_todo", args: map[string]any{"id": int64(3)}},
		{in: "rm 4", tool: "delete_todo", args: map[string]any{"id": int64(4)}},
		{in: "help", help: true},
		{in: "?", help: true},
		// Generic calls reach any listed tool with JSON arguments.
		{in: `call archive_todo {"id": 3, "reason": "stale"}`, tool: "archive_todo", args: map[string]any{"id": float64(3), "reason": "stale"}},
		{in: `archive_todo {"id": 5}`, tool: "archive_todo", args: map[string]any{"id": float64(5)}},
		{in: "call list_todos", tool: "list_todos", args: map[string]any{}},
		// Never call a tool the server did not list.
		{in: "call format_disk {}", replyHas: "no format_disk tool"},
		{in: "add buy milk", tools: todoTools[:1], replyHas: "no create_todo tool"},
		{in: "done 3", tools: []toolInfo{}, replyHas: "no complete_todo tool"},
		{in: `call archive_todo {"id": 3`, replyHas: "must be a JSON object"},
		{in: `call archive_todo [1,2]`, replyHas: "must be a JSON object"},
		{in: "make me a sandwich", replyHas: "I don't understand"},
		{in: "   ", replyHas: "Type a request"},
	}
	for _, tc := range tests {
		tools := tc.tools
		if tools == nil {
			tools = todoTools
		}
		got := parseCommand(tc.in, tools)
		if got.Help != tc.help || got.Tool != tc.tool {
			t.Errorf("%q: got help=%v tool=%q (reply %q), want help=%v tool=%q", tc.in, got.Help, got.Tool, got.Reply, tc.help, tc.tool)
			continue
		}
		if tc.tool != "" && !reflect.DeepEqual(got.Args, tc.args) {
			t.Errorf("%q: args %#v, want %#v", tc.in, got.Args, tc.args)
		}
		if tc.replyHas != "" && !strings.Contains(got.Reply, tc.replyHas) {
			t.Errorf("%q: reply %q, want it to contain %q", tc.in, got.Reply, tc.replyHas)
		}
	}
}

// The argument name comes from the tool's schema, not from Agent0.
func TestParseCommandUsesSchemaParam(t *testing.T) {
	tools := []toolInfo{{Name: "create_todo", Params: []string{"text"}, Required: []string{"text"}}}
	got := parseCommand("add water plants", tools)
	if got.Args["text"] != "water plants" {
		t.Fatalf("args %#v, want text from the schema", got.Args)
	}
}

func TestReplyRendersStructuredOutput(t *testing.T) {
	list := reply("list_todos", nil, map[string]any{"todos": []any{
		map[string]any{"id": 1.0, "title": "buy milk", "done": true, "created_by": "agent"},
		map[string]any{"id": 2.0, "title": "call mom", "done": false, "created_by": "person"},
	}})
	if !list.ShowTodos || len(list.Todos) != 2 || list.Text != "You have 2 todos in Todo0, 1 open." {
		t.Fatalf("list reply: %+v", list)
	}
	added := reply("create_todo", nil, map[string]any{"id": 7.0, "title": "buy milk"})
	if added.Text != "Added “buy milk” as #7." {
		t.Fatalf("create reply: %q", added.Text)
	}
	gone := reply("delete_todo", nil, map[string]any{"deleted": 7.0})
	if gone.Text != "Deleted #7." {
		t.Fatalf("delete reply: %q", gone.Text)
	}
	other := reply("archive_todo", nil, map[string]any{"archived": true})
	if !strings.Contains(other.JSON, `"archived": true`) {
		t.Fatalf("generic reply shows no JSON: %+v", other)
	}
}
