package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// slot is one weekly appointment of a program's schedule.
type slot struct {
	weekday  int // Monday = 0
	typ      string
	minutes  int
	start    string
	every    int  // 1 weekly, 2 every other week
	medsOnly bool // only for people on medication
}

type program struct {
	id, name, site, level string
	weeks                 int
	weight                float64
	adolescent            bool
	cooccurring           bool
	slots                 []slot
}

func (p program) hours() float64 {
	m := 0
	for _, s := range p.slots {
		if s.every == 1 && !s.medsOnly {
			m += s.minutes
		}
	}
	return float64(m) / 60
}

// programs are the synthetic provider's programs: three sites, IOPs of 9-13 hours a
// week and one partial hospitalization program.
func programs() []program {
	day := []slot{
		{0, "group", 180, "09:00", 1, false}, {1, "individual", 60, "10:00", 1, false},
		{2, "group", 180, "09:00", 1, false}, {3, "psychoeducation", 90, "13:00", 1, false},
		{4, "group", 180, "09:00", 1, false}, {1, "family", 60, "16:00", 2, false},
		{3, "medication_management", 30, "11:00", 2, true}, {5, "peer_support", 60, "10:00", 1, false},
	}
	evening := []slot{
		{0, "group", 180, "18:00", 1, false}, {1, "group", 180, "18:00", 1, false},
		{2, "individual", 60, "17:00", 1, false}, {3, "group", 180, "18:00", 1, false},
		{2, "medication_management", 30, "16:30", 2, true}, {3, "family", 60, "17:00", 2, false},
	}
	adolescent := []slot{
		{0, "group", 150, "15:30", 1, false}, {1, "individual", 60, "15:30", 1, false},
		{2, "group", 150, "15:30", 1, false}, {3, "family", 90, "17:00", 1, false},
		{4, "group", 150, "15:30", 1, false},
	}
	cooc := []slot{
		{0, "group", 180, "09:00", 1, false}, {1, "individual", 60, "09:00", 1, false},
		{2, "group", 180, "09:00", 1, false}, {3, "group", 180, "09:00", 1, false},
		{3, "medication_management", 30, "13:00", 1, false}, {4, "psychoeducation", 90, "10:00", 1, false},
		{4, "case_management", 45, "13:00", 2, false},
	}
	php := []slot{
		{0, "group", 300, "09:00", 1, false}, {1, "group", 300, "09:00", 1, false},
		{2, "group", 240, "09:00", 1, false}, {2, "individual", 60, "14:00", 1, false},
		{3, "group", 300, "09:00", 1, false}, {4, "group", 240, "09:00", 1, false},
		{4, "medication_management", 30, "14:00", 1, false},
	}
	return []program{
		{"P01", "Riverside Adult IOP", "Riverside", "IOP", 10, 0.24, false, false, day},
		{"P02", "Riverside Evening IOP", "Riverside", "IOP", 8, 0.20, false, false, evening},
		{"P03", "Harbor Co-occurring IOP", "Harbor", "IOP", 12, 0.18, false, true, cooc},
		{"P04", "Harbor Adolescent IOP", "Harbor", "IOP", 8, 0.10, true, false, adolescent},
		{"P05", "Summit IOP", "Summit", "IOP", 10, 0.18, false, false, day},
		{"P06", "Summit PHP", "Summit", "PHP", 6, 0.10, false, false, php},
	}
}

func (g *gen) writePrograms() {
	for _, p := range programs() {
		rec := []string{p.id, p.name, p.site, p.level, strconv.Itoa(p.weeks), strconv.FormatFloat(p.hours(), 'f', 1, 64)}
		for _, x := range g.exports {
			x.write("programs", rec)
		}
	}
	g.truth.Core["programs"] = int64(len(programs()))
}

// session is one simulated appointment.
type session struct {
	id, typ, start, status, clinician string
	day, minutes                      int
}

// obs is one simulated observation.
type obs struct {
	day              int
	measure, value   string
	unit, episodeRef string
	// extra marks the observations drawn from an episode's second random stream
	// (follow-ups at 90 and 180 days, CSQ-8): a messy export writes them undamaged, so
	// that the defects drawn for the other rows stay those of earlier versions.
	extra bool
}

