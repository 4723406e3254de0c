// Package quirks names the documented ways real identity providers and
// authorization servers differ from the strict rules the sandbox follows by
// default. Each difference is a switch, off unless named; presets bundle the
// switches one vendor's public documentation describes. The IdP and the Todo0
// authorization server read a Set at their few decision points, so a client
// can be tested against each behaviour it will meet.
package quirks

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
)

// Set is the switches in effect. The zero Set is the strict sandbox.
type Set struct {
	// IdPClientAuth and ASClientAuth restrict client authentication at the
	// IdP's and at the Todo0 AS's token endpoint to one method:
	// "client_secret_basic" or "client_secret_post" ("": any method the
	// client registered).
	IdPClientAuth, ASClientAuth string
	// AudArray: the IdP writes an ID-JAG's aud as a one-element array.
	AudArray bool
	// TrailingSlash: the Todo0 AS treats aud and resource that differ only
	// by a trailing slash as equal.
	TrailingSlash bool
	// MaxIDJAGAge: the Todo0 AS refuses ID-JAGs whose iat is older (0: its default, 10m).
	MaxIDJAGAge time.Duration
	// ClockSkew: the Todo0 AS's tolerance for an ID-JAG's exp, nbf and iat,
	// when ClockSkewSet (else its default, 30s); zero is a valid setting.
	ClockSkew    time.Duration
	ClockSkewSet bool
	// IgnoreScope: the Todo0 AS ignores the ID-JAG's scope claim: it grants
	// the requested scope (known scopes only), or its default scopes.
	IgnoreScope bool
	// IgnoreResource: the Todo0 AS does not check the ID-JAG's resource and
	// issues its default resource's tokens.
	IgnoreResource bool
	// IDJAGReuse: the Todo0 AS accepts an ID-JAG again until it expires
	// (ID-JAG draft 4.4.3 allows re-submission; the MCP extension forbids it).
	IDJAGReuse bool
	// ResourceOverridesAudience: the IdP picks the resource app by the
	// requested resource, whatever the audience parameter says.
	ResourceOverridesAudience bool
	// ExtraClaims: the IdP adds act, email and sub_profile to every ID-JAG.
	ExtraClaims bool
	// GenericErrors: the IdP and the Todo0 AS answer errors with a generic
	// error_description instead of the detailed one.
	GenericErrors bool
	// IdPNoClientAuth: the IdP's token exchange accepts a client that sends
	// only its client_id (as the MCP conformance suite's mock IdP does).
	IdPNoClientAuth bool
}

// Switch documents one switch.
type Switch struct {
	Name, Party, Description string
	// Value names the switch's argument ("duration"), or "" for none.
	Value string
	set   func(*Set, time.Duration)
}

