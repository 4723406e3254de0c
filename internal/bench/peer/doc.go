// Package peer compares the IdP's token exchange with an independent OpenID
// provider's: zitadel/oidc's example OP, in-process, driven by the same
// client in alternating rounds. It is its own Go module so that the main
// module does not depend on zitadel/oidc:
//
//	cd internal/bench/peer && go test -run '^$' -bench . -benchtime 300x
package peer