// episode is one simulated admission.
type episode struct {
	id        string
	prog      program
	admit     int
	discharge int // -1 while active at the cutoff
	reason    string
	substance string
	cooc, med bool
	referral  string
	referred  int // day of the referral; -1 when the export has none
	sessions  []session
	obs       []obs
}

var (
	sexes      = []string{"female", "male", "other", "unknown"}
	sexW       = []float64{0.38, 0.60, 0.01, 0.01}
	races      = []string{"white", "black", "asian", "american_indian_alaska_native", "native_hawaiian_pacific_islander", "multiple", "other", "unknown"}
	raceW      = []float64{0.62, 0.18, 0.03, 0.03, 0.01, 0.05, 0.04, 0.04}
	ethW       = []float64{0.17, 0.78, 0.05}
	eths       = []string{"hispanic", "not_hispanic", "unknown"}
	payers     = []string{"medicaid", "commercial", "medicare", "public_other", "military", "self_pay", "unknown"}
	payerW     = []float64{0.48, 0.30, 0.05, 0.09, 0.02, 0.04, 0.02}
	substances = []string{"alcohol", "opioids", "methamphetamine", "cocaine", "cannabis", "benzodiazepines", "other"}
	substW     = []float64{0.35, 0.25, 0.12, 0.10, 0.12, 0.03, 0.03}
	referrals  = []string{"self", "healthcare", "court", "employer", "community", "school", "other"}
	referralW  = []float64{0.34, 0.25, 0.22, 0.04, 0.09, 0.02, 0.04}
	firstNames = []string{"Maria", "James", "Aisha", "Wei", "Carlos", "Emily", "Darnell", "Priya", "John", "Fatima"}
	lastNames  = []string{"Garcia", "Smith", "Johnson", "Nguyen", "Okafor", "Brown", "Patel", "Miller", "Lopez", "Davis"}
)

// payerGapStream seeds the draws of the planted payer gap apart from the rest, and
// payerStream the payer.
const (
	payerGapStream = 0x9e3779b97f4a7c15
	payerStream    = 0x2545f4914f6cdd1d
)

// udsPanel is the set of screens run for a primary substance.
func udsPanel(substance string) []string {
	primary := map[string]string{
		"alcohol": "uds_alcohol", "opioids": "uds_fentanyl", "methamphetamine": "uds_methamphetamine",
		"cocaine": "uds_cocaine", "cannabis": "uds_cannabis", "benzodiazepines": "uds_benzodiazepines",
	}[substance]
	panel := []string{}
	if primary != "" {
		panel = append(panel, primary)
	}
	for _, m := range []string{"uds_opioids", "uds_cocaine", "uds_cannabis"} {
		if m != primary {
			panel = append(panel, m)
		}
	}
	return panel[:3]
}

// patient simulates one person and writes their rows.
func (g *gen) patient(i int) {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)))
	progs := programs()
	var weights []float64
	for _, p := range progs {
		weights = append(weights, p.weight)
	}
	prog := progs[pick(r, weights)]
	firstAdmit := g.from + r.IntN(g.cutoff-7-g.from)
	age := 18 + int(clamp(normal(r, 36, 12), 0, 72))
	if prog.adolescent {
		age = 13 + r.IntN(5)
	}
	birthYear := 1970 + firstAdmit/365 - age
	pid := fmt.Sprintf("MRN%07d", 1000003+i*7)
	u := r.NormFloat64() // how engaged this person tends to be
	// The payer, drawn from a stream of its own before the episodes, so that the
	// payer gap in completion (Effects.CompletionRatioMedicaid) is known when an
	// episode ends and everything drawn after that (the follow-up contacts, the
	// satisfaction survey) follows the discharge reason the export gives.
	payer := payers[pick(rand.New(rand.NewPCG(g.cfg.Seed^payerStream, uint64(i))), payerW)]
	var gap *rand.Rand
	if payer == "medicaid" {
		gap = rand.New(rand.NewPCG(g.cfg.Seed^payerGapStream, uint64(i)))
	}

	var eps []*episode
	admit := firstAdmit
	for k := 0; k < 3 && admit <= g.cutoff-3; k++ {
		e := g.episode(r, i, k, prog, admit, u, gap)
		eps = append(eps, e)
		if e.discharge < 0 {
			break
		}
		p := 0.10
		if e.reason == "dropped_out" || e.reason == "terminated" {
			p = 0.28
		}
		if r.Float64() >= p {
			break
		}
		admit = e.discharge + 7 + r.IntN(140)
		if !prog.adolescent && r.Float64() < 0.3 {
			prog = progs[pick(r, weights)]
			for prog.adolescent {
				prog = progs[pick(r, weights)]
			}
		}
	}
	dropCollidingFollowUps(eps)
	patient := []string{pid, strconv.Itoa(birthYear), sexes[pick(r, sexW)], races[pick(r, raceW)], eths[pick(r, ethW)], payer}
	pick(r, payerW) // the draw the payer once took from this stream, kept so that the draws after it stay as they were
	name := firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	phone := fmt.Sprintf("555-%03d-%04d", r.IntN(1000), r.IntN(10000))
	g.write(i, pid, patient, name, phone, eps)
}

