// Package scenarios loads the narrated scenario catalogue (one YAML file per
// scenario, readable and writable without Go) and plays it against the four
// parties: an in-process sandbox, or parties already running elsewhere.
//
// A scenario file has a title, what it teaches, a setup (token lifetimes,
// faults) and steps. Each step does one thing (sign in, token exchange,
// jwt-bearer redemption, forge a token, call an MCP tool, wait, ...) and
// states the outcome it expects: who refuses, the HTTP status, the error
// code. docs/scenarios.md is the reference for the format.
package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Catalogue is the scenario files shipped with the sandbox.
//
//go:embed *.yaml
var Catalogue embed.FS

// Scenario is one scenario file.
type Scenario struct {
	Name string `yaml:"-"` // file name without .yaml
	File string `yaml:"-"`

	Title     string   `yaml:"title"`
	Teaches   string   `yaml:"teaches"`
	Checklist []string `yaml:"checklist"` // rule ids of docs/spec-checklist.md this scenario covers
	Setup     Setup    `yaml:"setup"`
	Steps     []*Step  `yaml:"steps"`
	// Cleanup steps run after the steps whatever happened (they matter with
	// --target, where the parties outlive the scenario).
	Cleanup []*Step `yaml:"cleanup"`
}

// Setup prepares the world before the first step.
type Setup struct {
	IDJAGTTL       Duration `yaml:"id_jag_ttl"`
	AccessTokenTTL Duration `yaml:"access_token_ttl"`
	IDTokenTTL     Duration `yaml:"id_token_ttl"`
	ClockSkew      Duration `yaml:"clock_skew"`
	// JWKSMinRefresh: how often Todo0 may refetch Acme's JWKS for an unknown kid (10s).
	JWKSMinRefresh Duration `yaml:"jwks_min_refresh"`
	// IdPSigningAlg is RS256 (default) or ES256 (its keys are made in an instant).
	IdPSigningAlg string `yaml:"idp_signing_alg"`
	// SharedSignals starts the sandbox with Shared Signals on: Acme pushes
	// CAEP/RISC events to Todo0, and Todo0 MCP checks each token with Todo0.
	SharedSignals bool `yaml:"shared_signals"`
	// Faults to switch on, by party (idp, todo0, mcp).
	Faults map[string][]string `yaml:"faults"`
}

// needsInProcess reports whether the setup can only be honoured by a sandbox
// the runner starts itself (lifetimes are start-up configuration).
func (s Setup) needsInProcess() bool {
	return s.IDJAGTTL != 0 || s.AccessTokenTTL != 0 || s.IDTokenTTL != 0 || s.ClockSkew != 0 || s.JWKSMinRefresh != 0 || s.IdPSigningAlg != "" || s.SharedSignals
}

// Step is one action and its expected outcome. Exactly one action field is set.
type Step struct {
	Line    int    `yaml:"-"`
	Kind    string `yaml:"-"`
	Explain string `yaml:"explain"`
	Save    string `yaml:"save"` // variable name for the step's product (default per kind)

	SignIn     *SignIn     `yaml:"sign_in"`
	Exchange   *Exchange   `yaml:"exchange"`
	Redeem     *Redeem     `yaml:"redeem"`
	Forge      *Forge      `yaml:"forge"`
	Discover   *Discover   `yaml:"discover"`
	CallTool   *CallTool   `yaml:"call_tool"`
	Wait       *Wait       `yaml:"wait"`
	Faults     *FaultsStep `yaml:"faults"`
	Admin      *Admin      `yaml:"admin"`
	IdPLogout  *IdPLogout  `yaml:"idp_logout"`
	Agent0     *Agent0     `yaml:"agent0"`
	Refresh    *Refresh    `yaml:"refresh"`
	RotateKeys *RotateKeys `yaml:"rotate_keys"`

	Expect Expect `yaml:"expect"`
}

// Client overrides the credentials a step authenticates with.
type Client struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
	// Auth is basic (default), post or none.
	Auth string `yaml:"auth"`
}

