package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/xaa-sandbox/xaa-sandbox/shared/quirks"
)

// quirkFlag adds --quirk to a command: vendor behaviours for the IdP and
// the Todo0 AS, by switch or preset name (docs/quirks.md).
func quirkFlag(fs *flag.FlagSet, dst *quirks.Set) {
	fs.Func("quirk", "comma-separated vendor behaviours or presets, e.g. id-jag-reuse,max-id-jag-age=30s or conformance-mock (go run . quirks lists them)", func(v string) error {
		q, err := quirks.Parse(v)
		if err != nil {
			return err
		}
		*dst = q
		return nil
	})
}

// quirksCmd lists the switches and presets.
func quirksCmd(out io.Writer) error {
	fmt.Fprintln(out, "Vendor behaviours (--quirk NAME[,NAME...]); off by default, see docs/quirks.md:")
	for _, sw := range quirks.Switches {
		name := sw.Name
		if sw.Value != "" {
			name += "=" + strings.ToUpper(sw.Value)
		}
		fmt.Fprintf(out, "  %-30s %-14s %s\n", name, sw.Party, sw.Description)
	}
	fmt.Fprintln(out, "\nPresets:")
	for _, p := range quirks.Presets {
		fmt.Fprintf(out, "  %-18s %s\n  %-18s = %s\n", p.Name, p.Description, "", strings.Join(p.Switches, ","))
		for _, src := range p.Sources {
			fmt.Fprintf(out, "  %-18s   source: %s\n", "", src)
		}
	}
	return nil
}