// Switches are every switch, in the order of the documentation.
var Switches = []Switch{
	{Name: "idp-client-auth-basic-only", Party: "IdP", Description: "the token endpoint accepts client_secret_basic only (and its metadata lists only it)",
		set: func(s *Set, _ time.Duration) { s.IdPClientAuth = oauth.AuthMethodClientSecretBasic }},
	{Name: "idp-client-auth-post-only", Party: "IdP", Description: "the token endpoint accepts client_secret_post only (and its metadata lists only it)",
		set: func(s *Set, _ time.Duration) { s.IdPClientAuth = oauth.AuthMethodClientSecretPost }},
	{Name: "as-client-auth-basic-only", Party: "Todo0 AS", Description: "the token endpoint accepts client_secret_basic only (and its metadata lists only it)",
		set: func(s *Set, _ time.Duration) { s.ASClientAuth = oauth.AuthMethodClientSecretBasic }},
	{Name: "as-client-auth-post-only", Party: "Todo0 AS", Description: "the token endpoint accepts client_secret_post only (and its metadata lists only it)",
		set: func(s *Set, _ time.Duration) { s.ASClientAuth = oauth.AuthMethodClientSecretPost }},
	{Name: "aud-array", Party: "IdP", Description: `ID-JAGs carry aud as a one-element array (["https://as"]) instead of a string`,
		set: func(s *Set, _ time.Duration) { s.AudArray = true }},
	{Name: "trailing-slash", Party: "Todo0 AS", Description: "aud and resource that differ only by a trailing slash are accepted",
		set: func(s *Set, _ time.Duration) { s.TrailingSlash = true }},
	{Name: "max-id-jag-age", Value: "duration", Party: "Todo0 AS", Description: "ID-JAGs whose iat is older than this are refused (default 10m)",
		set: func(s *Set, d time.Duration) { s.MaxIDJAGAge = d }},
	{Name: "clock-skew", Value: "duration", Party: "Todo0 AS", Description: "tolerance for an ID-JAG's exp, nbf and iat (default 30s; 0s allowed)",
		set: func(s *Set, d time.Duration) { s.ClockSkew, s.ClockSkewSet = d, true }},
	{Name: "ignore-scope", Party: "Todo0 AS", Description: "the ID-JAG's scope claim is ignored: the request's scope (or the default scopes) is granted",
		set: func(s *Set, _ time.Duration) { s.IgnoreScope = true }},
	{Name: "ignore-resource", Party: "Todo0 AS", Description: "the ID-JAG's resource is not checked; tokens are for the default resource",
		set: func(s *Set, _ time.Duration) { s.IgnoreResource = true }},
	{Name: "id-jag-reuse", Party: "Todo0 AS", Description: "an ID-JAG may be redeemed again until it expires (no jti replay check)",
		set: func(s *Set, _ time.Duration) { s.IDJAGReuse = true }},
	{Name: "resource-overrides-audience", Party: "IdP", Description: "the resource parameter picks the resource app; the audience parameter is ignored",
		set: func(s *Set, _ time.Duration) { s.ResourceOverridesAudience = true }},
	{Name: "extra-claims", Party: "IdP", Description: "ID-JAGs also carry act, email and sub_profile",
		set: func(s *Set, _ time.Duration) { s.ExtraClaims = true }},
	{Name: "generic-errors", Party: "IdP, Todo0 AS", Description: "error_description is a generic sentence, not the detailed reason",
		set: func(s *Set, _ time.Duration) { s.GenericErrors = true }},
	{Name: "idp-no-client-auth", Party: "IdP", Description: "token exchange accepts a client that sends only its client_id (no secret)",
		set: func(s *Set, _ time.Duration) { s.IdPNoClientAuth = true }},
}

// Parse reads a comma-separated list of switch names ("aud-array"),
// switches with a value ("max-id-jag-age=30s") and preset names
// ("okta-idp"). Later entries override earlier ones.
func Parse(list string) (Set, error) {
	var s Set
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, ok := presetByName(item); ok {
			sub, err := Parse(strings.Join(p.Switches, ","))
			if err != nil {
				return Set{}, fmt.Errorf("preset %s: %w", p.Name, err)
			}
			s = s.merge(sub)
			continue
		}
		name, val, hasVal := strings.Cut(item, "=")
		i := slices.IndexFunc(Switches, func(sw Switch) bool { return sw.Name == name })
		if i < 0 {
			return Set{}, fmt.Errorf("unknown quirk %q (known: %s; presets: %s)", name, strings.Join(Names(), ", "), strings.Join(PresetNames(), ", "))
		}
		sw := Switches[i]
		var d time.Duration
		switch {
		case sw.Value != "" && !hasVal:
			return Set{}, fmt.Errorf("quirk %s needs a value: %s=30s", name, name)
		case sw.Value == "" && hasVal:
			return Set{}, fmt.Errorf("quirk %s takes no value", name)
		case hasVal:
			var err error
			if d, err = time.ParseDuration(val); err != nil || d < 0 || (d == 0 && name != "clock-skew") {
				return Set{}, fmt.Errorf("quirk %s: %q is not a positive duration", name, val)
			}
		}
		sw.set(&s, d)
	}
	return s, nil
}

// merge sets every switch of o that is on.
func (s Set) merge(o Set) Set {
	if o.IdPClientAuth != "" {
		s.IdPClientAuth = o.IdPClientAuth
	}
	if o.ASClientAuth != "" {
		s.ASClientAuth = o.ASClientAuth
	}
	if o.MaxIDJAGAge != 0 {
		s.MaxIDJAGAge = o.MaxIDJAGAge
	}
	if o.ClockSkewSet {
		s.ClockSkew, s.ClockSkewSet = o.ClockSkew, true
	}
	s.AudArray = s.AudArray || o.AudArray
	s.TrailingSlash = s.TrailingSlash || o.TrailingSlash
	s.IgnoreScope = s.IgnoreScope || o.IgnoreScope
	s.IgnoreResource = s.IgnoreResource || o.IgnoreResource
	s.IDJAGReuse = s.IDJAGReuse || o.IDJAGReuse
	s.ResourceOverridesAudience = s.ResourceOverridesAudience || o.ResourceOverridesAudience
	s.ExtraClaims = s.ExtraClaims || o.ExtraClaims
	s.GenericErrors = s.GenericErrors || o.GenericErrors
	s.IdPNoClientAuth = s.IdPNoClientAuth || o.IdPNoClientAuth
	return s
}

