package report

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iop-outcomes/outcomes/dashboards"
	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/query"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/suppress"
)

// Period is what a report covers: a window of dates, the window of the same length
// before it, and a program.
type Period struct {
	Label, Prior       string // 2026Q3 and 2026Q2, or the windows' dates
	From, To           time.Time
	PriorFrom, PriorTo time.Time
	LastQuarter        string // the quarter of To, where the trends end
	Program            string // a program_id, or ALL
}

// Options say which report to build.
type Options struct {
	// Period is a quarter such as 2026Q3; empty (and no From and To) means the
	// quarter of the data cutoff.
	Period string
	// From and To (YYYY-MM-DD) give any other window instead of a quarter.
	From, To string
	// Program is a program_id; empty means all programs.
	Program string
	// Audience is internal or external; external suppresses small counts.
	Audience string
	// Targets is a targets file (YAML); empty means no targets.
	Targets string
	// policy replaces suppress.External for an external audience (tests switch off
	// one part of it to show what it protects against).
	policy *suppress.Policy
}

// Result is a section with its rows.
type Result struct {
	Section
	Rows   [][]any
	Hidden [][]bool
}

// Measure is a row of the accreditors' Measures sheet.
type Measure struct {
	Measure, Definition       string
	Numerator, Denominator    any
	Rate, Lower, Upper, Prior any
	Target                    any
	Met                       string
	Hidden                    bool
	PriorHidden               bool
}

// Manifest says what a report was made from.
type Manifest struct {
	Version  string `json:"version"`
	DataAsOf string `json:"data_as_of"`
	Period   string `json:"period"`
	Prior    string `json:"prior_period"`
	Program  string `json:"program"`
	// ProgramName is the program's name, or "All programs".
	ProgramName string            `json:"program_name"`
	Audience    string            `json:"audience"`
	Suppressed  int               `json:"cells_suppressed"`
	Parameters  map[string]string `json:"parameters"`
	Ledger      []LedgerFile      `json:"ledger"`
	Targets     string            `json:"targets,omitempty"`
	// Disclosure is the disclosure-control rule of an external report, in words.
	Disclosure string `json:"disclosure_control,omitempty"`
	// Rounding names the rounding of released counts ("midpoint6"), empty if none.
	Rounding string `json:"rounding,omitempty"`
	// Files holds the SHA-256 of each other file of the report's set (report.html,
	// report.xlsx). The manifest is written last, so a set whose files do not match
	// it was not written whole.
	Files map[string]string `json:"files,omitempty"`
}

// LedgerFile is one loaded export file, by its hash.
type LedgerFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows_read,omitempty"`
}

// Step is one step of the cohort flow: how many episodes are left.
type Step struct {
	Step   string
	N      int64
	Hidden bool
}

// Report is everything the renderers draw, suppressed already when external.
type Report struct {
	Manifest   Manifest
	Sections   []Result
	Measures   []Measure
	CohortFlow []Step
	Dictionary map[string]query.TableDoc
}

var quarterRe = regexp.MustCompile(`^(\d{4})Q([1-4])$`)

// priorQuarter returns the quarter before q (2026Q1 -> 2025Q4).
func priorQuarter(q string) string {
	m := quarterRe.FindStringSubmatch(q)
	y, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	if n == 1 {
		return fmt.Sprintf("%dQ4", y-1)
	}
	return fmt.Sprintf("%dQ%d", y, n-1)
}

// params binds the parameters a section's SQL may use: $from and $to (the window's
// dates), $last_quarter (the quarter of $to) and $program.
func params(p Period) []any {
	return []any{sql.Named("from", p.From), sql.Named("to", p.To), sql.Named("last_quarter", p.LastQuarter),
		sql.Named("program", p.Program)}
}

// bind keeps the parameters a statement uses.
func bind(stmt string, p Period) []any {
	var out []any
	for _, a := range params(p) {
		if strings.Contains(stmt, "$"+a.(sql.NamedArg).Name) {
			out = append(out, a)
		}
	}
	return out
}

// Build reads the sections and the model tables and assembles the report.
func Build(ctx context.Context, db *store.DB, opt Options) (*Report, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return build(ctx, conn, opt)
}

