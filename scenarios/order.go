package scenarios

import "sort"

// sequenceOrder is the catalogue in the order of the XAA sequence: the happy
// path first, then what goes wrong at each hop (sign-in and the exchange at
// the IdP, the ID-JAG, its redemption at the resource AS, the MCP server),
// then time, renewal and revocation.
var sequenceOrder = []string{
	"happy-path",
	"faults-mcp-prm",
	"exchange-bad-request", "client-credentials", "id-token-other-client", "forged-id-token", "expired-id-token",
	"unknown-audience", "no-managed-connection", "user-not-assigned", "user-deactivated", "scope-narrowing",
	"rich-authorization-requests", "rich-authorization-refusals", "actor-token", "step-up",
	"saml-subject-token", "saml-subject-token-refusals",
	"id-jag-times", "missing-claims", "faults-idp-id-jag",
	"wrong-typ", "alg-attacks", "forged-signature", "wrong-audience", "client-id-mismatch", "expired-id-jag",
	"replayed-id-jag", "resource-not-ours", "unsupported-grant", "faults-todo0-as",
	"mcp-bad-tokens",
	"dpop-bound-tokens", "dpop-refusals",
	"access-token-expiry", "agent0-silent-reexchange",
	"idp-session-revoked", "agent0-admin-revokes", "revocation-without-shared-signals", "revocation-with-shared-signals",
	"key-rotation",
}

// InSequenceOrder sorts scenarios in the order of the sequence they teach;
// scenarios it does not know (your own) come last, by name.
func InSequenceOrder(scs []*Scenario) {
	rank := map[string]int{}
	for i, n := range sequenceOrder {
		rank[n] = i
	}
	pos := func(sc *Scenario) int {
		if r, ok := rank[sc.Name]; ok {
			return r
		}
		return len(sequenceOrder)
	}
	sort.SliceStable(scs, func(i, j int) bool {
		pi, pj := pos(scs[i]), pos(scs[j])
		if pi != pj {
			return pi < pj
		}
		return scs[i].Name < scs[j].Name
	})
}