// SignIn signs a user in at Acme as Agent0 would (authorization code + PKCE)
// and keeps the ID token and refresh token: saved as id_token, refresh_token.
type SignIn struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"` // default: the demo password
	// Client is the Acme client signing the user in: agent0 (default),
	// todo0 (Todo0's own SSO), for an ID token issued to another client, or
	// wiki0 (SAML Web SSO in the user's browser, signing in at Acme if
	// there is no session yet; saves the assertion as saml_assertion).
	Client string `yaml:"client"`
	// Prompt is sent as prompt: login asks for the password again even with
	// an Acme session (a fresh sign-in, for step-up).
	Prompt string `yaml:"prompt"`
}

// Exchange is a token exchange at the IdP (RFC 8693 -> ID-JAG). Unset fields
// take the happy-path values; Omit drops parameters entirely.
type Exchange struct {
	Audience           *string           `yaml:"audience"`
	Resource           *string           `yaml:"resource"`
	Scope              *string           `yaml:"scope"`
	SubjectToken       *string           `yaml:"subject_token"`
	SubjectTokenType   *string           `yaml:"subject_token_type"`
	RequestedTokenType *string           `yaml:"requested_token_type"`
	Client             *Client           `yaml:"client"`
	Omit               []string          `yaml:"omit"`
	Extra              map[string]string `yaml:"extra"`
	// DPoP sends a DPoP proof with the exchange (the ID-JAG gets cnf.jkt).
	DPoP *DPoP `yaml:"dpop"`
}

// DPoP is a DPoP proof (RFC 9449) the runner makes for a step, with one of
// its keys; the other fields spoil the proof on purpose.
type DPoP struct {
	// Key names the runner's key (made on first use): the same name, the
	// same key across steps.
	Key string `yaml:"key"`
	// HTM and HTU replace the request's method and URL in the proof.
	HTM string `yaml:"htm"`
	HTU string `yaml:"htu"`
	// ATH: "none" leaves the access token hash out of an MCP proof.
	ATH string `yaml:"ath"`
	// Omit sends no proof at all, but still the DPoP scheme (call_tool).
	Omit bool `yaml:"omit"`
}

// Redeem is the jwt-bearer grant at the Todo0 AS with an ID-JAG.
type Redeem struct {
	Assertion *string           `yaml:"assertion"`
	Scope     *string           `yaml:"scope"`
	GrantType *string           `yaml:"grant_type"`
	Client    *Client           `yaml:"client"`
	Omit      []string          `yaml:"omit"`
	Extra     map[string]string `yaml:"extra"`
	// Timeout bounds the request (default 10s); a strict client gives up.
	Timeout Duration `yaml:"timeout"`
	// DPoP sends a DPoP proof (a bound ID-JAG needs one; the access token
	// is then DPoP-bound).
	DPoP *DPoP `yaml:"dpop"`
}

// Forge crafts a token in the runner (the attacker): it starts from From
// (a saved token, decoded) or from nothing, changes header and claims, and
// signs it as Sign says.
type Forge struct {
	From   string         `yaml:"from"`
	Header map[string]any `yaml:"header"`
	Claims map[string]any `yaml:"claims"`
	Remove []string       `yaml:"remove"`
	// Sign: attacker (a key the runner made up; default), idp (the IdP's real
	// key, read from its database: in-process only), todo0 (the Todo0 AS's
	// real key, likewise), agent0 (Agent0's own key, the one it registered at
	// the IdP: an actor token), none (alg none, no signature), hs256-idp-public
	// (HMAC keyed with the IdP's public key).
	Sign string `yaml:"sign"`
}

// Discover plays the strict client's discovery: call MCP without a token,
// follow resource_metadata to the PRM, check it, fetch the AS metadata and
// check the id-jag grant profile.
type Discover struct{}

// CallTool initializes an MCP session with a bearer token and calls a tool.
type CallTool struct {
	Tool      string         `yaml:"tool"`
	Arguments map[string]any `yaml:"arguments"`
	Token     *string        `yaml:"token"` // default ${access_token}; "" sends none
	// DPoP sends the token with the DPoP scheme and a proof per request.
	DPoP *DPoP `yaml:"dpop"`
}

// Wait sleeps for a duration, or until a saved token has expired.
type Wait struct {
	For          Duration `yaml:"for"`
	UntilExpired string   `yaml:"until_expired"`
}

// FaultsStep switches a party's faults (replacing its active set).
type FaultsStep struct {
	Party  string   `yaml:"party"`
	Active []string `yaml:"active"`
}

