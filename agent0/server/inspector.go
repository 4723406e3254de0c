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
	Class          string // ok | err | silent | pending
}

type diagram struct {
	Width, Height int
	Lanes         []lane
	Arrows        []arrow
}

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
		a := arrow{Seq: st.Seq, Y: y, RY: y + 18, X1: from, X2: to, LabelX: (from + to) / 2, Label: fmt.Sprintf("%d. %s", st.Seq, short(st.Title, 34))}
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
	var steps []StepView
	for _, e := range c.rec.Exchanges() {
		steps = append(steps, e.View(reveal))
	}
	s.render(w, http.StatusOK, "inspector.html", map[string]any{
		"User": ss, "Page": "inspector", "Steps": steps, "Diagram": buildDiagram(steps), "Reveal": reveal,
		"Silent": countSilent(steps), "Max": maxExchanges,
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
