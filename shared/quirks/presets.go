package quirks

import (
	"slices"
)

// Preset bundles the switches that match one vendor's documented
// behaviour, with the public source each follows.
type Preset struct {
	Name, Description string
	Switches          []string
	// Sources are the public documents the switches follow, one per switch
	// or group of switches ("switch: where it is documented").
	Sources []string
}

// Presets are the documented vendor profiles.
var Presets = []Preset{
	{
		Name:        "xaa-playground",
		Description: "the hosted XAA playground's IdP, as a requesting app meets it",
		Switches:    []string{"idp-client-auth-post-only"},
		Sources: []string{
			"idp-client-auth-post-only: xaa.dev/docs/step2 (\"Developer-registered clients use client_secret_post: credentials go in the POST body, not in an Authorization: Basic header\")",
		},
	},
	{
		Name:        "auth0-as",
		Description: "Auth0 as the resource authorization server (Cross App Access for Resource Apps)",
		Switches:    []string{"id-jag-reuse"},
		Sources: []string{
			"id-jag-reuse: auth0.com/docs/api/authentication/cross-app-access/get-token (\"the Requesting App can reuse the same ID-JAG as long as it hasn't expired\"); the same page accepts the client secret in the body or with HTTP Basic, as the sandbox does",
		},
	},
	{
		Name:        "keycloak-as",
		Description: "Keycloak's JWT Authorization Grant (RFC 7523) as the resource authorization server, with its documented defaults",
		Switches:    []string{"max-id-jag-age=5m", "clock-skew=0s", "ignore-scope", "ignore-resource"},
		Sources: []string{
			"max-id-jag-age=5m, clock-skew=0s: keycloak.org/securing-apps/jwt-authorization-grant (\"Max allowed assertion expiration ... Default 5 minutes\", \"Allowed clock skew ... Default value is zero\")",
			"ignore-scope: same guide: the assertion's scope claim is enforced only by the optional downscope-assertion-grant-enforcer client policy; the request's scope is handled as for other grants",
			"ignore-resource: same guide: the processing steps it lists never read a resource claim",
		},
	},
	{
		Name:        "conformance-mock",
		Description: "the MCP conformance suite's cross-app-access scenario (its mock IdP and authorization server)",
		Switches:    []string{"idp-no-client-auth", "as-client-auth-basic-only", "trailing-slash", "id-jag-reuse"},
		Sources: []string{
			"all four: modelcontextprotocol/conformance src/scenarios/client/auth/cross-app-access.ts: the mock IdP's token endpoint authenticates no client; the mock AS requires client_secret_basic (token_endpoint_auth_methods_supported [\"client_secret_basic\"]), accepts aud with or without a trailing slash, and keeps no record of jti",
		},
	},
}

func presetByName(name string) (Preset, bool) {
	i := slices.IndexFunc(Presets, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, false
	}
	return Presets[i], true
}

// PresetNames lists the presets.
func PresetNames() []string {
	var out []string
	for _, p := range Presets {
		out = append(out, p.Name)
	}
	return out
}
