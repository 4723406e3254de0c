package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

// toolScopes is the scope each tool needs; scopeGate enforces it at the
// HTTP layer (403 insufficient_scope) and each handler checks it again.
var toolScopes = map[string]string{
	"list_todos":    demo.ScopeRead,
	"create_todo":   demo.ScopeWrite,
	"complete_todo": demo.ScopeWrite,
	"delete_todo":   demo.ScopeWrite,
}

// Todo is a todo as tools return it.
type Todo struct {
	ID        int64  `json:"id" jsonschema:"the todo's id"`
	Title     string `json:"title"`
	Done      bool   `json:"done"`
	CreatedBy string `json:"created_by" jsonschema:"person or agent"`
	ViaClient string `json:"via_client,omitempty" jsonschema:"for agent-created todos, the client that acted"`
}

// listIn pages through the todos the MCP way: an opaque cursor from the
// previous page's nextCursor.
type listIn struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"nextCursor of the previous page; omit for the first page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"todos per page, 1 to 100 (default 50)"`
}

type listOut struct {
	Todos      []Todo `json:"todos"`
	NextCursor string `json:"nextCursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last page"`
}

// A list_todos page: the default and the largest a caller may ask for.
const (
	defaultListLimit = 50
	maxListLimit     = 100
)

type createIn struct {
	Title string `json:"title" jsonschema:"what to do, 1 to 200 characters"`
}

type idIn struct {
	ID int64 `json:"id" jsonschema:"the todo's id, as list_todos shows it"`
}

type deleteOut struct {
	Deleted int64 `json:"deleted"`
}

// caller is who a tool acts for, from the verified token.
type caller struct{ userID, clientID string }

// callerOf is who calls a tool, once the token allows it: the tool's scope,
// and, when the token carries authorization_details (RFC 9396), a
// todo0_todos detail that names the tool's action.
func callerOf(req *mcp.CallToolRequest, scope, action string) (caller, error) {
	var ti *auth.TokenInfo
	if req.Extra != nil {
		ti = req.Extra.TokenInfo
	}
	if ti == nil {
		return caller{}, errors.New("no verified access token")
	}
	ok := false
	for _, s := range ti.Scopes {
		ok = ok || s == scope
	}
	if !ok {
		return caller{}, fmt.Errorf("this tool needs scope %s", scope)
	}
	if details, _ := ti.Extra["authorization_details"].([]rar.Detail); details != nil && !rar.Permits(details, demo.Todo0TodosDetailType, action) {
		return caller{}, fmt.Errorf("the access token's authorization_details do not allow %s on %s", action, demo.Todo0TodosDetailType)
	}
	cid, _ := ti.Extra["client_id"].(string)
	return caller{userID: ti.UserID, clientID: cid}, nil
}

func (s *Server) addTools(srv *mcp.Server) {
	addTool(srv, &mcp.Tool{
		Name: "list_todos", Title: "List todos", OutputSchema: listTodosOutputSchema(),
		Description: "List the signed-in user's todos, oldest first, one page at a time: " +
			"when the result has nextCursor, call again with it as cursor for the next page. Needs todos.read.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in listIn) (listOut, error) {
		c, err := callerOf(req, demo.ScopeRead, "list")
		if err != nil {
			return listOut{}, err
		}
		limit := in.Limit
		if limit == 0 {
			limit = defaultListLimit
		}
		if limit < 1 || limit > maxListLimit {
			return listOut{}, fmt.Errorf("limit must be from 1 to %d", maxListLimit)
		}
		ts, next, err := s.api.list(ctx, c.userID, in.Cursor, limit)
		return listOut{Todos: ts, NextCursor: next}, err
	})
	addTool(srv, &mcp.Tool{
		Name: "create_todo", Title: "Create a todo",
		Description: "Add a todo for the signed-in user. Needs todos.write.",
	}, func(ctx context.Context, req *mcp.CallToolRequest, in createIn) (Todo, error) {
		c, err := callerOf(req, demo.ScopeWrite, "create")
		if err != nil {
			return Todo{}, err
		}
		t, err := s.api.create(ctx, c.userID, in.Title, c.clientID)
		return t, err
	})
	addTool(srv, &mcp.Tool{
		Name: "complete_todo", Title: "Complete a todo",
		Description: "Mark one of the user's todos as done. Needs todos.write.",
		Annotations: &mcp.ToolAnnotations{IdempotentHint: true},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in idIn) (Todo, error) {
		c, err := callerOf(req, demo.ScopeWrite, "complete")
		if err != nil {
			return Todo{}, err
		}
		t, err := s.api.setDone(ctx, c.userID, in.ID, true)
		return t, err
	})
	destructive := true
	addTool(srv, &mcp.Tool{
		Name: "delete_todo", Title: "Delete a todo",
		Description: "Delete one of the user's todos. Needs todos.write.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &destructive},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in idIn) (deleteOut, error) {
		c, err := callerOf(req, demo.ScopeWrite, "delete")
		if err != nil {
			return deleteOut{}, err
		}
		return deleteOut{Deleted: in.ID}, s.api.delete(ctx, c.userID, in.ID)
	})
}