// Names lists the switch names.
func Names() []string {
	var out []string
	for _, sw := range Switches {
		out = append(out, sw.Name)
	}
	return out
}

// String lists the switches in effect, as Parse reads them ("" when strict).
func (s Set) String() string {
	var on []string
	for party, m := range map[string]string{"idp": s.IdPClientAuth, "as": s.ASClientAuth} {
		switch m {
		case oauth.AuthMethodClientSecretBasic:
			on = append(on, party+"-client-auth-basic-only")
		case oauth.AuthMethodClientSecretPost:
			on = append(on, party+"-client-auth-post-only")
		}
	}
	for _, b := range []struct {
		on   bool
		name string
	}{{s.AudArray, "aud-array"}, {s.TrailingSlash, "trailing-slash"}, {s.IgnoreScope, "ignore-scope"}, {s.IgnoreResource, "ignore-resource"},
		{s.IDJAGReuse, "id-jag-reuse"}, {s.ResourceOverridesAudience, "resource-overrides-audience"}, {s.ExtraClaims, "extra-claims"},
		{s.GenericErrors, "generic-errors"}, {s.IdPNoClientAuth, "idp-no-client-auth"}} {
		if b.on {
			on = append(on, b.name)
		}
	}
	if s.MaxIDJAGAge != 0 {
		on = append(on, "max-id-jag-age="+s.MaxIDJAGAge.String())
	}
	if s.ClockSkewSet {
		on = append(on, "clock-skew="+s.ClockSkew.String())
	}
	sort.Strings(on)
	return strings.Join(on, ",")
}

// ---- decision points ----

// AuthMethods is what a token endpoint advertises and accepts given its
// restriction (IdPClientAuth or ASClientAuth): all, or the one method.
func AuthMethods(restriction string, all []string) []string {
	if restriction == "" {
		return all
	}
	return []string{restriction}
}

// CheckAuthMethod refuses a client authentication method the restriction
// (IdPClientAuth or ASClientAuth) rules out.
func CheckAuthMethod(restriction, method string) error {
	if restriction == "" || method == restriction {
		return nil
	}
	return oauth.InvalidClient(method == oauth.AuthMethodClientSecretBasic, "this token endpoint accepts %s only, not %s (a vendor behaviour the sandbox was started with)", restriction, method)
}

// Skew is the Todo0 AS's tolerance for ID-JAG times: the switch's, or def.
func (s Set) Skew(def time.Duration) time.Duration {
	if s.ClockSkewSet {
		return s.ClockSkew
	}
	return def
}

// MaxAge is the Todo0 AS's limit on an ID-JAG's age: the switch's, or def.
func (s Set) MaxAge(def time.Duration) time.Duration {
	if s.MaxIDJAGAge > 0 {
		return s.MaxIDJAGAge
	}
	return def
}

// SameURL compares identifiers exactly, or ignoring one trailing slash when
// TrailingSlash is on.
func (s Set) SameURL(a, b string) bool {
	if a == b {
		return true
	}
	return s.TrailingSlash && strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// AudienceMatches reads aud (a string or a one-element array) and compares
// it with want by SameURL.
func (s Set) AudienceMatches(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return s.SameURL(one, want)
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) != 1 {
		return false
	}
	return s.SameURL(many[0], want)
}

// genericDescriptions are what a terse server says instead of the reason.
var genericDescriptions = map[string]string{
	oauth.ErrInvalidGrant:   "The provided authorization grant is invalid.",
	oauth.ErrInvalidClient:  "Client authentication failed.",
	oauth.ErrInvalidRequest: "The request is invalid.",
	oauth.ErrInvalidScope:   "The requested scope is invalid.",
	oauth.ErrInvalidTarget:  "The requested resource is invalid.",
	oauth.ErrAccessDenied:   "Access denied.",
}

// Describe replaces the error's description with a generic sentence when
// GenericErrors is on; the code, status and rule stay.
func (s Set) Describe(err error) error {
	if !s.GenericErrors || err == nil {
		return err
	}
	oe := *oauth.AsError(err)
	if d, ok := genericDescriptions[oe.Code]; ok {
		oe.Description = d
	} else {
		oe.Description = "The request failed."
	}
	return &oe
}
