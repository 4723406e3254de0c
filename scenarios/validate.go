package scenarios

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var scenarioFields = reflect.TypeOf(Scenario{})

// Parties a step or fault can name.
var (
	faultParties   = []string{"idp", "todo0", "mcp"}
	refusers       = []string{"idp", "todo0", "mcp", "agent0", "client"}
	signModes      = []string{"attacker", "idp", "todo0", "agent0", "none", "hs256-idp-public"}
	agent0Actions  = []string{"sign_in", "add_todo", "reload", "reconnect"}
	clientAuths    = []string{"basic", "post", "none"}
	rotatableParty = []string{"idp"}
)

// Short forms: "sign_in: alice", "wait: 3s", "rotate_keys: idp", "idp_logout: alice".

// UnmarshalYAML accepts a user name or a mapping.
func (s *SignIn) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.User = n.Value
		return nil
	}
	type plain SignIn
	return n.Decode((*plain)(s))
}

// UnmarshalYAML accepts a duration or a mapping.
func (w *Wait) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return w.For.UnmarshalYAML(n)
	}
	type plain Wait
	return n.Decode((*plain)(w))
}

// UnmarshalYAML accepts a party name or a mapping.
func (r *RotateKeys) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.Party = n.Value
		return nil
	}
	type plain RotateKeys
	return n.Decode((*plain)(r))
}

// UnmarshalYAML accepts a user name or a mapping.
func (l *IdPLogout) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.User = n.Value
		return nil
	}
	type plain IdPLogout
	return n.Decode((*plain)(l))
}

// checkFields refuses unknown keys in every mapping that decodes into a
// struct, so a typo ("audiance") is reported at its line instead of being
// silently ignored.
func checkFields(file string, n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.MappingNode {
				return &LoadError{File: file, Line: n.Line, Field: path, Msg: "want a list (items start with \"- \")"}
			}
			return nil
		}
		for i, c := range n.Content {
			if err := checkFields(file, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i+1)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // scalars: short forms, or a type error yaml reports
		}
		known := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				known[tag] = t.Field(i).Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := known[k.Value]
			field := join(path, k.Value)
			if !ok {
				names := make([]string, 0, len(known))
				for name := range known {
					names = append(names, name)
				}
				sort.Strings(names)
				return &LoadError{File: file, Line: k.Line, Field: field, Msg: "unknown field; known fields here: " + strings.Join(names, ", ")}
			}
			if ft == reflect.TypeOf(Duration(0)) {
				if d, err := time.ParseDuration(v.Value); err != nil || d < 0 {
					return &LoadError{File: file, Line: v.Line, Field: field, Msg: fmt.Sprintf("want a duration like 2s or 500ms, got %q", v.Value)}
				}
				continue
			}
			if err := checkFields(file, v, ft, field); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// nodeOf finds the value node of key in a mapping node (nil if absent).
func nodeOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func lineOf(n *yaml.Node, fallback int) int {
	if n != nil {
		return n.Line
	}
	return fallback
}

