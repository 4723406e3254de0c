// Command todo0 runs Todo0 (web app, API, authorization server) alone: go run ./todo0 --help
package main

import (
	"os"

	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
	"github.com/xaa-sandbox/xaa-sandbox/todo0/server"
)

func main() { os.Exit(party.Main("todo0", server.Run)) }
