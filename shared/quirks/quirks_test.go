package quirks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xaa-sandbox/xaa-sandbox/shared/oauth"
	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want quirks.Set
	}{
		{"", quirks.Set{}},
		{"aud-array, id-jag-reuse", quirks.Set{AudArray: true, IDJAGReuse: true}},
		{"max-id-jag-age=30s,clock-skew=0s", quirks.Set{MaxIDJAGAge: 30 * time.Second, ClockSkewSet: true}},
		{"as-client-auth-basic-only,idp-client-auth-post-only", quirks.Set{ASClientAuth: oauth.AuthMethodClientSecretBasic, IdPClientAuth: oauth.AuthMethodClientSecretPost}},
		{"conformance-mock", quirks.Set{IdPNoClientAuth: true, ASClientAuth: oauth.AuthMethodClientSecretBasic, TrailingSlash: true, IDJAGReuse: true}},
		{"keycloak-as,clock-skew=5s", quirks.Set{MaxIDJAGAge: 5 * time.Minute, ClockSkew: 5 * time.Second, ClockSkewSet: true, IgnoreScope: true, IgnoreResource: true}},
	} {
		got, err := quirks.Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		// String lists the switches so that Parse reads the same set back.
		back, err := quirks.Parse(got.String())
		if err != nil || back != got {
			t.Errorf("Parse(%q.String() = %q) = %+v, %v", tc.in, got.String(), back, err)
		}
	}
	for _, bad := range []string{"no-such-quirk", "max-id-jag-age", "max-id-jag-age=0s", "clock-skew=-1s", "aud-array=1", "max-id-jag-age=soon"} {
		if _, err := quirks.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// Every preset parses, names only known switches and cites a source for them.
func TestPresets(t *testing.T) {
	for _, p := range quirks.Presets {
		if _, err := quirks.Parse(p.Name); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if len(p.Sources) == 0 {
			t.Errorf("%s: no public source", p.Name)
		}
		for _, sw := range p.Switches {
			name, _, _ := strings.Cut(sw, "=")
			cited := false
			for _, src := range p.Sources {
				cited = cited || strings.Contains(src, name) || strings.HasPrefix(src, "all ")
			}
			if !cited {
				t.Errorf("%s: switch %s has no source", p.Name, sw)
			}
		}
	}
}

func TestDescribe(t *testing.T) {
	err := oauth.InvalidGrant("aud %q is not ours", "https://x")
	if got := (quirks.Set{}).Describe(err); got != error(err) {
		t.Errorf("strict Describe changed the error: %v", got)
	}
	g := oauth.AsError((quirks.Set{GenericErrors: true}).Describe(err))
	if g.Code != oauth.ErrInvalidGrant || strings.Contains(g.Description, "https://x") {
		t.Errorf("generic: %+v", g)
	}
}

func ExampleParse() {
	q, err := quirks.Parse("conformance-mock")
	if err != nil {
		panic(err)
	}
	fmt.Println(q)
	// Output: as-client-auth-basic-only,id-jag-reuse,idp-no-client-auth,trailing-slash
}
