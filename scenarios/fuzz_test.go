package scenarios

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// FuzzParse feeds the scenario parser every catalogue file and random edits
// of them. Properties: no panic; a refusal is a *LoadError naming the file,
// a line (0 only when yaml gives none) and a message; an accepted scenario
// has the title, teaches and at least one step that validation promises,
// and parsing it again gives the same result (the parser is deterministic).
func FuzzParse(f *testing.F) {
	names, _ := fs.Glob(Catalogue, "*.yaml")
	for _, n := range names {
		b, err := fs.ReadFile(Catalogue, n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("title: x\nteaches: y\nsteps: []\n"))
	f.Add([]byte("title: x\nteaches: y\nsteps:\n  - sign_in: alice\n    expect: {status: 200}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("title: [\n"))
	f.Add([]byte("\t- :\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return // scenario files are small; the runner does not read huge ones either
		}
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			if le.File != "fuzz.yaml" || le.Line < 0 || le.Msg == "" {
				t.Fatalf("LoadError without file, line or message: %+v", le)
			}
			return
		}
		if strings.TrimSpace(sc.Title) == "" || strings.TrimSpace(sc.Teaches) == "" || len(sc.Steps) == 0 {
			t.Fatalf("accepted a scenario without title, teaches or steps: %+v", sc)
		}
		for i, s := range sc.Steps {
			if s == nil {
				t.Fatalf("step %d is nil", i)
			}
		}
		again, err := Parse("fuzz.yaml", data)
		if err != nil || again.Title != sc.Title || len(again.Steps) != len(sc.Steps) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