// Admin is an IdP administrator action through the IdP admin API.
type Admin struct {
	Action string `yaml:"action"` // see adminActions
	User   string `yaml:"user"`
	// Connection id for connection actions (default: the Agent0 -> Todo0 one).
	Connection string `yaml:"connection"`
	// Scopes for set_connection_scopes, space separated.
	Scopes string `yaml:"scopes"`
	// MaxAuthAge for set_connection_max_auth_age: seconds (0: any sign-in).
	MaxAuthAge int64 `yaml:"max_auth_age"`
}

// IdPLogout signs the user out of Acme in their browser, which revokes the
// Acme session their tokens belong to.
type IdPLogout struct {
	User string `yaml:"user"`
}

// Agent0 drives Agent0's web page in the user's browser.
type Agent0 struct {
	User   string `yaml:"user"`
	Action string `yaml:"action"` // sign_in, add_todo, reload, reconnect
	Title  string `yaml:"title"`  // for add_todo
}

// Refresh uses the IdP refresh token (grant_type=refresh_token) for a new ID token.
type Refresh struct {
	RefreshToken *string `yaml:"refresh_token"`
}

// RotateKeys rotates a party's signing key through its admin API.
type RotateKeys struct {
	Party string `yaml:"party"`
}

// Expect is a step's expected outcome. Empty means: the step succeeds.
type Expect struct {
	// RefusedBy names who refuses: idp, todo0, mcp, agent0, or client (the
	// runner playing a strict client). Empty with no error/status: success.
	RefusedBy string `yaml:"refused_by"`
	Status    int    `yaml:"status"`
	Error     string `yaml:"error"`
	// Contains checks: the error description, WWW-Authenticate, tool text, page text.
	DescriptionContains     string   `yaml:"description_contains"`
	WWWAuthenticateContains []string `yaml:"www_authenticate_contains"`
	ResultContains          string   `yaml:"result_contains"`
	PageContains            []string `yaml:"page_contains"`
	// ReplyContains checks Agent0's answer to this step's chat message only
	// (an add_todo step): the bubble the step added, not older lines and not
	// the user's own echo.
	ReplyContains []string `yaml:"reply_contains"`
	// Scope in the response (token exchange / redemption).
	Scope *string `yaml:"scope"`
	// Claims the issued or forged token must carry (exact JSON values).
	Claims map[string]any `yaml:"claims"`
	// Response fields of an exchange or redemption (exact JSON values; null:
	// the field must be absent).
	Response map[string]any `yaml:"response"`
	// Audit: this step must have written an IdP audit record of the event,
	// and the newest such record must have these fields.
	Audit map[string]string `yaml:"audit"`
}

// Duration is a time.Duration written as "2s", "500ms".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: want a duration like 2s or 500ms, got %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// LoadError names the file, line and field of a problem in a scenario file.
type LoadError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *LoadError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// LoadCatalogue loads every scenario shipped in the binary.
func LoadCatalogue() ([]*Scenario, error) { return LoadFS(Catalogue, ".") }

// LoadDir loads every *.yaml file of a directory on disk.
func LoadDir(dir string) ([]*Scenario, error) { return LoadFS(os.DirFS(dir), ".") }

// LoadFS loads every *.yaml file in dir of fsys, sorted by name.
func LoadFS(fsys fs.FS, dir string) ([]*Scenario, error) {
	names, err := fs.Glob(fsys, filepath.ToSlash(filepath.Join(dir, "*.yaml")))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Scenario
	var errs []string
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		sc, err := Parse(filepath.Base(n), b)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

// Parse reads one scenario file and validates it. Errors are *LoadError.
func Parse(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &LoadError{File: file, Line: 1, Msg: "the file is empty"}
	}
	doc := root.Content[0]
	if err := checkFields(file, doc, scenarioFields, ""); err != nil {
		return nil, err
	}
	sc := &Scenario{Name: strings.TrimSuffix(file, ".yaml"), File: file}
	if err := doc.Decode(sc); err != nil {
		return nil, yamlError(file, err)
	}
	if err := validate(file, doc, sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 7: ...") into a LoadError.
func yamlError(file string, err error) error {
	msg := err.Error()
	line := 0
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		if i := strings.Index(msg, ":"); i >= 0 {
			msg = strings.TrimSpace(msg[i+1:])
		}
	}
	return &LoadError{File: file, Line: line, Msg: msg}
}
