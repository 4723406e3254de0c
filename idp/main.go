// Command idp runs the Acme IdP alone: go run ./idp --help
package main

import (
	"os"

	"github.com/xaa-sandbox/xaa-sandbox/idp/server"
	"github.com/xaa-sandbox/xaa-sandbox/shared/party"
)

func main() { os.Exit(party.Main("idp", server.Run)) }
