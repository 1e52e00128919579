package generate

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// write puts one patient's rows into every export that would hold them. In a messy
// generation each written copy may be damaged the way real exports are; the damage
// is drawn from its own random stream, so the underlying data are the same as in a
// clean generation with the same seed, and every injected defect is counted in the
// ground truth by the reject reason a correct loader must give it.
func (g *gen) write(i int, pid string, patient []string, name, phone string, eps []*episode) {
	m := rand.New(rand.NewPCG(g.cfg.Seed^0x9e3779b97f4a7c15, uint64(i)))
	g.truth.Core["patients"]++
	inj := g.truth.Injected
	type fate struct {
		loadable bool
		status   string
	}
	sessions := map[string]*fate{}
	obsFate := map[int]bool{} // index into the patient's observations: loaded from some export
	for _, x := range g.exports {
		var mine []*episode
		for _, e := range eps {
			if x.holds(e) {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 {
			continue
		}
		rec := patient
		if g.cfg.Messy {
			rec = append(append([]string(nil), patient...), name, phone)
		}
		x.write("patients", rec)
		for _, e := range mine {
			discharge, reason := "", ""
			if e.discharge >= 0 && e.discharge <= x.asOf {
				discharge, reason = g.date(e.discharge), e.reason
			}
			referred := ""
			if e.referred >= 0 {
				referred = g.date(e.referred)
			}
			x.write("episodes", []string{e.id, pid, e.prog.id, g.date(e.admit), discharge, reason, e.substance,
				strconv.FormatBool(e.cooc), strconv.FormatBool(e.med), e.referral, referred})
			if g.cfg.Messy {
				switch u := m.Float64(); {
				case u < 0.004:
					x.write("episodes", []string{"EPX" + e.id[2:], pid, e.prog.id, g.date(e.admit), g.date(e.admit - 3),
						"completed", e.substance, "false", "false", e.referral, ""})
					inj["discharge_before_admission"]++
				case u < 0.006:
					x.write("episodes", []string{"EPU" + e.id[2:], fmt.Sprintf("MRX%07d", i), e.prog.id, g.date(e.admit), "",
						"", e.substance, "false", "false", e.referral, ""})
					inj["unknown_patient"]++
				}
			}
		}
	}
	// Sessions and observations are written after every patient and episode row of the
	// patient, file by file, so the order of the rows inside each file is by patient.
	for _, x := range g.exports {
		for _, e := range eps {
			if !x.holds(e) {
				continue
			}
			for _, s := range e.sessions {
				if s.day > x.asOf || s.day <= x.from {
					continue
				}
				f := sessions[s.id]
				if f == nil {
					f = &fate{}
					sessions[s.id] = f
				}
				status := s.status
				if g.cfg.Messy && x.asOf < g.cutoff && s.day > g.exports[1].from && status == "attended" && m.Float64() < 0.15 {
					// The note was not signed yet when the first export was made.
					status = "no_show"
					g.truth.Corrected++
				}
				rec := []string{s.id, e.id, pid, g.date(s.day), s.start, s.typ, status, strconv.Itoa(s.minutes), s.clinician}
				loadable := true
				if g.cfg.Messy {
					loadable = g.messSession(m, x, rec, e)
				} else {
					x.write("sessions", rec)
				}
				if loadable {
					f.loadable, f.status = true, status
				}
			}
			for j, o := range e.obs {
				if o.day > x.asOf || o.day <= x.from {
					continue
				}
				rec := []string{pid, e.id, g.date(o.day), o.measure, o.value, o.unit}
				loadable := true
				if g.cfg.Messy && !o.extra {
					switch u := m.Float64(); {
					case u < 0.003 && (o.measure == "phq9" || o.measure == "gad7"):
						rec[4] = strconv.Itoa(map[string]int{"phq9": 28, "gad7": 22}[o.measure] + m.IntN(10))
						inj["out_of_range"]++
						loadable = false
					case u < 0.004:
						t := epoch.AddDate(0, 0, o.day)
						rec[2] = t.Format("01/02/2006")
						if t.Day() <= 12 {
							// Month and day both fit 1-12: refused as ambiguous.
							inj["ambiguous_date"]++
						} else {
							inj["bad_date"]++
						}
						loadable = false
					}
				}
				x.write("observations", rec)
				if loadable {
					obsFate[obsKey(eps, e, j)] = true
				}
			}
		}
	}
	g.truth.Core["episodes"] += int64(len(eps))
	for _, f := range sessions {
		if f.loadable {
			g.truth.Core["sessions"]++
			if f.status == "attended" {
				g.truth.AttendedSessions++
			}
		}
	}
	g.truth.Core["observations"] += int64(len(obsFate))
}

// obsKey numbers a patient's observations across episodes.
func obsKey(eps []*episode, e *episode, j int) int {
	n := 0
	for _, x := range eps {
		if x == e {
			return n + j
		}
		n += len(x.obs)
	}
	return -1
}

// messSession writes one copy of a session into a messy export, maybe damaged, maybe
// with a stray row beside it, and reports whether the copy can load.
func (g *gen) messSession(m *rand.Rand, x *export, rec []string, e *episode) bool {
	inj := g.truth.Injected
	loadable := true
	switch u := m.Float64(); {
	case u < 0.001:
		rec[3] = rec[3][:4] + "-02-30"
		inj["bad_date"]++
		loadable = false
	case u < 0.002:
		rec[6] = []string{"Show", "NoShow", "Late Cancel"}[m.IntN(3)]
		inj["unknown_code"]++
		loadable = false
	case u < 0.0025:
		rec[7] = "sixty"
		inj["bad_type"]++
		loadable = false
	case u < 0.003:
		rec[5] = ""
		inj["missing_value"]++
		loadable = false
	case u < 0.005:
		x.write("sessions", rec)
		g.truth.Repeats++
	case u < 0.0055:
		other := append([]string(nil), rec...)
		other[6] = map[bool]string{true: "no_show", false: "attended"}[rec[6] == "attended"]
		x.write("sessions", other)
		inj["duplicate_key"] += 2
		loadable = false
	}
	x.write("sessions", rec)
	switch u := m.Float64(); {
	case u < 0.0005:
		x.write("sessions", []string{"SX" + rec[0][1:], "EPZ" + rec[1][2:], rec[2], rec[3], rec[4], rec[5], "attended", rec[7], rec[8]})
		inj["unknown_episode"]++
	case u < 0.001:
		x.write("sessions", []string{"SY" + rec[0][1:], e.id, rec[2], g.date(e.admit - 5), rec[4], "group", "attended", "180", rec[8]})
		inj["session_outside_episode"]++
	}
	return loadable
}

// holds says whether an export carries an episode (with its patient): one admitted by
// the export's date and active after its window opens, or, in an export that carries
// follow-up contacts, one with an observation inside the window.
func (x *export) holds(e *episode) bool {
	if e.admit > x.asOf {
		return false
	}
	if e.discharge < 0 || e.discharge > x.from {
		return true
	}
	if x.followUps {
		for _, o := range e.obs {
			if o.day > x.from && o.day <= x.asOf {
				return true
			}
		}
	}
	return false
}
