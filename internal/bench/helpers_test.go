package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func callCreate(ctx context.Context, cs *mcp.ClientSession, title string) (*mcp.CallToolResult, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_todo", Arguments: map[string]any{"title": title}})
	if err == nil && res.IsError {
		err = fmt.Errorf("create_todo: tool error")
	}
	return res, err
}
