package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The chat: deterministic rules, no language model. The user's words become
// an MCP tool call; which tools exist comes from tools/list, so "help" shows
// whatever the server offers and "call <tool> {json}" reaches any of them.

// toolInfo is a tool as tools/list describes it.
type toolInfo struct {
	Name, Description string
	Params            []string // property names of the input schema
	Required          []string
}

func newToolInfo(t *mcp.Tool) toolInfo {
	ti := toolInfo{Name: t.Name, Description: t.Description}
	b, _ := json.Marshal(t.InputSchema)
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if json.Unmarshal(b, &schema) == nil {
		for k := range schema.Properties {
			ti.Params = append(ti.Params, k)
		}
		sort.Strings(ti.Params)
		ti.Required = schema.Required
	}
	return ti
}

// Signature is how help shows the tool: name {param, …}.
func (t toolInfo) Signature() string {
	if len(t.Params) == 0 {
		return t.Name
	}
	return t.Name + " {" + strings.Join(t.Params, ", ") + "}"
}

// intent is what a chat line asks for: help, a tool call, or a reply
// without any call (not understood, or a tool the server lacks).
type intent struct {
	Help  bool
	Tool  string
	Args  map[string]any
	Reply string
}

var (
	helpRe   = regexp.MustCompile(`(?i)^(help|\?|what can you do\??|tools)$`)
	callRe   = regexp.MustCompile(`(?is)^call\s+([A-Za-z0-9_.\-/]+)\s*(.*)$`)
	bareRe   = regexp.MustCompile(`(?is)^([A-Za-z0-9_.\-/]+)\s*(\{.*\})?$`)
	listRe   = regexp.MustCompile(`(?i)^((show|list|ls|get|see|view)\b.*|(my\s+)?todos\??)$`)
	addRe    = regexp.MustCompile(`(?is)^(add|create|new|remember|todo)\s*(a\s+)?(todo\s*)?:?\s+(.+)$`)
	doneRe   = regexp.MustCompile(`(?i)^(done|complete|finish|check|tick)\s+#?(\d+)$`)
	deleteRe = regexp.MustCompile(`(?i)^(delete|remove|rm|drop)\s+#?(\d+)$`)
)

// parseCommand maps a chat line to an intent using the server's tools.
func parseCommand(text string, tools []toolInfo) intent {
	text = strings.TrimSpace(text)
	find := func(name string) (toolInfo, bool) {
		i := slices.IndexFunc(tools, func(t toolInfo) bool { return t.Name == name })
		if i < 0 {
			return toolInfo{}, false
		}
		return tools[i], true
	}
	missing := func(name string) intent {
		return intent{Reply: fmt.Sprintf("Todo0 offers no %s tool right now. Type help to see what it offers.", name)}
	}
	// param is the tool's argument to fill: its only required one, else def.
	param := func(t toolInfo, def string) string {
		if len(t.Required) == 1 {
			return t.Required[0]
		}
		return def
	}
	generic := func(name, raw string) intent {
		t, ok := find(name)
		if !ok {
			return missing(name)
		}
		args := map[string]any{}
		if raw = strings.TrimSpace(raw); raw != "" {
			if err := json.Unmarshal([]byte(raw), &args); err != nil {
				return intent{Reply: fmt.Sprintf("The arguments for %s must be a JSON object, like %s: %v", name, exampleArgs(t), err)}
			}
		}
		return intent{Tool: name, Args: args}
	}
	withID := func(name, id string) intent {
		t, ok := find(name)
		if !ok {
			return missing(name)
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return intent{Reply: fmt.Sprintf("%q is not a todo number.", id)}
		}
		return intent{Tool: name, Args: map[string]any{param(t, "id"): n}}
	}
	switch {
	case text == "":
		return intent{Reply: "Type a request, or help."}
	case helpRe.MatchString(text):
		return intent{Help: true}
	}
	if m := callRe.FindStringSubmatch(text); m != nil {
		return generic(m[1], m[2])
	}
	if m := doneRe.FindStringSubmatch(text); m != nil {
		return withID("complete_todo", m[2])
	}
	if m := deleteRe.FindStringSubmatch(text); m != nil {
		return withID("delete_todo", m[2])
	}
	if m := addRe.FindStringSubmatch(text); m != nil {
		t, ok := find("create_todo")
		if !ok {
			return missing("create_todo")
		}
		return intent{Tool: t.Name, Args: map[string]any{param(t, "title"): strings.TrimSpace(m[4])}}
	}
	if listRe.MatchString(text) {
		if _, ok := find("list_todos"); !ok {
			return missing("list_todos")
		}
		return intent{Tool: "list_todos", Args: map[string]any{}}
	}
	// A tool's own name, with optional JSON arguments.
	if m := bareRe.FindStringSubmatch(text); m != nil {
		if _, ok := find(m[1]); ok {
			return generic(m[1], m[2])
		}
	}
	return intent{Reply: fmt.Sprintf("I don't understand “%s”. Try “show my todos”, “add buy milk”, “done 3”, “delete 3”, or help.", text)}
}

