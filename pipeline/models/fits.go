package models

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/iop-outcomes/outcomes/pipeline/stats"
)

// episode is the part of an episode_outcomes row the fits use.
type episode struct {
	id                string
	retention, los    float64
	dropout           bool
	dose, overallDose float64
	band, program     string
	relapse           sql.NullBool
	relapseWeek       sql.NullInt64
	relapseCensor     sql.NullInt64 // relapse_censor_week
	cohort            bool
	observedHorizon   bool
	// The categorical and boolean covariates as text ("" when missing); fields, not a
	// map, because a million episodes each with a map cost gigabytes.
	age, sex, substance, cooc, med string
	// race, ethnicity and payer of the patient ("" when missing), for the equity
	// breakdown of retention (kpis_by_group).
	race, ethnicity, payer string
	period                 string // quarter of admission, as 2026Q3
	observable             int    // days from admission to the cutoff
}

// covariate is the value of a covariate of the models by its name.
func (e *episode) covariate(name string) string {
	switch name {
	case "age_band":
		return e.age
	case "sex":
		return e.sex
	case "primary_substance":
		return e.substance
	case "co_occurring":
		return e.cooc
	case "on_medication":
		return e.med
	case "program":
		return e.program
	}
	return ""
}

func loadEpisodes(ctx context.Context, conn *sql.Conn, p Params) ([]episode, error) {
	// An episode is a large value: the slice is made at its size, not grown.
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM episode_outcomes`).Scan(&n); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `
		SELECT o.episode_id, o.retention_days, o.los_days, o.dropout_event, o.landmark_sessions_per_week,
		       o.sessions_per_week, o.dose_band, o.program_id, o.relapse_event, o.relapse_week, o.relapse_censor_week, o.in_landmark_cohort,
		       o.admit_date + CAST(? AS INTEGER) <= CAST((SELECT value FROM analysis_parameters WHERE name = 'cutoff') AS DATE),
		       coalesce(o.age_band, ''), coalesce(pt.sex, ''), coalesce(o.primary_substance, ''),
		       coalesce(CAST(o.co_occurring AS VARCHAR), ''), coalesce(CAST(o.on_medication AS VARCHAR), ''),
		       strftime(o.admit_date, '%Y') || 'Q' || quarter(o.admit_date),
		       date_diff('day', o.admit_date, CAST((SELECT value FROM analysis_parameters WHERE name = 'cutoff') AS DATE)),
		       coalesce(pt.race, ''), coalesce(pt.ethnicity, ''), coalesce(pt.payer, '')
		FROM episode_outcomes o LEFT JOIN patients pt USING (patient_key)
		ORDER BY o.episode_id`, p.HorizonDays)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]episode, 0, n)
	seen := map[string]string{}
	for rows.Next() {
		var e episode
		if err := rows.Scan(&e.id, &e.retention, &e.los, &e.dropout, &e.dose, &e.overallDose, &e.band, &e.program,
			&e.relapse, &e.relapseWeek, &e.relapseCensor, &e.cohort, &e.observedHorizon, &e.age, &e.sex, &e.substance, &e.cooc, &e.med,
			&e.period, &e.observable, &e.race, &e.ethnicity, &e.payer); err != nil {
			return nil, err
		}
		// The text columns take few distinct values: keep one copy of each.
		for _, v := range []*string{&e.band, &e.program, &e.age, &e.sex, &e.substance, &e.cooc, &e.med, &e.period, &e.race, &e.ethnicity, &e.payer} {
			*v = intern(seen, *v)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// intern returns the copy of s kept in seen, keeping s there first.
func intern(seen map[string]string, s string) string {
	if t, ok := seen[s]; ok {
		return t
	}
	seen[s] = s
	return s
}

// survival fills km_estimates and logrank_tests.
func survival(ctx context.Context, conn *sql.Conn, p Params, eps []episode) error {
	for _, t := range []string{"km_estimates", "logrank_tests"} {
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
	}
	L := float64(p.LandmarkDays)
	type obs struct {
		t       float64
		event   bool
		stratum string
	}
	analyses := []struct {
		name string
		rows func() []obs
	}{
		{"retention", func() []obs {
			var o []obs
			for _, e := range eps {
				o = append(o, obs{e.retention, e.dropout, e.program})
			}
			return o
		}},
		{"retention_landmark", func() []obs {
			var o []obs
			for _, e := range eps {
				if e.cohort {
					o = append(o, obs{e.retention, e.dropout, e.band})
				}
			}
			return o
		}},
		{"relapse_landmark", func() []obs {
			var o []obs
			for _, e := range eps {
				if t, ev, ok := relapseTime(e, L); ok {
					o = append(o, obs{t, ev, e.band})
				}
			}
			return o
		}},
	}
	var km [][]any
	for _, a := range analyses {
		rows := a.rows()
		strata := map[string][]int{"ALL": nil}
		var names []string
		for i, r := range rows {
			if _, ok := strata[r.stratum]; !ok {
				names = append(names, r.stratum)
			}
			strata[r.stratum] = append(strata[r.stratum], i)
			strata["ALL"] = append(strata["ALL"], i)
		}
		sort.Strings(names)
		for _, name := range append([]string{"ALL"}, names...) {
			var ts []float64
			var evs []bool
			for _, i := range strata[name] {
				ts, evs = append(ts, rows[i].t), append(evs, rows[i].event)
			}
			for _, pt := range stats.KaplanMeier(ts, evs, 0.95) {
				km = append(km, []any{a.name, name, pt.Time, int32(pt.NRisk), int32(pt.NEvent), int32(pt.NCensor),
					pt.Survival, nanNull(pt.StdErr), nanNull(pt.Lower), nanNull(pt.Upper)})
			}
		}
		if len(names) < 2 {
			continue
		}
		code := map[string]int{}
		for i, n := range names {
			code[n] = i
		}
		var ts []float64
		var evs []bool
		var gs []int
		for _, r := range rows {
			ts, evs, gs = append(ts, r.t), append(evs, r.event), append(gs, code[r.stratum])
		}
		lr := stats.LogRankTest(ts, evs, gs)
		if _, err := conn.ExecContext(ctx, `INSERT INTO logrank_tests VALUES (?, ?, ?, ?)`, a.name, nanNull(lr.ChiSquare), lr.DF, nanNull(lr.P)); err != nil {
			return err
		}
	}
	return appendRows(conn, "main", "km_estimates", km)
}

// retentionKPIs replaces the simple proportions of the retention_30/60/90 rows of kpis
// by the Kaplan-Meier estimate (docs/methods.md: completion, transfer and active
// episodes are censored, not counted as retained): per program and for ALL, among the
// episodes admitted in the quarter at least N days before the cutoff. The numerator is
// the episodes that had not dropped out by day N, the denominator the cohort; the rate
// is the estimate, with its log-log 95% interval (Wilson's where that has no width, at
// 0 or 1), and the funnel limits follow it. When no episode of the cohort was followed
// to day N, the rate and its limits are null: nobody observed it.
func retentionKPIs(ctx context.Context, conn *sql.Conn, eps []episode) error {
	// One UPDATE from a table of the estimates: an UPDATE per group scans kpis each
	// time.
	if err := stageRetention(ctx, conn, retentionRows(eps, func(*episode) string { return "" })); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `UPDATE kpis SET numerator = v.numerator, denominator = v.denominator, rate = v.rate, lower = v.lower, upper = v.upper
		FROM temp.retention_rows v
		WHERE kpis.program_id = v.program_id AND kpis.period = v.period AND kpis.measure = v.measure`); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, `
		UPDATE kpis SET
		    funnel_lower_95 = greatest(0, a.rate - z_95() * sqrt(a.rate * (1 - a.rate) / kpis.denominator)),
		    funnel_upper_95 = least(1, a.rate + z_95() * sqrt(a.rate * (1 - a.rate) / kpis.denominator)),
		    funnel_lower_998 = greatest(0, a.rate - z_998() * sqrt(a.rate * (1 - a.rate) / kpis.denominator)),
		    funnel_upper_998 = least(1, a.rate + z_998() * sqrt(a.rate * (1 - a.rate) / kpis.denominator))
		FROM (SELECT period, measure, rate FROM kpis WHERE program_id = 'ALL') a
		WHERE kpis.measure LIKE 'retention_%' AND a.period = kpis.period AND a.measure = kpis.measure AND kpis.denominator > 0`)
	return err
}

// groupAttributes are the attributes kpis_by_group breaks the measures down by.
func groupAttributes() []string { return []string{"sex", "race", "ethnicity", "payer", "age_band"} }

// group is an episode's group of an attribute of kpis_by_group: unknown when not
// recorded, as the SQL model writes it.
func (e *episode) group(attribute string) string {
	var v string
	switch attribute {
	case "sex":
		v = e.sex
	case "race":
		v = e.race
	case "ethnicity":
		v = e.ethnicity
	case "payer":
		v = e.payer
	case "age_band":
		v = e.age
	}
	if v == "" {
		return "unknown"
	}
	return v
}

// retentionByGroup does for the retention rows of kpis_by_group what retentionKPIs
// does for kpis: the Kaplan-Meier estimate among each group's episodes, per program
// and for ALL. A group with no episode in the cohort keeps its empty row. One
// attribute at a time, so that memory holds one index per episode and cohort.
func retentionByGroup(ctx context.Context, conn *sql.Conn, eps []episode) error {
	for _, attribute := range groupAttributes() {
		if err := stageRetention(ctx, conn, retentionRows(eps, func(e *episode) string { return e.group(attribute) })); err != nil {
			return fmt.Errorf("retention by %s: %w", attribute, err)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE kpis_by_group g SET numerator = v.numerator, denominator = v.denominator, rate = v.rate, lower = v.lower, upper = v.upper
			FROM temp.retention_rows v
			WHERE g.attribute = ? AND g.program_id = v.program_id AND g.period = v.period AND g.value = v.value AND g.measure = v.measure`,
			attribute); err != nil {
			return fmt.Errorf("retention by %s: %w", attribute, err)
		}
	}
	return nil
}