func build(ctx context.Context, db querier, opt Options) (*Report, error) {
	if opt.Audience == "" {
		opt.Audience = "internal"
	}
	if opt.Audience != "internal" && opt.Audience != "external" {
		return nil, fmt.Errorf("audience %q: use internal or external", opt.Audience)
	}
	var cutoff, asOf sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT (SELECT value FROM analysis_parameters WHERE name = 'cutoff'),
		(SELECT strftime(max(finished_at), '%Y-%m-%dT%H:%M:%SZ') FROM load_runs)`).Scan(&cutoff, &asOf); err != nil {
		return nil, fmt.Errorf("read the models: %w; load exports with etl first (it builds the models)", err)
	}
	if !cutoff.Valid {
		return nil, fmt.Errorf("the database has no models yet: run etl models")
	}
	p := Period{Label: opt.Period, Program: opt.Program}
	switch {
	case opt.From != "" || opt.To != "":
		if opt.Audience == "external" {
			return nil, fmt.Errorf("a report for a window of dates (--from, --to) is for an internal audience only: windows a day apart could be set side by side to single out a few people; an external report covers a whole quarter (--period)")
		}
		if opt.Period != "" {
			return nil, fmt.Errorf("give either a quarter (--period) or a window (--from and --to), not both")
		}
		from, err1 := time.Parse(time.DateOnly, opt.From)
		to, err2 := time.Parse(time.DateOnly, opt.To)
		if err1 != nil || err2 != nil || to.Before(from) {
			return nil, fmt.Errorf("window %q to %q: give --from and --to as YYYY-MM-DD, from not after to", opt.From, opt.To)
		}
		days := int(to.Sub(from).Hours()/24) + 1
		p.From, p.To = from, to
		p.PriorTo = from.AddDate(0, 0, -1)
		p.PriorFrom = p.PriorTo.AddDate(0, 0, -(days - 1))
		p.Label = from.Format(time.DateOnly) + " to " + to.Format(time.DateOnly)
		p.Prior = p.PriorFrom.Format(time.DateOnly) + " to " + p.PriorTo.Format(time.DateOnly)
	default:
		if p.Label == "" {
			t, _ := time.Parse(time.DateOnly, cutoff.String)
			p.Label = quarterOf(t)
		}
		if !quarterRe.MatchString(p.Label) {
			return nil, fmt.Errorf("period %q: give a quarter such as 2026Q3", p.Label)
		}
		p.Prior = priorQuarter(p.Label)
		p.From, p.To = quarterDates(p.Label)
		p.PriorFrom, p.PriorTo = quarterDates(p.Prior)
	}
	p.LastQuarter = quarterOf(p.To)
	programName := "All programs"
	if p.Program == "" {
		p.Program = "ALL"
	} else if err := db.QueryRowContext(ctx, `SELECT name FROM programs WHERE program_id = ?`, p.Program).Scan(&programName); err != nil {
		return nil, fmt.Errorf("program %q is not in the database; see SELECT program_id, name FROM programs", p.Program)
	}
	if err := windowMeasures(ctx, db, p); err != nil {
		return nil, err
	}
	sections, err := LoadSections(ctx, dashboards.FS, db)
	if err != nil {
		return nil, err
	}
	rep := &Report{Manifest: Manifest{Version: pipeline.Version, DataAsOf: asOf.String, Period: p.Label, Prior: p.Prior,
		Program: p.Program, ProgramName: programName, Audience: opt.Audience, Parameters: map[string]string{}, Targets: opt.Targets}}
	var pol *suppress.Policy
	if opt.Audience == "external" {
		pol = &suppress.External
		if opt.policy != nil {
			pol = opt.policy
		}
		rep.Manifest.Disclosure = pol.Rule()
		if pol.Round {
			rep.Manifest.Rounding = "midpoint6"
		}
	}
	var programs []string
	if pol != nil {
		if programs, err = programIDs(ctx, db); err != nil {
			return nil, err
		}
	}
	for _, s := range sections {
		if (s.InternalOnly && opt.Audience == "external") || (s.AllProgramsOnly && p.Program != "ALL") {
			continue
		}
		res, n, err := runReleased(ctx, db, s, p, programs, pol)
		if err != nil {
			return nil, fmt.Errorf("dashboards/%s: %w", s.File, err)
		}
		rep.Manifest.Suppressed += n
		rep.Sections = append(rep.Sections, res)
	}
	if err := rep.measures(ctx, db, p, opt, programs, pol); err != nil {
		return nil, err
	}
	if rep.Dictionary, err = query.Describe(ctx, db); err != nil {
		return nil, err
	}
	if err := rep.cohortFlow(ctx, db, pol); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT name, value FROM analysis_parameters ORDER BY name`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		rep.Manifest.Parameters[k] = v
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT path, sha256, rows_read FROM load_files ORDER BY file_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var f LedgerFile
		rows.Scan(&f.Path, &f.SHA256, &f.Rows)
		if opt.Audience == "external" {
			f.Rows = 0 // row counts of files are counts of people's records
		}
		rep.Manifest.Ledger = append(rep.Manifest.Ledger, f)
	}
	return rep, rows.Err()
}