// dropCollidingFollowUps keeps a patient's observations unique by day and measure
// (the natural key of observations): a later follow-up at 90 or 180 days that falls on
// the day of another follow-up of the same patient (after a readmission) is not made.
func dropCollidingFollowUps(eps []*episode) {
	taken := map[int]*episode{}
	for _, e := range eps {
		for _, o := range e.obs {
			if !o.extra && strings.HasPrefix(o.measure, "followup_") {
				taken[o.day] = e
			}
		}
	}
	for _, e := range eps {
		n := 0
		for _, o := range e.obs {
			if o.extra && strings.HasPrefix(o.measure, "followup_") {
				if owner, ok := taken[o.day]; ok && owner != e {
					continue
				}
				taken[o.day] = e
			}
			e.obs[n] = o
			n++
		}
		e.obs = e.obs[:n]
	}
}

// episode simulates one admission from day admit.
func (g *gen) episode(r *rand.Rand, i, k int, prog program, admit int, u float64, gap *rand.Rand) *episode {
	e := &episode{
		id: fmt.Sprintf("EP%07d%d", i, k), prog: prog, admit: admit, discharge: -1,
		substance: substances[pick(r, substW)], referral: referrals[pick(r, referralW)],
	}
	if prog.adolescent {
		e.substance = []string{"cannabis", "alcohol", "other"}[pick(r, []float64{0.7, 0.2, 0.1})]
	}
	e.cooc = r.Float64() < map[bool]float64{true: 0.9, false: 0.4}[prog.cooccurring]
	e.med = r.Float64() < map[string]float64{"opioids": 0.65, "alcohol": 0.25}[e.substance]+0.03
	fx := plantedEffects()
	planned := prog.weeks * 7
	lostContact := 14 + r.IntN(15) // days without contact before a dropout is discharged
	clinicians := fmt.Sprintf("CLN-%s", prog.site[:1])

	dropDay := -1     // the day the person stops coming
	dropLatent := 1e9 // latent dropout time after the landmark
	relapseDay := 1e9 // latent relapse onset
	endDay, endReason := -1, ""
	attended, scheduled := 0, 0
	attendedEarly := 0
	phqBase := clamp(normal(r, 13+map[bool]float64{true: 3, false: 0}[e.cooc], 5), 0, 27)
	gadBase := clamp(normal(r, 11+map[bool]float64{true: 2, false: 0}[e.cooc], 4.5), 0, 21)
	panel := udsPanel(e.substance)
	seq := 0
	udsWeek := -1
	scoreWeek := -1

days:
	for d := 0; ; d++ {
		day := admit + d
		if day > g.cutoff {
			break // still active at the cutoff
		}
		// Competing ends: transfer, incarceration, death.
		if dropDay < 0 {
			switch x := r.Float64(); {
			case x < 0.0009:
				endDay, endReason = d, "transferred"
			case x < 0.0011:
				endDay, endReason = d, "incarcerated"
			case x < 0.00113:
				endDay, endReason = d, "died"
			}
			if endReason != "" {
				break days
			}
			if d == planned {
				endDay, endReason = d-1, "completed"
				break days
			}
			if d < fx.LandmarkDays {
				if r.Float64() < 0.0035*math.Exp(-0.6*u) {
					dropDay = d
				}
			} else {
				if d == fx.LandmarkDays {
					dose := float64(attendedEarly) / (float64(fx.LandmarkDays) / 7)
					dropLatent = float64(d) + r.ExpFloat64()/(fx.DropoutRatePerDay*math.Pow(fx.DropoutHRPerSession, dose-fx.ReferenceDose))
					relapseDay = float64(d) + r.ExpFloat64()/(fx.RelapseRatePerDay*math.Pow(fx.RelapseHRPerSession, dose-fx.ReferenceDose))
				}
				if float64(d) >= dropLatent {
					dropDay = d
				}
			}
		} else if d >= dropDay+lostContact {
			endDay = d
			endReason = "dropped_out"
			if r.Float64() < 0.15 {
				endReason = "terminated"
			}
			break days
		}
		week := d / 7
		wd := weekday(day)
		var todays []slot
		if d == 0 {
			todays = append(todays, slot{wd, "individual", 60, "08:30", 1, false})
		}
		for _, s := range prog.slots {
			if s.weekday == wd && week%s.every == 0 && (!s.medsOnly || e.med) {
				todays = append(todays, s)
			}
		}
		attendedToday := false
		for _, s := range todays {
			seq++
			scheduled++
			status := "attended"
			switch x := r.Float64(); {
			case x < 0.02:
				status = "cancelled_by_program"
			case x < 0.035:
				status = "excused"
			case dropDay >= 0:
				status = []string{"no_show", "cancelled_by_patient"}[pick(r, []float64{0.8, 0.2})]
			default:
				adj := map[string]float64{"individual": 0.4, "medication_management": 0.6, "family": -0.3, "peer_support": -0.6}[s.typ]
				if d == 0 {
					adj = 3
				}
				if r.Float64() >= logistic(1.3+0.9*u+adj-0.03*float64(week)) {
					status = []string{"no_show", "cancelled_by_patient"}[pick(r, []float64{0.7, 0.3})]
				}
			}
			if status == "attended" {
				attended++
				attendedToday = true
				if d < fx.LandmarkDays {
					attendedEarly++
				}
			}
			e.sessions = append(e.sessions, session{
				id: fmt.Sprintf("S%07d%d%04d", i, k, seq), typ: s.typ, start: s.start, status: status,
				clinician: fmt.Sprintf("%s%02d", clinicians, 1+r.IntN(8)), day: day, minutes: s.minutes,
			})
		}
		// One drug screen a week, at the first scheduled session of the week.
		if len(todays) > 0 && week != udsWeek {
			udsWeek = week
			if !attendedToday {
				e.obs = append(e.obs, obs{day: day, measure: "uds_specimen", value: "missing"})
			} else {
				e.obs = append(e.obs, obs{day: day, measure: "uds_specimen", value: "collected"})
				for j, m := range panel {
					p := 0.03
					if j == 0 {
						switch {
						case float64(d) >= relapseDay:
							p = 0.85
						case week < 2:
							p = 0.35
						default:
							p = 0.05
						}
					}
					v := "negative"
					if r.Float64() < p {
						v = "positive"
					}
					e.obs = append(e.obs, obs{day: day, measure: m, value: v})
				}
			}
		}
		// PHQ-9 and GAD-7 at intake and every four weeks, at an attended session.
		if attendedToday && week%4 == 0 && week != scoreWeek {
			scoreWeek = week
			rate := float64(attended) / float64(scheduled)
			phq := clamp(math.Round(phqBase-0.55*float64(week)*rate+normal(r, 0, 2.2)), 0, 27)
			gad := clamp(math.Round(gadBase-0.45*float64(week)*rate+normal(r, 0, 2)), 0, 21)
			if d == 0 {
				phq, gad = math.Round(phqBase), math.Round(gadBase)
			}
			e.obs = append(e.obs, obs{day: day, measure: "phq9", value: strconv.Itoa(int(phq)), unit: "points"},
				obs{day: day, measure: "gad7", value: strconv.Itoa(int(gad)), unit: "points"})
		}
	}
	if endDay >= 0 {
		e.discharge = admit + endDay
		e.reason = endReason
		if e.reason == "completed" && gap != nil && gap.Float64() >= fx.CompletionRatioMedicaid {
			// The payer gap: a Medicaid episode that reaches its planned length is
			// stepped down elsewhere (transferred) instead of discharged as completed.
			e.reason = "transferred"
		}
		if e.discharge > g.cutoff {
			e.discharge, e.reason = -1, ""
		}
	}
	if e.discharge >= 0 {
		// Drop sessions and screens planned after an unexpected end.
		n := 0
		for _, s := range e.sessions {
			if s.day <= e.discharge {
				e.sessions[n] = s
				n++
			}
		}
		e.sessions = e.sessions[:n]
		n = 0
		for _, o := range e.obs {
			if o.day <= e.discharge {
				e.obs[n] = o
				n++
			}
		}
		e.obs = e.obs[:n]
		// Follow-up call 30 days after discharge.
		if fu := e.discharge + 30; fu <= g.cutoff && e.reason != "died" {
			reach := fx.FollowUps[0].ReachOther
			if e.reason == "completed" {
				reach = fx.FollowUps[0].ReachCompleted
			}
			if r.Float64() < reach {
				abst := "yes"
				if float64(e.discharge-admit) >= relapseDay || r.Float64() < 0.35 {
					abst = "no"
				}
				e.obs = append(e.obs, obs{day: fu, measure: "followup_contact", value: "reached", episodeRef: e.id},
					obs{day: fu, measure: "followup_abstinent", value: abst, episodeRef: e.id})
			} else {
				e.obs = append(e.obs, obs{day: fu, measure: "followup_contact", value: "not_reached", episodeRef: e.id})
			}
		}
	}
	g.extras(i, k, e, relapseDay)
	return e
}

