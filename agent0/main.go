// Command agent0 runs the Agent0 requesting app alone: go run ./agent0 --help
package main

import (
	"os"

	"github.com/xaa-sandbox/xaa-sandbox/agent0/server"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

func main() { os.Exit(party.Main("agent0", server.Run)) }