func run(ctx context.Context, db querier, s Section, p Period) (Result, error) {
	res := Result{Section: s}
	rows, err := db.QueryContext(ctx, s.SQL, bind(s.SQL, p)...)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(s.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, vals)
		res.Hidden = append(res.Hidden, make([]bool, len(vals)))
	}
	return res, rows.Err()
}

// number reads a value as a float; ok is false for NULL and text.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case int:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	return 0, false
}

// programIDs lists the programs of the database.
func programIDs(ctx context.Context, db querier) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT program_id FROM programs ORDER BY program_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// runReleased runs a section and, for an external audience (pol not nil), releases it
// through pipeline/suppress; it returns the number of cells hidden. A section whose
// SQL depends on the program is run for every program and for all of them, and the
// runs are released as one table (a row's group is its labels, the all-programs row
// its total): every external report of one database, the network's and each
// program's, then shows and hides the same cells with the same rounded values, so
// that no report can be subtracted from another to give back what one of them hid.
// The report keeps the rows of its own program.
func runReleased(ctx context.Context, db querier, s Section, p Period, programs []string, pol *suppress.Policy) (Result, int, error) {
	if pol == nil {
		res, err := run(ctx, db, s, p)
		return res, 0, err
	}
	if !strings.Contains(s.SQL, "$program") {
		res, err := run(ctx, db, s, p)
		if err != nil {
			return res, 0, err
		}
		totalCol := -1
		for i, c := range res.Columns {
			if c.Name == s.Suppress.Total.Column {
				totalCol = i
			}
		}
		n, err := release(&res, *pol, func(i int) (string, bool) {
			if totalCol < 0 {
				return "", false
			}
			return "all", fmt.Sprint(res.Rows[i][totalCol]) == s.Suppress.Total.Value
		})
		return res, n, err
	}
	joint := Result{Section: s}
	var owner []string
	for _, prog := range append(slices.Clone(programs), "ALL") {
		q := p
		q.Program = prog
		r, err := run(ctx, db, s, q)
		if err != nil {
			return joint, 0, err
		}
		joint.Rows = append(joint.Rows, r.Rows...)
		joint.Hidden = append(joint.Hidden, r.Hidden...)
		for range r.Rows {
			owner = append(owner, prog)
		}
	}
	if _, err := release(&joint, *pol, func(i int) (string, bool) {
		var key []string
		for j, c := range s.Columns {
			if c.Kind == "label" {
				key = append(key, fmt.Sprint(joint.Rows[i][j]))
			}
		}
		return strings.Join(key, "\x00"), owner[i] == "ALL"
	}); err != nil {
		return joint, 0, err
	}
	res := Result{Section: s}
	n := 0
	for i := range joint.Rows {
		if owner[i] != p.Program {
			continue
		}
		res.Rows = append(res.Rows, joint.Rows[i])
		res.Hidden = append(res.Hidden, joint.Hidden[i])
		for _, h := range joint.Hidden[i] {
			if h {
				n++
			}
		}
	}
	return res, n, nil
}

// release applies the disclosure control of pipeline/suppress to a result in place:
// counts are replaced by their released (rounded) values, rates by the values
// computed from those, and hidden cells are marked. group gives a row's group and
// whether it is the group's total.
func release(res *Result, pol suppress.Policy, group func(row int) (string, bool)) (int, error) {
	t := &suppress.Table{}
	for _, c := range res.Columns {
		col := suppress.Column{Name: c.Name, Kind: suppress.Other, Derive: c.Derive, WithTotal: c.WithTotal}
		switch c.Kind {
		case "count":
			col.Kind = suppress.Count
		case "rate":
			col.Kind = suppress.Rate
			col.From = [2]string{c.From[0], c.From[1]}
		case "label":
			col.Kind = suppress.Label
		}
		t.Columns = append(t.Columns, col)
	}
	for i, r := range res.Rows {
		row := suppress.Row{}
		row.Group, row.Total = group(i)
		for _, v := range r {
			f, ok := number(v)
			row.Cells = append(row.Cells, suppress.Cell{Value: f, Null: !ok})
		}
		t.Rows = append(t.Rows, row)
	}
	n, err := suppress.Apply(t, pol)
	if err != nil {
		return 0, err
	}
	for i, row := range t.Rows {
		for j, c := range row.Cells {
			res.Hidden[i][j] = c.Suppressed
			if !pol.Round {
				continue
			}
			switch col := res.Columns[j]; {
			case col.Kind == "count" && !c.Null:
				res.Rows[i][j] = int64(c.Value)
			case col.Kind == "rate" && c.Null:
				res.Rows[i][j] = nil
			case col.Kind == "rate":
				res.Rows[i][j] = c.Value
			}
		}
	}
	return n, nil
}

