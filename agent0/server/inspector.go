package server

import (
	"fmt"
	"net/http"
	"strconv"
)

// The flow inspector page: the session's recorded exchanges as a four-lane
// sequence diagram (server-rendered SVG) and a timeline whose steps expand
// to request, response and decoded JWTs.

// diagram geometry
const (
	laneGap   = 230
	laneLeft  = 110
	rowHeight = 46
	diagTop   = 56
)

type lane struct {
	Name string
	X    int
}

type arrow struct {
	Seq            int
	Y, RY          int // request and response rows
	X1, X2, LabelX int
	Label, Status  string
	Title          string // the step's full name, shown on hover
	Phase          string // set on the first arrow of a phase: its short name
	Class          string // ok | err | silent | pending
}

type diagram struct {
	Width, Height int
	Lanes         []lane
	Arrows        []arrow
}

// phaseTags are the phases' names in the diagram's left margin.
var phaseTags = map[string]string{"signin": "sign-in", "discovery": "discovery", "exchange": "exchange", "redemption": "redemption", "mcp": "MCP calls", "renewal": "renewal", "refusal": "refusal"}

func buildDiagram(steps []StepView) diagram {
	d := diagram{Width: laneLeft*2 + laneGap*(len(Lanes)-1), Height: diagTop + rowHeight*len(steps) + 30}
	for i, n := range Lanes {
		d.Lanes = append(d.Lanes, lane{Name: n, X: laneLeft + i*laneGap})
	}
	from := laneLeft + laneIndex(LaneAgent0)*laneGap
	for i, st := range steps {
		y := diagTop + 14 + i*rowHeight
		to := laneLeft + st.LaneIndex*laneGap
		if to == from {
			to = from + 40
		}
		// The label must fit between the two lanes (about 7 px a character).
		span := to - from
		if span < 0 {
			span = -span
		}
		fit := max(span/7, 12)
		a := arrow{Seq: st.Seq, Y: y, RY: y + 18, X1: from, X2: to, LabelX: (from + to) / 2, Label: short(fmt.Sprintf("%d. %s", st.Seq, st.Short), fit), Title: st.Title}
		if to == from+40 {
			a.LabelX = to + 8 // a step Agent0 did on its own: label to the right
		}
		switch {
		case st.InFlight:
			a.Class, a.Status = "pending", "…"
		case st.Err != "":
			a.Class, a.Status = "err", "error"
		case st.Status >= 400:
			a.Class, a.Status = "err", strconv.Itoa(st.Status)
		case st.Silent:
			a.Class, a.Status = "silent", strconv.Itoa(st.Status)
		default:
			a.Class, a.Status = "ok", strconv.Itoa(st.Status)
		}
		if p := phaseOf(st); i == 0 || phaseOf(steps[i-1]) != p {
			a.Phase = phaseTags[p]
		}
		d.Arrows = append(d.Arrows, a)
	}
	return d
}

func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (s *Server) inspector(w http.ResponseWriter, r *http.Request) {
	ss := s.currentSession(r)
	if ss == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	reveal := r.URL.Query().Get("reveal") == "1"
	c := s.connectionFor(ss.ID)
	exs := c.rec.Exchanges()
	var steps []StepView
	for _, e := range exs {
		steps = append(steps, e.View(reveal))
	}
	groups := groupPhases(steps)
	steps = steps[:0]
	for gi := range groups {
		for si := range groups[gi].Steps {
			st := &groups[gi].Steps[si]
			st.Short = shortLabel(*st)
			steps = append(steps, *st)
		}
	}
	s.render(w, http.StatusOK, "inspector.html", map[string]any{
		"User": ss, "Page": "inspector", "Steps": steps, "Phases": groups, "Diagram": buildDiagram(steps), "Reveal": reveal,
		"Silent": countSilent(steps), "Max": maxExchanges, "Lineage": buildLineage(exs, s.now()),
	})
}

func countSilent(steps []StepView) int {
	n := 0
	for _, s := range steps {
		if s.Silent {
			n++
		}
	}
	return n
}