// validate checks what the YAML types cannot: required fields, exactly one
// action per step, known party names and values.
func validate(file string, doc *yaml.Node, sc *Scenario) error {
	bad := func(n *yaml.Node, field, format string, args ...any) error {
		return &LoadError{File: file, Line: lineOf(n, 1), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(sc.Title) == "" {
		return bad(doc, "title", "is required: one line saying what happens")
	}
	if strings.TrimSpace(sc.Teaches) == "" {
		return bad(doc, "teaches", "is required: what a learner should take away")
	}
	if len(sc.Steps) == 0 {
		return bad(nodeOf(doc, "steps"), "steps", "at least one step is required")
	}
	setup := nodeOf(doc, "setup")
	if a := sc.Setup.IdPSigningAlg; a != "" && a != "RS256" && a != "ES256" {
		return bad(nodeOf(setup, "idp_signing_alg"), "setup.idp_signing_alg", "%q is not one of RS256, ES256", a)
	}
	for party, names := range sc.Setup.Faults {
		if !slices.Contains(faultParties, party) {
			return bad(nodeOf(nodeOf(setup, "faults"), party), "setup.faults."+party, "unknown party; want one of %s", strings.Join(faultParties, ", "))
		}
		if len(names) == 0 {
			return bad(nodeOf(nodeOf(setup, "faults"), party), "setup.faults."+party, "list at least one fault name")
		}
	}
	for _, list := range []struct {
		name  string
		steps []*Step
	}{{"steps", sc.Steps}, {"cleanup", sc.Cleanup}} {
		seq := nodeOf(doc, list.name)
		for i, st := range list.steps {
			var sn *yaml.Node
			if seq != nil && i < len(seq.Content) {
				sn = seq.Content[i]
			}
			if err := validateStep(file, sn, fmt.Sprintf("%s[%d]", list.name, i+1), st); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateStep(file string, sn *yaml.Node, path string, st *Step) error {
	bad := func(n *yaml.Node, field, format string, args ...any) error {
		return &LoadError{File: file, Line: lineOf(n, lineOf(sn, 1)), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if st == nil {
		return bad(sn, path, "empty step")
	}
	st.Line = lineOf(sn, 0)
	var kinds []string
	v := reflect.ValueOf(st).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Type.Kind() == reflect.Pointer && !v.Field(i).IsNil() {
			kinds = append(kinds, strings.Split(f.Tag.Get("yaml"), ",")[0])
		}
	}
	if len(kinds) != 1 {
		all := []string{}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.Type.Kind() == reflect.Pointer {
				all = append(all, strings.Split(f.Tag.Get("yaml"), ",")[0])
			}
		}
		if len(kinds) == 0 {
			return bad(sn, path, "a step needs one action: %s", strings.Join(all, ", "))
		}
		return bad(sn, path, "a step does one thing, this one has %s", strings.Join(kinds, " and "))
	}
	st.Kind = kinds[0]
	an := nodeOf(sn, st.Kind)
	af := path + "." + st.Kind
	need := func(val, field string) error {
		if strings.TrimSpace(val) == "" {
			return bad(an, af+"."+field, "is required")
		}
		return nil
	}
	oneOf := func(val, field string, allowed []string) error {
		if !slices.Contains(allowed, val) {
			return bad(nodeOf(an, field), af+"."+field, "%q is not one of %s", val, strings.Join(allowed, ", "))
		}
		return nil
	}
	checkClient := func(c *Client) error {
		if c != nil && c.Auth != "" {
			return oneOf(c.Auth, "auth", clientAuths)
		}
		return nil
	}
	switch st.Kind {
	case "sign_in":
		if err := need(st.SignIn.User, "user"); err != nil {
			return err
		}
		if st.SignIn.Client != "" {
			if err := oneOf(st.SignIn.Client, "client", []string{"agent0", "todo0", "wiki0"}); err != nil {
				return err
			}
		}
	case "exchange":
		if err := checkClient(st.Exchange.Client); err != nil {
			return err
		}
	case "redeem":
		if err := checkClient(st.Redeem.Client); err != nil {
			return err
		}
	case "forge":
		if st.Forge.Sign == "" {
			st.Forge.Sign = "attacker"
		}
		if err := oneOf(st.Forge.Sign, "sign", signModes); err != nil {
			return err
		}
	case "call_tool":
		if err := need(st.CallTool.Tool, "tool"); err != nil {
			return err
		}
	case "wait":
		if st.Wait.For == 0 && st.Wait.UntilExpired == "" {
			return bad(an, af, "give a duration (wait: 3s) or until_expired: <saved token>")
		}
		if st.Wait.For > Duration(20*time.Second) {
			return bad(an, af, "waits longer than 20s make the catalogue slow; shorten the token lifetime in setup instead")
		}
	case "faults":
		if err := oneOf(st.Faults.Party, "party", faultParties); err != nil {
			return err
		}
	case "admin":
		if err := oneOf(st.Admin.Action, "action", adminActionNames()); err != nil {
			return err
		}
		if strings.HasSuffix(st.Admin.Action, "_user") || st.Admin.Action == "revoke_sessions" {
			if err := need(st.Admin.User, "user"); err != nil {
				return err
			}
		}
	case "idp_logout":
		if err := need(st.IdPLogout.User, "user"); err != nil {
			return err
		}
	case "agent0":
		if err := need(st.Agent0.User, "user"); err != nil {
			return err
		}
		if err := oneOf(st.Agent0.Action, "action", agent0Actions); err != nil {
			return err
		}
		if st.Agent0.Action == "add_todo" {
			if err := need(st.Agent0.Title, "title"); err != nil {
				return err
			}
		}
	case "rotate_keys":
		if err := oneOf(st.RotateKeys.Party, "party", rotatableParty); err != nil {
			return err
		}
	}
	en := nodeOf(sn, "expect")
	if e := st.Expect; e.RefusedBy != "" && !slices.Contains(refusers, e.RefusedBy) {
		return bad(nodeOf(en, "refused_by"), path+".expect.refused_by", "%q is not one of %s", e.RefusedBy, strings.Join(refusers, ", "))
	}
	if e := st.Expect; e.Status != 0 && (e.Status < 100 || e.Status > 599) {
		return bad(nodeOf(en, "status"), path+".expect.status", "%d is not an HTTP status", e.Status)
	}
	if e := st.Expect; len(e.ReplyContains) > 0 && (st.Agent0 == nil || st.Agent0.Action != "add_todo") {
		return bad(nodeOf(en, "reply_contains"), path+".expect.reply_contains", "only an agent0 add_todo step gets a chat answer to check")
	}
	return nil
}