// Target is the goal of a measure.
type Target struct {
	Target    *float64 `yaml:"target"`
	Direction string   `yaml:"direction"` // higher (default) or lower is better
}

// isCount reports whether a measure is a count (its target is a number, not a share).
func isCount(measure string) bool {
	return measure == "admissions" || measure == "discharges" || measure == "census"
}

// Targets is the targets file: per measure, and per program over them.
type Targets struct {
	Measures map[string]Target            `yaml:"measures"`
	Programs map[string]map[string]Target `yaml:"programs"`
}

// LoadTargets reads a targets file.
func LoadTargets(path string) (Targets, error) {
	var t Targets
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("%s: %v; the format is in the README", path, err)
	}
	check := func(where, name string, m Target) error {
		if _, ok := definitions()[name]; !ok {
			return fmt.Errorf("%s: %s.%s: not a measure; the measures are listed in the Measures sheet", path, where, name)
		}
		if m.Direction != "" && m.Direction != "higher" && m.Direction != "lower" {
			return fmt.Errorf("%s: %s.%s.direction %q: use higher or lower", path, where, name, m.Direction)
		}
		if m.Target == nil || math.IsNaN(*m.Target) || *m.Target < 0 || (*m.Target > 1 && !isCount(name)) {
			return fmt.Errorf("%s: %s.%s.target: give the target as a share from 0 to 1 (0.5 for 50%%)", path, where, name)
		}
		return nil
	}
	for name, m := range t.Measures {
		if err := check("measures", name, m); err != nil {
			return t, err
		}
	}
	for prog, ms := range t.Programs {
		for name, m := range ms {
			if err := check("programs."+prog, name, m); err != nil {
				return t, err
			}
		}
	}
	return t, nil
}

// definitions are the measure definitions printed for accreditors.
func definitions() map[string]string {
	return map[string]string{
		"admissions":                "Episodes admitted in the quarter.",
		"discharges":                "Episodes discharged in the quarter.",
		"census":                    "Episodes in treatment at any time in the quarter.",
		"completion_rate":           "Episodes discharged as completed / all episodes discharged in the quarter.",
		"retention_30":              "Kaplan-Meier probability of not having dropped out by day 30, episodes admitted in the quarter at least 30 days before the cutoff; completion and transfer censor.",
		"retention_60":              "As retention_30, at day 60.",
		"retention_90":              "As retention_30, at day 90.",
		"attendance_rate":           "Sessions attended / sessions attended, missed or cancelled by the patient, sessions in the quarter.",
		"initiation":                "Episodes with an attended session on days 0-13 / episodes admitted in the quarter at least 14 days before the cutoff (after HEDIS IET).",
		"engagement":                "Episodes with 2 further attended sessions within 34 days of initiation / episodes admitted in the quarter at least 48 days before the cutoff.",
		"relapse_rate":              "Episodes discharged in the quarter that relapsed under the default definition / episodes discharged in the quarter.",
		"readmission_30":            "Episodes discharged in the quarter followed by a new admission within 30 days / episodes discharged in the quarter at least 30 days before the cutoff.",
		"readmission_90":            "As readmission_30, within 90 days.",
		"phq9_reliable_improvement": "Episodes discharged in the quarter whose PHQ-9 fell by 6 points or more from baseline / those with a baseline and a later score.",
		"gad7_reliable_improvement": "Episodes discharged in the quarter whose GAD-7 fell by 4 points or more from baseline / those with a baseline and a later score.",
	}
}