// stageRetention puts the rows of retentionRows in the temporary table
// retention_rows, through the Appender: as one statement's VALUES with nine
// parameters a row, DuckDB took longer to bind the list than to apply it.
func stageRetention(ctx context.Context, conn *sql.Conn, rows [][]any) error {
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE retention_rows (program_id VARCHAR, period VARCHAR,
		value VARCHAR, measure VARCHAR, numerator INTEGER, denominator INTEGER, rate DOUBLE, lower DOUBLE, upper DOUBLE)`); err != nil {
		return err
	}
	return appendRowsTo(conn, "temp", "main", "retention_rows", rows)
}

// retentionRows estimates N-day retention (N = 30, 60, 90) for every group of episodes
// that share a program (and ALL), a quarter of admission and a class (class(e): a
// group of an attribute, or "" for none), among those admitted at least N days before
// the cutoff; each group is one row (program, period, class, measure, numerator,
// denominator, rate, lower, upper).
func retentionRows(eps []episode, class func(e *episode) string) (rows [][]any) {
	type key struct {
		program, period, value string
		n                      int
	}
	groups := map[key][]int{}
	for i := range eps {
		e := &eps[i]
		c := class(e)
		for _, n := range []int{30, 60, 90} {
			if e.observable >= n {
				for _, prog := range []string{e.program, "ALL"} {
					k := key{prog, e.period, c, n}
					groups[k] = append(groups[k], i)
				}
			}
		}
	}
	for k, idx := range groups {
		ts, evs := make([]float64, len(idx)), make([]bool, len(idx))
		for j, i := range idx {
			ts[j], evs[j] = eps[i].retention, eps[i].dropout
		}
		through, rate, lower, upper := RetentionEstimate(ts, evs, k.n)
		rows = append(rows, []any{k.program, k.period, k.value, fmt.Sprintf("retention_%d", k.n), int32(through), int32(len(idx)), rate, lower, upper})
	}
	return rows
}

// RetentionEstimate is N-day retention over a cohort of episodes, given each one's
// retention time (days to the last attended session, or to the cutoff while active)
// and whether it ended in dropout: the Kaplan-Meier probability of not having dropped
// out by day N with its log-log 95% limits (Wilson's where that band has no width, at
// 0 or 1), and the number of episodes that had not dropped out by day N. The rate and
// limits are nil when no episode was followed to day N: nobody observed it.
func RetentionEstimate(retention []float64, dropout []bool, n int) (notDropped int, rate, lower, upper any) {
	followed := 0
	for i, t := range retention {
		if !(dropout[i] && t < float64(n)) {
			notDropped++
		}
		if t >= float64(n) {
			followed++
		}
	}
	if followed == 0 {
		return notDropped, nil, nil, nil
	}
	s, lo, hi := 1.0, 1.0, 1.0
	for _, pt := range stats.KaplanMeier(retention, dropout, 0.95) {
		if pt.Time < float64(n) {
			s, lo, hi = pt.Survival, pt.Lower, pt.Upper
		}
	}
	if lo == hi {
		lo, hi = stats.Wilson(notDropped, len(retention), 0.95)
	}
	return notDropped, s, lo, hi
}

// relapseTime is the landmark relapse outcome of an episode in days from admission:
// the first day of the relapse week, or without relapse the first day of the censor
// week, the last week in which a relapse could still have been seen to start
// (CensorWeek; for a run of k weeks its last observed week - k + 1), never the
// discharge, which lies up to k-1 weeks after the last relapse that could be seen.
// Episodes outside the landmark cohort, that relapsed before the landmark, or whose
// censor week begins before it (no time at risk after the landmark) are not at risk.
func relapseTime(e episode, L float64) (float64, bool, bool) {
	if !e.cohort || !e.relapse.Valid {
		return 0, false, false
	}
	week, event := e.relapseCensor, false
	if e.relapse.Bool {
		week, event = e.relapseWeek, true
	}
	if !week.Valid {
		return 0, false, false
	}
	day := float64(7 * (week.Int64 - 1))
	if day < L {
		return 0, false, false
	}
	return day, event, true
}

// windowText names the outcome window in a model's definition.
func windowText(p Params) string {
	if p.OutcomeWindowWeeks == 0 {
		return ""
	}
	return fmt.Sprintf(", weeks 1-%d only", p.OutcomeWindowWeeks)
}

func nanNull(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// fitDesign is the covariate part of one fit: the columns over the fit's rows and
// what was left out, in words. The words carry no counts (n and n_excluded do, where
// the report can suppress small ones): the external report prints them.
type fitDesign struct {
	cols  [][]float64 // one per term, indexed like the episodes
	names []string
	keep  []bool // the fit's rows with every covariate used (complete cases)
	// rows is the fit's rows before complete cases, excluded those left out.
	rows, excluded int
	// dropped are the covariates left out of the fit, with the reason.
	dropped []dropped
	notes   []string
}

type dropped struct{ covariate, reason string }

// design builds the covariate columns of a fit over the episodes in (its cohort),
// as R's model.frame and coxph or glm would treat them, with every decision in words:
// a covariate missing for every episode of the fit, or with one value among the
// complete cases, is left out of the fit; rows missing a covariate that is used are
// left out (complete cases) and counted. Booleans are 0/1, categories indicators
// against their most frequent level. Columns that are collinear are left to the fit
// (stats.AliasTolerance).
func design(eps []episode, in func(i int) bool, covs []string) fitDesign {
	var d fitDesign
	inFit := make([]bool, len(eps))
	for i := range eps {
		inFit[i] = in(i)
		if inFit[i] {
			d.rows++
		}
	}
	var used []string
	for _, c := range covs {
		present := 0
		for i, e := range eps {
			if inFit[i] && e.covariate(c) != "" {
				present++
			}
		}
		if present == 0 && d.rows > 0 {
			d.dropped = append(d.dropped, dropped{c, c + " is missing for every episode of the fit, so it was left out"})
			continue
		}
		used = append(used, c)
	}
	d.keep = make([]bool, len(eps))
	missing := map[string]int{}
	for i, e := range eps {
		if !inFit[i] {
			continue
		}
		d.keep[i] = true
		for _, c := range used {
			if e.covariate(c) == "" {
				d.keep[i] = false
				missing[c]++
			}
		}
		if !d.keep[i] {
			d.excluded++
		}
	}
	if d.excluded > 0 {
		var by []string
		for _, c := range used {
			if missing[c] > 0 {
				by = append(by, c)
			}
		}
		d.notes = append(d.notes, "episodes missing "+strings.Join(by, " or ")+" were left out (complete cases; n_excluded counts them)")
	}
	for _, c := range used {
		count := map[string]int{}
		for i, e := range eps {
			if d.keep[i] {
				count[e.covariate(c)]++
			}
		}
		var levels []string
		for l := range count {
			levels = append(levels, l)
		}
		sort.Slice(levels, func(a, b int) bool {
			if count[levels[a]] != count[levels[b]] {
				return count[levels[a]] > count[levels[b]]
			}
			return levels[a] < levels[b]
		})
		if len(levels) == 1 {
			d.dropped = append(d.dropped, dropped{c, fmt.Sprintf("%s is %s for every episode fitted, so it was left out", c, levels[0])})
			continue
		}
		if c == "co_occurring" || c == "on_medication" {
			col := make([]float64, len(eps))
			for i, e := range eps {
				if e.covariate(c) == "true" {
					col[i] = 1
				}
			}
			d.cols, d.names = append(d.cols, col), append(d.names, c)
			continue
		}
		for _, l := range levels[1:] {
			col := make([]float64, len(eps))
			for i, e := range eps {
				if e.covariate(c) == l {
					col[i] = 1
				}
			}
			d.cols, d.names = append(d.cols, col), append(d.names, c+"="+l)
		}
	}
	for _, dr := range d.dropped {
		d.notes = append(d.notes, dr.reason)
	}
	return d
}

// row is the exposure followed by the covariate columns of episode i.
func (d fitDesign) row(exposure float64, i int) []float64 {
	r := make([]float64, 0, 1+len(d.cols))
	r = append(r, exposure)
	for _, c := range d.cols {
		r = append(r, c[i])
	}
	return r
}

// noFit says why a fit had no rows: an empty cohort, or every episode of it left
// out as incomplete.
func (d fitDesign) noFit(cohort string) string {
	if d.rows == 0 {
		return "no episodes in " + cohort
	}
	return "not fitted: every episode of " + cohort + " lacks a covariate; " + strings.Join(d.notes, "; ")
}

// estimate is one row of model_estimates.
type estimate struct {
	model, term, definition, warning string
	coef, se, lower, upper, p        float64
	n, events, iterations, excluded  int
	converged                        bool
}

func writeEstimates(ctx context.Context, conn *sql.Conn, es []estimate) error {
	rows := make([][]any, 0, len(es))
	for _, e := range es {
		var warning any
		if e.warning != "" {
			warning = e.warning
		}
		rows = append(rows, []any{e.model, e.term, nanNull(e.coef), nanNull(e.se), nanNull(math.Exp(e.coef)), nanNull(e.lower), nanNull(e.upper),
			nanNull(e.p), int32(e.n), int32(e.events), e.converged, int32(e.iterations), e.definition, warning, int32(e.excluded)})
	}
	return appendRows(conn, "main", "model_estimates", rows)
}

// fitted is what estimates needs of a Cox or logistic fit.
type fitted struct {
	coef, se, lower, upper, p []float64
	aliased, infinite         []bool
	n, events, iterations     int
	converged                 bool
	warning                   string
}

// estimates turns a fit into rows of model_estimates: one per term, a term left out
// (aliased) or running to infinity with null estimates, then one per covariate the
// design left out, every row carrying the warnings of the model in words.
func estimates(model, definition string, names []string, d fitDesign, f fitted) []estimate {
	notes := append([]string(nil), d.notes...)
	if f.warning != "" {
		notes = append(notes, f.warning)
	}
	warning := strings.Join(notes, "; ")
	var out []estimate
	for j, name := range names {
		e := estimate{model: model, term: name, definition: definition, warning: warning,
			coef: f.coef[j], se: f.se[j], lower: f.lower[j], upper: f.upper[j], p: f.p[j],
			n: f.n, events: f.events, iterations: f.iterations, converged: f.converged, excluded: d.excluded}
		if f.infinite[j] {
			e.coef, e.se, e.lower, e.upper, e.p = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		out = append(out, e)
	}
	for _, dr := range d.dropped {
		out = append(out, estimate{model: model, term: dr.covariate, definition: definition, warning: warning,
			coef: math.NaN(), se: math.NaN(), lower: math.NaN(), upper: math.NaN(), p: math.NaN(),
			n: f.n, events: f.events, iterations: f.iterations, converged: f.converged, excluded: d.excluded})
	}
	return out
}

// noFitEstimate is the one row of a model that could not be fitted.
func noFitEstimate(model, definition, why string, n, excluded int) estimate {
	return estimate{model: model, term: "(no fit)", definition: definition, warning: why, n: n, excluded: excluded,
		coef: math.NaN(), se: math.NaN(), lower: math.NaN(), upper: math.NaN(), p: math.NaN()}
}

func coxEstimates(model, definition string, d stats.CoxData, fd fitDesign) []estimate {
	fit, err := stats.Cox(d)
	if err != nil {
		why := err.Error()
		if errors.Is(err, stats.ErrNoEvents) {
			why = "not fitted: no events among the rows fitted"
		}
		if len(fd.notes) > 0 {
			why += "; " + strings.Join(fd.notes, "; ")
		}
		return []estimate{noFitEstimate(model, definition, why, fit.N, fd.excluded)}
	}
	return estimates(model, definition, d.Names, fd, fitted{fit.Coef, fit.StdErr, fit.Lower, fit.Upper, fit.P,
		fit.Aliased, fit.Infinite, fit.N, fit.Events, fit.Iterations, fit.Converged, fit.Warning})
}

// regressions fills model_estimates and says in s.Warnings what went wrong in any fit.
func regressions(ctx context.Context, conn *sql.Conn, p Params, eps []episode, s *Summary) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM model_estimates`); err != nil {
		return err
	}
	L := float64(p.LandmarkDays)
	adjusted := "none"
	if len(p.Covariates) > 0 {
		adjusted = strings.Join(p.Covariates, ", ")
	}
	var all []estimate

	landmark := func(model, outcome string, include func(e episode) (float64, bool, bool)) {
		fd := design(eps, func(i int) bool { _, _, ok := include(eps[i]); return ok }, p.Covariates)
		d := stats.CoxData{Names: append([]string{"landmark_sessions_per_week"}, fd.names...)}
		for i, e := range eps {
			t, ev, ok := include(e)
			if !ok || !fd.keep[i] {
				continue
			}
			d.Start, d.Stop, d.Event, d.X = append(d.Start, 0), append(d.Stop, t), append(d.Event, ev), append(d.X, fd.row(e.dose, i))
		}
		def := fmt.Sprintf("Landmark Cox model (Efron ties). Cohort: episodes admitted at least %d days before the cutoff and still in treatment at day %d. "+
			"Outcome: %s, in days after day %d. Exposure: attended sessions per week in days 0-%d (hazard ratio per additional weekly session). Adjusted for: %s.",
			p.LandmarkDays, p.LandmarkDays, outcome, p.LandmarkDays, p.LandmarkDays-1, adjusted)
		if len(d.Stop) == 0 {
			all = append(all, noFitEstimate(model, def, fd.noFit("the landmark cohort"), 0, fd.excluded))
			return
		}
		all = append(all, coxEstimates(model, def, d, fd)...)
	}
	landmark("landmark_cox_dropout", "dropout (the last attended session of an episode discharged as dropped out or terminated)",
		func(e episode) (float64, bool, bool) {
			return e.retention - L + 1, e.dropout, e.cohort
		})
	if h := all[0]; h.term == "landmark_sessions_per_week" && !math.IsNaN(h.coef) {
		s.Headline = fmt.Sprintf("HR %.2f (95%% CI %.2f-%.2f) per additional weekly session in days 0-%d, n = %d, %d dropouts",
			math.Exp(h.coef), h.lower, h.upper, p.LandmarkDays-1, h.n, h.events)
	}
	landmark("landmark_cox_relapse", fmt.Sprintf("relapse (%s, missing screens %s%s), from the first day of the relapse week; "+
		"an episode without relapse is censored at the first day of the last week a relapse could still have been seen to start "+
		"(for a run of k weeks, its last observed week - k + 1), never at discharge, and one with no such week from day %d on is left out",
		p.RelapseDefinition, p.MissingPolicy, windowText(p), p.LandmarkDays),
		func(e episode) (float64, bool, bool) {
			t, ev, ok := relapseTime(e, L)
			return t - L + 1, ev, ok
		})

	// Time-varying: each week from week 2 on, the dose is the previous week's
	// attended sessions, so that the week in which someone stops coming does not
	// explain itself.
	tv, err := timeVarying(ctx, conn, p, eps, adjusted)
	if err != nil {
		return err
	}
	all = append(all, tv...)

	// Logistic: relapse by the horizon in the landmark cohort.
	notEvaluable := map[int]bool{}
	outcome := func(i int, e episode) (relapsed, ok bool) {
		if !e.observedHorizon {
			return false, false
		}
		// The outcome is relapse while in treatment up to the horizon. A dropout
		// before the horizon without relapse: its missing screens count as positive
		// under the "positive" policy (intention to treat), even when too few weeks
		// were screened to see a run; under the other policies its outcome was not
		// observed and it is left out. Any other episode without relapse counts as no
		// relapse only when a relapse starting in any week that begins before the
		// horizon could have been seen: the week after its censor week (t + 7) begins
		// at or after the horizon. Otherwise its detection window closed first, and
		// it is not evaluable (left out), not a no-relapse.
		t, ev, ok := relapseTime(e, L)
		switch {
		case e.cohort && e.relapse.Valid && !e.relapse.Bool && e.dropout && e.los < float64(p.HorizonDays):
			if p.MissingPolicy != "positive" {
				return false, false
			}
			relapsed = true
		case !ok:
			return false, false
		case ev:
			relapsed = t < float64(p.HorizonDays)
		case t+7 < float64(p.HorizonDays):
			notEvaluable[i] = true
			return false, false
		}
		return relapsed, true
	}
	// evaluable says why episodes were left out as not evaluable, if any were.
	evaluable := func() string {
		if len(notEvaluable) == 0 {
			return ""
		}
		return fmt.Sprintf("; %d episodes without relapse were left out as not evaluable (a relapse before day %d could no longer have been seen when they ended): "+
			"choose a shorter horizon_days, or read landmark_cox_relapse, which censors them", len(notEvaluable), p.HorizonDays)
	}
	fd := design(eps, func(i int) bool { _, ok := outcome(i, eps[i]); return ok }, p.Covariates)
	var y []bool
	var x [][]float64
	for i, e := range eps {
		relapsed, ok := outcome(i, e)
		if !ok || !fd.keep[i] {
			continue
		}
		y, x = append(y, relapsed), append(x, fd.row(e.dose, i))
	}
	logDef := fmt.Sprintf("Logistic regression. Cohort: the landmark cohort (day %d) admitted at least %d days before the cutoff and not relapsed before day %d. "+
		"Outcome: relapse (%s, missing screens %s%s) while in treatment up to day %d; a dropout before then without relapse counts as relapse when missing screens count as positive "+
		"and is left out otherwise; any other episode without relapse whose last week a relapse could still have been seen to start (for a run of k weeks, its last observed week - k + 1) "+
		"ends before the last week beginning before day %d is not evaluable and left out, not counted as no relapse. "+
		"Exposure: attended sessions per week in days 0-%d (odds ratio per additional weekly session). Adjusted for: %s.",
		p.LandmarkDays, p.HorizonDays, p.LandmarkDays, p.RelapseDefinition, p.MissingPolicy, windowText(p), p.HorizonDays, p.HorizonDays, p.LandmarkDays-1, adjusted)
	names := append([]string{"landmark_sessions_per_week"}, fd.names...)
	if len(y) == 0 {
		all = append(all, noFitEstimate("landmark_logistic_relapse", logDef, fd.noFit("the landmark cohort followed to the horizon")+evaluable(), 0, fd.excluded))
	} else if fit, err := stats.Logistic(y, x, names); err != nil {
		why := err.Error() + evaluable()
		if len(fd.notes) > 0 {
			why += "; " + strings.Join(fd.notes, "; ")
		}
		all = append(all, noFitEstimate("landmark_logistic_relapse", logDef, why, len(y), fd.excluded))
	} else {
		all = append(all, estimates("landmark_logistic_relapse", logDef, append([]string{"(intercept)"}, names...), fd, fitted{fit.Coef, fit.StdErr, fit.Lower, fit.Upper, fit.P,
			fit.Aliased, fit.Infinite, fit.N, fit.Events, fit.Iterations, fit.Converged, fit.Warning})...)
	}

	// Naive: shown only to compare; people who stay longer attend more sessions.
	naive := stats.CoxData{Names: []string{"sessions_per_week"}}
	for _, e := range eps {
		naive.Start, naive.Stop = append(naive.Start, 0), append(naive.Stop, e.retention+1)
		naive.Event, naive.X = append(naive.Event, e.dropout), append(naive.X, []float64{e.overallDose})
	}
	if len(eps) > 0 {
		all = append(all, coxEstimates("naive_cox_dropout", "NAIVE AND BIASED, for comparison only: Cox model of dropout over the whole episode against attended sessions per week over the whole stay. "+
			"People who stay longer attend more sessions, so this association is partly true by construction (immortal-time bias); use landmark_cox_dropout.", naive,
			design(eps, func(int) bool { return true }, nil))...)
	}
	s.Warnings = modelWarnings(all)
	return writeEstimates(ctx, conn, all)
}