// extras draws what later versions of the generator added to an episode, from a
// random stream of its own so that everything drawn before stays as it was for a
// seed: the referral date (a delay before admission that differs by program), the
// follow-up contacts at 90 and 180 days after discharge, and the CSQ-8 satisfaction
// score at discharge, which rises with attendance (plantedEffects).
func (g *gen) extras(i, k int, e *episode, relapseDay float64) {
	r := rand.New(rand.NewPCG(g.cfg.Seed^0x5851f42d4c957f2d, uint64(i)*4+uint64(k)))
	fx := plantedEffects()
	e.referred = -1
	if r.Float64() < fx.ReferralDateShare {
		median := float64(fx.ReferralDelayMedianDays[e.prog.id])
		e.referred = e.admit - int(math.Round(median*math.Exp(fx.ReferralDelaySigma*r.NormFloat64())))
	}
	if e.discharge < 0 || e.reason == "died" {
		return
	}
	for _, f := range fx.FollowUps[1:] {
		fu := e.discharge + f.Days + r.IntN(2*f.JitterDays+1) - f.JitterDays
		reach := f.ReachOther
		if e.reason == "completed" {
			reach = f.ReachCompleted
		}
		reached, abstinent := r.Float64() < reach, r.Float64() >= 0.45
		if fu > g.cutoff {
			continue
		}
		if !reached {
			e.obs = append(e.obs, obs{day: fu, measure: "followup_contact", value: "not_reached", episodeRef: e.id, extra: true})
			continue
		}
		abst := "yes"
		if float64(e.discharge-e.admit) >= relapseDay || !abstinent {
			abst = "no"
		}
		e.obs = append(e.obs, obs{day: fu, measure: "followup_contact", value: "reached", episodeRef: e.id, extra: true},
			obs{day: fu, measure: "followup_abstinent", value: abst, episodeRef: e.id, extra: true})
	}
	sat := fx.Satisfaction
	respond := sat.ResponseOther
	if e.reason == "completed" {
		respond = sat.ResponseCompleted
	}
	answers, noise := r.Float64() < respond, r.NormFloat64()
	if !answers {
		return
	}
	attended, expected := 0, 0
	for _, s := range e.sessions {
		switch s.status {
		case "attended":
			attended++
			expected++
		case "no_show", "cancelled_by_patient":
			expected++
		}
	}
	rate := 0.0
	if expected > 0 {
		rate = float64(attended) / float64(expected)
	}
	score := clamp(math.Round(sat.Intercept+sat.PerAttendance*rate+sat.SD*noise), 8, 32)
	e.obs = append(e.obs, obs{day: e.discharge, measure: "csq8", value: strconv.Itoa(int(score)), unit: "points", episodeRef: e.id, extra: true})
}