// measuresSection is the Measures sheet as a section, so that it is released as the
// report's sections are.
func measuresSection() Section {
	return Section{File: "measures", Sheet: "Measures", SQL: `
		SELECT k.measure, k.numerator, k.denominator, k.rate, k.lower, k.upper,
		       p.numerator AS prior_numerator, p.denominator AS prior_denominator, p.rate AS prior_rate
		FROM period_kpis k LEFT JOIN period_kpis p ON p.program_id = k.program_id AND p.measure = k.measure AND p."window" = 'prior'
		WHERE k."window" = 'current' AND k.program_id = $program
		ORDER BY k.measure`,
		Columns: []Column{
			{Name: "measure", Kind: "label"},
			{Name: "numerator", Kind: "count"},
			{Name: "denominator", Kind: "count"},
			{Name: "rate", Kind: "rate", From: []string{"numerator", "denominator"}, Derive: suppress.Ratio},
			{Name: "lower", Kind: "rate", From: []string{"numerator", "denominator"}, Derive: suppress.WilsonLower},
			{Name: "upper", Kind: "rate", From: []string{"numerator", "denominator"}, Derive: suppress.WilsonUpper},
			{Name: "prior_numerator", Kind: "count"},
			{Name: "prior_denominator", Kind: "count"},
			{Name: "prior_rate", Kind: "rate", From: []string{"prior_numerator", "prior_denominator"}, Derive: suppress.Ratio},
		}}
}

func (rep *Report) measures(ctx context.Context, db querier, p Period, opt Options, programs []string, pol *suppress.Policy) error {
	var targets Targets
	if opt.Targets != "" {
		var err error
		if targets, err = LoadTargets(opt.Targets); err != nil {
			return err
		}
	}
	res, _, err := runReleased(ctx, db, measuresSection(), p, programs, pol)
	if err != nil {
		return fmt.Errorf("measures: %w", err)
	}
	defs := definitions()
	for i, r := range res.Rows {
		h := res.Hidden[i]
		m := Measure{Measure: fmt.Sprint(r[0]), Numerator: r[1], Denominator: r[2], Rate: r[3], Lower: r[4], Upper: r[5], Prior: r[8],
			Hidden: h[1] || h[2] || h[3], PriorHidden: h[6] || h[7] || h[8]}
		m.Definition = defs[m.Measure]
		t, ok := targets.Measures[m.Measure]
		if pt, pok := targets.Programs[p.Program][m.Measure]; pok {
			t, ok = pt, true
		}
		if ok && t.Target != nil {
			goal := *t.Target
			m.Target = goal
			value := m.Rate
			if isCount(m.Measure) {
				value = m.Numerator
			}
			if r, rok := number(value); rok && !m.Hidden {
				met := r >= goal
				if t.Direction == "lower" {
					met = r <= goal
				}
				m.Met = map[bool]string{true: "yes", false: "no"}[met]
			}
		}
		rep.Measures = append(rep.Measures, m)
	}
	return nil
}

// cohortFlow counts the episodes from those loaded to those in the headline analysis,
// released as one table for an external audience.
func (rep *Report) cohortFlow(ctx context.Context, db querier, pol *suppress.Policy) error {
	steps := []struct{ step, sql string }{
		{"episodes loaded (all programs)", `SELECT count(*) FROM episodes`},
		{"admitted by the cutoff", `SELECT count(*) FROM episode_outcomes`},
		{"admitted at least landmark_days before the cutoff", `SELECT count(*) FROM episode_outcomes
			WHERE admit_date + CAST((SELECT value FROM analysis_parameters WHERE name = 'landmark_days') AS INTEGER)
			      <= CAST((SELECT value FROM analysis_parameters WHERE name = 'cutoff') AS DATE)`},
		{"still in treatment at the landmark (the landmark cohort)", `SELECT count(*) FROM episode_outcomes WHERE in_landmark_cohort`},
		{"in the landmark model of dropout (complete covariates)", `SELECT coalesce(max(n), 0) FROM model_estimates WHERE model = 'landmark_cox_dropout'`},
	}
	flow := Result{Section: Section{Columns: []Column{{Name: "step", Kind: "label"}, {Name: "episodes", Kind: "count"}}}}
	for _, s := range steps {
		var n int64
		if err := db.QueryRowContext(ctx, s.sql).Scan(&n); err != nil {
			return fmt.Errorf("cohort flow: %w", err)
		}
		flow.Rows = append(flow.Rows, []any{s.step, n})
		flow.Hidden = append(flow.Hidden, make([]bool, 2))
	}
	if pol != nil {
		n, err := release(&flow, *pol, func(int) (string, bool) { return "", false })
		if err != nil {
			return fmt.Errorf("cohort flow: %w", err)
		}
		rep.Manifest.Suppressed += n
	}
	for i, r := range flow.Rows {
		rep.CohortFlow = append(rep.CohortFlow, Step{Step: r[0].(string), N: r[1].(int64), Hidden: flow.Hidden[i][1]})
	}
	return nil
}