// modelWarnings is one line per model with a warning, the headline model first.
func modelWarnings(es []estimate) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range es {
		if e.warning == "" || seen[e.model] {
			continue
		}
		seen[e.model] = true
		line := e.model + ": " + e.warning
		if e.model == "landmark_cox_dropout" {
			line = e.model + " (the headline model): " + e.warning
		}
		out = append(out, line)
	}
	return out
}

// timeVarying fits the Cox model of dropout with weekly dose as a time-dependent
// covariate in counting-process form.
func timeVarying(ctx context.Context, conn *sql.Conn, p Params, eps []episode, adjusted string) ([]estimate, error) {
	// The fit's rows are the episodes with a week at risk from week 2.
	fd := design(eps, func(i int) bool { return eps[i].retention+1 > 7 }, p.Covariates)
	cols, keep := fd.cols, fd.keep
	// One row per episode with its attended sessions week by week (weeks 1, 2, ...
	// without gaps), each count as one character (code point 48 + count): reading
	// one row per episode-week cost more than the fit.
	rows, err := conn.QueryContext(ctx, `
		SELECT episode_id, string_agg(chr(CAST(48 + attended AS INTEGER)), '' ORDER BY week)
		FROM episode_weeks GROUP BY episode_id ORDER BY episode_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Identical intervals (the same week, attendance, outcome and covariates) are
	// folded into one weighted row as they are read: there are far fewer of them than
	// episode-weeks, and memory stays small at any size.
	type interval struct {
		start, stop, prev float64
		event             bool
		pattern           int // the episode's covariate values, numbered
	}
	patterns := map[string]int{}
	var patternRows [][]float64
	folded := map[interval]int{}
	d := stats.CoxData{Names: append([]string{"previous_week_sessions"}, fd.names...)}
	var key []byte
	next := 0
	for rows.Next() {
		var id, weeks string
		if err := rows.Scan(&id, &weeks); err != nil {
			return nil, err
		}
		// Both are in episode_id order (loadEpisodes sorts too): walk them together.
		for next < len(eps) && eps[next].id < id {
			next++
		}
		if next == len(eps) || eps[next].id != id || !keep[next] {
			continue
		}
		i := next
		key = key[:0]
		for _, c := range cols {
			key = binary.LittleEndian.AppendUint64(key, math.Float64bits(c[i]))
		}
		pattern, ok := patterns[string(key)]
		if !ok {
			pattern = len(patternRows)
			patterns[string(key)] = pattern
			row := make([]float64, len(cols))
			for j, c := range cols {
				row[j] = c[i]
			}
			patternRows = append(patternRows, row)
		}
		e := eps[i]
		end := e.retention + 1
		week := 0
		prev := 0.0
		for _, c := range weeks {
			week++
			// Week w (from 2) is at risk from day 7(w-1) while it is before the end
			// of retention; its exposure is the week before's attendance.
			start, stop := float64(7*(week-1)), math.Min(float64(7*week), end)
			if week >= 2 && start < end && stop > start {
				k := interval{start, stop, prev, e.dropout && stop == end, pattern}
				if at, ok := folded[k]; ok {
					d.W[at]++
				} else {
					folded[k] = len(d.W)
					d.Start, d.Stop, d.Event = append(d.Start, start), append(d.Stop, stop), append(d.Event, k.event)
					d.X = append(d.X, append([]float64{prev}, patternRows[pattern]...))
					d.W = append(d.W, 1)
				}
			}
			prev = float64(c - 48)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	def := "Cox model with a time-varying covariate (counting process, one interval per treatment week from week 2, Efron ties). " +
		"Outcome: dropout, in days from admission. Exposure: sessions attended in the previous week (hazard ratio per additional session). Adjusted for: " + adjusted + "."
	if len(d.Stop) == 0 {
		why := "no episode-weeks to fit"
		if fd.rows > 0 {
			why = fd.noFit("the episodes with a week at risk")
		}
		return []estimate{noFitEstimate("time_varying_cox_dropout", def, why, 0, fd.excluded)}, nil
	}
	return coxEstimates("time_varying_cox_dropout", def, d, fd), nil
}
