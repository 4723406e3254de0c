// Command todo0-mcp runs the Todo0 MCP server alone: go run ./todo0-mcp --help
package main

import (
	"os"

	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/todo0-mcp/server"
)

func main() { os.Exit(party.Main("todo0-mcp", server.Run)) }