func exampleArgs(t toolInfo) string {
	if len(t.Params) == 0 {
		return "{}"
	}
	parts := make([]string, len(t.Params))
	for i, p := range t.Params {
		parts[i] = fmt.Sprintf("%q: …", p)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// chatMsg is one line of the conversation.
type chatMsg struct {
	At        time.Time
	FromUser  bool
	Text      string
	Todos     []todo // a list of todos, rendered as a list
	ShowTodos bool
	Tools     []toolInfo // help
	JSON      string     // other structured output
	Tool      string     // the tool called, if any
	ErrTitle  string
	ErrDetail string
}

// chatLog is a session's conversation, bounded.
type chatLog struct {
	mu   sync.Mutex
	msgs []chatMsg
}

const maxChat = 60

func (l *chatLog) add(m ...chatMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range m {
		if m[i].At.IsZero() {
			m[i].At = time.Now()
		}
	}
	l.msgs = append(l.msgs, m...)
	if len(l.msgs) > maxChat {
		l.msgs = slices.Delete(l.msgs, 0, len(l.msgs)-maxChat)
	}
}

func (l *chatLog) list() []chatMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

type todo struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Done      bool   `json:"done"`
	CreatedBy string `json:"created_by"`
	ViaClient string `json:"via_client"`
}

// reply turns a tool's structured output into a chat message: todos as a
// list, a single todo in words, anything else as JSON.
func reply(tool string, args map[string]any, out any) chatMsg {
	m := chatMsg{Tool: tool}
	obj, _ := out.(map[string]any)
	decode := func(v any, into any) bool {
		b, err := json.Marshal(v)
		return err == nil && json.Unmarshal(b, into) == nil
	}
	if raw, ok := obj["todos"]; ok {
		var ts []todo
		if decode(raw, &ts) {
			m.Todos, m.ShowTodos = ts, true
			open := 0
			for _, t := range ts {
				if !t.Done {
					open++
				}
			}
			switch len(ts) {
			case 0:
				m.Text = "You have no todos in Todo0."
			default:
				m.Text = fmt.Sprintf("You have %s in Todo0, %d open.", plural(len(ts), "todo", "todos"), open)
			}
			return m
		}
	}
	if _, ok := obj["title"]; ok {
		var t todo
		if decode(obj, &t) {
			switch {
			case tool == "create_todo":
				m.Text = fmt.Sprintf("Added “%s” as #%d.", t.Title, t.ID)
			case t.Done:
				m.Text = fmt.Sprintf("Marked #%d “%s” done.", t.ID, t.Title)
			default:
				m.Text = fmt.Sprintf("#%d “%s”.", t.ID, t.Title)
			}
			m.Todos = []todo{t}
			return m
		}
	}
	if id, ok := obj["deleted"]; ok && len(obj) == 1 {
		m.Text = fmt.Sprintf("Deleted #%v.", id)
		return m
	}
	if s, ok := out.(string); ok {
		m.Text = s
		return m
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	m.Text = fmt.Sprintf("%s answered:", tool)
	m.JSON = string(b)
	return m
}

// plural is "1 todo", "2 todos".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
