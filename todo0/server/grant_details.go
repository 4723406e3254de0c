package server

import (
	"encoding/json"
	"slices"

	"github.com/xaa-sandbox/xaa-sandbox/shared/demo"
	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/rar"
)

// What an ID-JAG grants besides scope, read at redemption: the resource
// (one URI or an array, ID-JAG draft section 3) and rich authorization
// details (RFC 9396). Both are carried into the access token and the token
// response (ID-JAG draft 4.4.1).

// grantedResource is the resource the access token is for: the ID-JAG's
// resource claim, a string or an array of exactly one string, which must be
// one of this AS's resources; without the claim, the AS's first resource.
// An access token here has one audience, so an array naming two resources
// is refused rather than silently cut.
func (s *Server) grantedResource(raw json.RawMessage) (string, error) {
	var one string
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(`""`)
	}
	if err := json.Unmarshal(raw, &one); err != nil {
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
			return "", oauth.InvalidGrant("ID-JAG rejected: resource must be a URI or an array of URIs").WithRule("checklist 3.8 resource is ours")
		}
		if len(many) > 1 {
			return "", oauth.InvalidGrant("ID-JAG rejected: it names %d resources; a Todo0 access token serves one, so ask for one ID-JAG per resource", len(many)).WithRule("checklist 3.8 resource is ours")
		}
		one = many[0]
	}
	// A vendor quirk may ignore the claim or compare it loosely (quirks.go).
	if one = s.quirkResource(one); one == "" {
		return s.cfg.Resources[0], nil
	}
	if !slices.Contains(s.cfg.Resources, one) {
		return "", oauth.InvalidGrant("ID-JAG rejected: resource %q is not a Todo0 resource", one).WithRule("checklist 3.8 resource is ours")
	}
	return one, nil
}

// grantedDetails checks the ID-JAG's authorization_details: a JSON array of
// details whose type and actions Todo0 knows. Todo0 grants them as the IdP
// narrowed them; anything it does not understand refuses the ID-JAG (EMA
// 7.6.2: a mismatch is invalid_grant), as an unknown scope does.
func grantedDetails(raw json.RawMessage) ([]rar.Detail, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	details, err := rar.Parse(raw)
	if err != nil {
		return nil, oauth.InvalidGrant("ID-JAG rejected: %v", err).WithRule("IDJAG 4.4.1 authorization_details")
	}
	for _, d := range details {
		if d.Type() != demo.Todo0TodosDetailType {
			return nil, oauth.InvalidGrant("ID-JAG rejected: authorization_details type %q is unknown at Todo0 (it knows %s)", d.Type(), demo.Todo0TodosDetailType).WithRule("IDJAG 4.4.1 authorization_details")
		}
		for _, a := range d.Actions() {
			if !slices.Contains(demo.Todo0TodoActions, a) {
				return nil, oauth.InvalidGrant("ID-JAG rejected: action %q of %s is unknown at Todo0", a, d.Type()).WithRule("IDJAG 4.4.1 authorization_details")
			}
		}
	}
	return details, nil
}
