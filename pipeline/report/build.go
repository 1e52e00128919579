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
	"sort"
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
	// Partial says, for a quarter the data end in, that it is partial and what it is
	// compared with; empty for a whole quarter.
	Partial string
}

// dataQuarters returns the first and the last quarter with data (kpis of all
// programs).
func dataQuarters(ctx context.Context, db querier) (first, last string, err error) {
	var f, l sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT min(period), max(period) FROM kpis WHERE program_id = 'ALL'`).Scan(&f, &l); err != nil {
		return "", "", fmt.Errorf("read the periods of the data: %w", err)
	}
	if !f.Valid {
		return "", "", fmt.Errorf("the database has no quarters with data: load exports with etl first")
	}
	return f.String, l.String, nil
}

// findProgram finds a program by its id, without regard to case when no id matches
// exactly, and returns its id and name.
func findProgram(ctx context.Context, db querier, id string) (string, string, error) {
	rows, err := db.QueryContext(ctx, `SELECT program_id, name FROM programs
		WHERE lower(program_id) = lower(trim(?)) ORDER BY program_id = trim(?) DESC, program_id`, id, id)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	if rows.Next() {
		var pid, name string
		if err := rows.Scan(&pid, &name); err != nil {
			return "", "", err
		}
		return pid, name, nil
	}
	if err := rows.Err(); err != nil {
		return "", "", err
	}
	ids, err := programIDs(ctx, db)
	if err != nil {
		return "", "", err
	}
	return "", "", fmt.Errorf("program %q is not in the database, whose programs are %s (report programs lists them with their names)", id, strings.Join(ids, ", "))
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
	// Sections is "all" (or empty): the board's pages and the appendix; or "board":
	// the board's pages alone, without methods, models and data quality.
	Sections string
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

// judge says whether a target is met, judged on the 95% interval rather than the
// point: "yes" when the whole interval is on the good side of the target, "no" when it
// is wholly on the other, "unclear" when the target lies within it (too few episodes to
// tell). A count (no interval) is judged on its value.
func judge(value float64, lower, upper any, target float64, higher bool) string {
	lo, lok := number(lower)
	hi, hok := number(upper)
	if !lok || !hok {
		lo, hi = value, value
	}
	if !higher {
		lo, hi, target = -hi, -lo, -target
	}
	switch {
	case lo >= target:
		return "yes"
	case hi < target:
		return "no"
	}
	return "unclear"
}

// Measure is a row of the accreditors' Measures sheet.
type Measure struct {
	Measure, Definition       string
	Numerator, Denominator    any
	Rate, Lower, Upper, Prior any
	Target                    any
	Met                       string
	// Hidden marks the rate and its interval as not shown; NumeratorHidden and
	// DenominatorHidden the counts, PriorHidden the prior period's rate.
	Hidden, NumeratorHidden, DenominatorHidden bool
	PriorHidden                                bool
	// Network is the same measure for all programs, beside a single program's own
	// (nil in the network's report): for an external audience the figure the
	// network's report releases, so that it discloses nothing new. NetworkHidden
	// marks it as not shown.
	Network       any
	NetworkHidden bool
}

// Manifest says what a report was made from.
type Manifest struct {
	Version  string `json:"version"`
	DataAsOf string `json:"data_as_of"`
	Period   string `json:"period"`
	Prior    string `json:"prior_period"`
	Program  string `json:"program"`
	// ProgramName is the program's name, or "All programs".
	ProgramName string `json:"program_name"`
	// PlannedDays is a single program's planned length in days (planned_weeks x 7),
	// or for all programs the longest any plans; 0 when the export does not give
	// every program's plan.
	PlannedDays int               `json:"planned_days,omitempty"`
	Audience    string            `json:"audience"`
	Suppressed  int               `json:"cells_suppressed"`
	Parameters  map[string]string `json:"parameters"`
	Ledger      []LedgerFile      `json:"ledger"`
	Targets     string            `json:"targets,omitempty"`
	// Disclosure is the disclosure-control rule of an external report, in words.
	Disclosure string `json:"disclosure_control,omitempty"`
	// Rounding names the rounding of released counts ("midpoint6"), empty if none.
	Rounding string `json:"rounding,omitempty"`
	// Partial says that the period is a partial quarter and what it is compared with.
	Partial string `json:"partial_period,omitempty"`
	// Cutoff is the data cutoff of the models.
	Cutoff string `json:"data_cutoff"`
	// Sections is "all", or "board" when the appendix was left out.
	Sections string `json:"sections"`
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
	// Summary is the report in a few sentences: what it covers, what changed and
	// how the targets stand, from the figures the report shows.
	Summary []string
}

// summarize writes the report's summary from its measures (released already for an
// external audience). A change against the prior period is called a rise or a fall
// only when the prior rate lies outside this period's 95% interval.
func (rep *Report) summarize() {
	m := rep.Manifest
	cover := fmt.Sprintf("This report covers %s, %s", m.ProgramName, m.Period)
	if m.Partial != "" {
		cover += " (" + m.Partial + ")"
	} else {
		cover += fmt.Sprintf(", compared with %s", m.Prior)
	}
	cover += fmt.Sprintf(", with data to %s. It is for an %s audience", m.Cutoff, m.Audience)
	if m.Audience == "external" {
		cover += ": counts are rounded and small ones are not shown (see the foot of the report)."
	} else {
		cover += " and is not for release outside the organization."
	}
	if m.Sections == "board" {
		cover += " These are the board's pages only: the appendix (methods, models, retention curves, data quality) is left out, and the full report (--sections all) has it."
	}
	rep.Summary = append(rep.Summary, cover)
	for _, x := range rep.Measures {
		if n, ok := number(x.Numerator); ok && x.Measure == "census" && !x.NumeratorHidden && n < smallN {
			rep.Summary = append(rep.Summary, fmt.Sprintf("Only %.0f episodes were in care in this period: a rate over so few moves a lot with one episode, so read the intervals, not the points. "+
				"report programs lists the periods with data (report --period).", n))
		}
	}
	pct := func(v any) string { f, _ := number(v); return fmt.Sprintf("%.1f%%", 100*f) }
	var better, worse, same, met, missed, unclear []string
	for _, x := range rep.Measures {
		term, _, ok := lookup(x.Measure)
		if !ok || x.Hidden || x.Rate == nil || isCount(x.Measure) {
			continue
		}
		lo, lok := number(x.Lower)
		hi, hok := number(x.Upper)
		prior, pok := number(x.Prior)
		if lok && hok && pok && !x.PriorHidden {
			text := fmt.Sprintf("%s %s (prior %s)", lowerFirst(term.Label), pct(x.Rate), pct(x.Prior))
			switch {
			case prior < lo == term.Higher && (prior < lo || prior > hi):
				better = append(better, text)
			case prior < lo || prior > hi:
				worse = append(worse, text)
			default:
				same = append(same, lowerFirst(term.Label))
			}
		}
		switch x.Met {
		case "yes":
			met = append(met, lowerFirst(term.Label))
		case "no":
			missed = append(missed, lowerFirst(term.Label))
		case "unclear":
			unclear = append(unclear, lowerFirst(term.Label))
		}
	}
	list := func(xs []string) string {
		if len(xs) <= 1 {
			return strings.Join(xs, "")
		}
		return strings.Join(xs[:len(xs)-1], "; ") + " and " + xs[len(xs)-1]
	}
	if len(better) > 0 {
		rep.Summary = append(rep.Summary, "Better than the prior period, beyond chance: "+list(better)+".")
	}
	if len(worse) > 0 {
		rep.Summary = append(rep.Summary, "Worse than the prior period, beyond chance: "+list(worse)+".")
	}
	switch {
	case len(same) > 6:
		// A long list of what did not change buries what did.
		others := ""
		if len(better)+len(worse) > 0 {
			others = "other "
		}
		rep.Summary = append(rep.Summary, fmt.Sprintf("No change that chance would not explain in the %s%d measures with a prior period (the Measures sheet lists them).", others, len(same)))
	case len(same) > 0:
		rep.Summary = append(rep.Summary, "No change that chance would not explain: "+list(same)+".")
	}
	if len(met)+len(missed)+len(unclear) > 0 {
		var parts []string
		for _, g := range []struct {
			what  string
			terms []string
		}{{"met", met}, {"not met", missed}, {"too few episodes to tell", unclear}} {
			if len(g.terms) > 0 {
				parts = append(parts, g.what+": "+list(g.terms))
			}
		}
		rep.Summary = append(rep.Summary, "Targets, judged on the 95% interval: "+strings.Join(parts, "; ")+".")
	} else {
		rep.Summary = append(rep.Summary, "No targets were given (report --targets FILE), so none is judged.")
	}
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
	if opt.Sections == "" {
		opt.Sections = "all"
	}
	if opt.Sections != "all" && opt.Sections != "board" {
		return nil, fmt.Errorf("sections %q: use all (the board's pages and the appendix) or board (without the appendix)", opt.Sections)
	}
	var cutoff, asOf sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT (SELECT value FROM analysis_parameters WHERE name = 'cutoff'),
		-- A database of results built from an export (etl models --engine spark) has
		-- no loads of its own: its data are as of its model build.
		strftime(coalesce((SELECT max(finished_at) FROM load_runs), (SELECT max(built_at) FROM model_builds)), '%Y-%m-%dT%H:%M:%SZ')`).Scan(&cutoff, &asOf); err != nil {
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
		cut, _ := time.Parse(time.DateOnly, cutoff.String)
		if p.Label == "" {
			p.Label = quarterOf(cut)
		}
		p.Label = strings.ToUpper(strings.TrimSpace(p.Label))
		if !quarterRe.MatchString(p.Label) {
			return nil, fmt.Errorf("period %q: give a quarter such as 2026Q3", opt.Period)
		}
		first, last, err := dataQuarters(ctx, db)
		if err != nil {
			return nil, err
		}
		if p.Label < first || p.Label > last {
			return nil, fmt.Errorf("period %s is outside the data, which covers %s to %s (report programs lists the periods)", p.Label, first, last)
		}
		p.Prior = priorQuarter(p.Label)
		p.From, p.To = quarterDates(p.Label)
		p.PriorFrom, p.PriorTo = quarterDates(p.Prior)
		if cut.Before(p.To) {
			// A partial quarter (the data end before it does) is compared with the
			// same days of the prior quarter.
			days := int(cut.Sub(p.From).Hours() / 24)
			p.To, p.PriorTo = cut, p.PriorFrom.AddDate(0, 0, days)
			p.Partial = fmt.Sprintf("a partial quarter: data to %s, compared with %s to %s", cut.Format(time.DateOnly),
				p.PriorFrom.Format(time.DateOnly), p.PriorTo.Format(time.DateOnly))
		}
	}
	p.LastQuarter = quarterOf(p.To)
	programName, plannedDays := "All programs", 0
	if p.Program == "" {
		p.Program = "ALL"
		// The longest any program plans, when every program gives its plan.
		var weeks sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT CASE WHEN count(*) = count(planned_weeks) THEN max(planned_weeks) END FROM programs`).Scan(&weeks); err != nil {
			return nil, err
		}
		plannedDays = int(weeks.Int64) * 7
	} else {
		var err error
		if p.Program, programName, err = findProgram(ctx, db, p.Program); err != nil {
			return nil, err
		}
		var weeks sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT planned_weeks FROM programs WHERE program_id = ?`, p.Program).Scan(&weeks); err != nil {
			return nil, err
		}
		plannedDays = int(weeks.Int64) * 7
	}
	if err := windowMeasures(ctx, db, p); err != nil {
		return nil, err
	}
	sections, err := LoadSections(ctx, dashboards.FS, db)
	if err != nil {
		return nil, err
	}
	rep := &Report{Manifest: Manifest{Version: pipeline.Version, DataAsOf: asOf.String, Period: p.Label, Prior: p.Prior,
		Program: p.Program, ProgramName: programName, Audience: opt.Audience, Parameters: map[string]string{}, Targets: opt.Targets,
		Partial: p.Partial, Cutoff: cutoff.String, PlannedDays: plannedDays, Sections: opt.Sections}}
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
		if (s.InternalOnly && opt.Audience == "external") || (s.AllProgramsOnly && p.Program != "ALL") ||
			(s.Part == "appendix" && opt.Sections == "board") {
			continue
		}
		res, n, err := runReleased(ctx, db, s, p, programs, pol)
		if err != nil {
			return nil, fmt.Errorf("dashboards/%s: %w", s.File, err)
		}
		rep.Manifest.Suppressed += n
		inWords(&res)
		rep.Sections = append(rep.Sections, res)
	}
	if err := rep.measures(ctx, db, p, opt, programs, pol); err != nil {
		return nil, err
	}
	if p.Program != "ALL" {
		rep.networkColumn()
	}
	if rep.Dictionary, err = query.Describe(ctx, db); err != nil {
		return nil, err
	}
	if err := rep.cohortFlow(ctx, db, pol); err != nil {
		return nil, err
	}
	rep.summarize()
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

// inWords orders a section's rows by the vocabulary's reading order of its first
// column that names measures or models (stably: the SQL's order stands within one)
// and shows the names in plain words.
func inWords(res *Result) {
	col := slices.IndexFunc(res.Columns, func(c Column) bool { return c.Vocabulary != "" })
	if col < 0 {
		return
	}
	terms := vocabularyOf(res.Columns[col].Vocabulary)
	order := make([]int, len(res.Rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return rank(terms, fmt.Sprint(res.Rows[order[a]][col])) < rank(terms, fmt.Sprint(res.Rows[order[b]][col]))
	})
	rows, hidden := make([][]any, len(order)), make([][]bool, len(order))
	for k, i := range order {
		rows[k], hidden[k] = res.Rows[i], res.Hidden[i]
	}
	res.Rows, res.Hidden = rows, hidden
	for j, c := range res.Columns {
		if c.Vocabulary == "" {
			continue
		}
		for i := range res.Rows {
			if v, ok := res.Rows[i][j].(string); ok {
				res.Rows[i][j] = labelIn(vocabularyOf(c.Vocabulary), v)
			}
		}
	}
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
			return "all" + byKey(res, i, s.Suppress.Total.By), fmt.Sprint(res.Rows[i][totalCol]) == s.Suppress.Total.Value
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

// byKey is a row's values of the named columns (Section.Suppress.Total.By).
func byKey(res Result, row int, by []string) string {
	var key []string
	for _, b := range by {
		if j := slices.IndexFunc(res.Columns, func(c Column) bool { return c.Name == b }); j >= 0 {
			key = append(key, fmt.Sprint(res.Rows[row][j]))
		}
	}
	return strings.Join(key, "\x00")
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
	by := res.Suppress.Total.By
	for i, r := range res.Rows {
		row := suppress.Row{}
		row.Group, row.Total = group(i)
		if row.Total && len(by) > 0 {
			// The same total repeated for each grouping (Section.Suppress.Total.By).
			row.Link = "total" + byKey(*res, i, by[:len(by)-1])
		}
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
	t, _, ok := lookup(measure)
	return ok && t.Unit == "episodes"
}

// isDays reports a measure in days (a median length of stay), neither a count nor a share.
func isDays(measure string) bool {
	t, _, ok := lookup(measure)
	return ok && t.Unit == "days"
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
		if m.Target == nil || math.IsNaN(*m.Target) || *m.Target < 0 || (*m.Target > 1 && !isCount(name) && !isDays(name)) {
			return fmt.Errorf("%s: %s.%s.target: give the target as a share from 0 to 1 (0.5 for 50%%), a count of episodes, or days for the length of stay", path, where, name)
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

// measuresSection is the Measures sheet as a section, so that it is released as the
// report's sections are.
func measuresSection() Section {
	return Section{File: "measures", Sheet: "Measures", SQL: `
		SELECT measure, k.numerator, k.denominator, k.rate, k.lower, k.upper,
		       p.numerator AS prior_numerator, p.denominator AS prior_denominator, p.rate AS prior_rate,
		       k.median_days, p.median_days AS prior_median_days
		FROM (SELECT * FROM period_kpis WHERE "window" = 'current' AND program_id = $program) k
		FULL JOIN (SELECT * FROM period_kpis WHERE "window" = 'prior' AND program_id = $program) p USING (measure)
		ORDER BY measure`,
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
			{Name: "median_days", Kind: "rate", From: []string{"denominator", "denominator"}, Derive: suppress.Mean},
			{Name: "prior_median_days", Kind: "rate", From: []string{"prior_denominator", "prior_denominator"}, Derive: suppress.Mean},
		}}
}

// figureColumns are the columns of a row of measuresSection that hold a measure's
// figure and its prior period's: the rate, a count's numerator, or a length of stay's
// median days.
func figureColumns(measure string) (at, prior int) {
	switch {
	case isCount(measure):
		return 1, 6
	case isDays(measure):
		return 9, 10
	}
	return 3, 8
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
	// A single program's measures have the network's beside them: the all-programs
	// rows of the same joint release (runReleased), as the network's report shows them.
	type figure struct {
		v      any
		hidden bool
	}
	network := map[string]figure{}
	if p.Program != "ALL" {
		q := p
		q.Program = "ALL"
		all, _, err := runReleased(ctx, db, measuresSection(), q, programs, pol)
		if err != nil {
			return fmt.Errorf("measures of the network: %w", err)
		}
		for i, r := range all.Rows {
			at, _ := figureColumns(fmt.Sprint(r[0]))
			network[fmt.Sprint(r[0])] = figure{r[at], all.Hidden[i][at]}
		}
	}
	defs := definitions()
	for i, r := range res.Rows {
		h := res.Hidden[i]
		m := Measure{Measure: fmt.Sprint(r[0]), Numerator: r[1], Denominator: r[2], Rate: r[3], Lower: r[4], Upper: r[5], Prior: r[8],
			Hidden: h[3] || h[4] || h[5], NumeratorHidden: h[1], DenominatorHidden: h[2], PriorHidden: h[8]}
		at, prior := figureColumns(m.Measure)
		m.Prior, m.PriorHidden = r[prior], h[prior]
		if isDays(m.Measure) {
			// A median in days: it takes the place of the rate, and is hidden with its count.
			m.Rate, m.Hidden = r[at], h[at]
		}
		m.Definition = defs[m.Measure]
		if f, ok := network[m.Measure]; ok {
			m.Network, m.NetworkHidden = f.v, f.hidden
		}
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
			if r, rok := number(value); rok && !m.Hidden && !m.NumeratorHidden {
				m.Met = judge(r, m.Lower, m.Upper, goal, t.Direction != "lower")
			}
		}
		rep.Measures = append(rep.Measures, m)
	}
	terms := vocabulary()
	sort.SliceStable(rep.Measures, func(a, b int) bool {
		return rank(terms, rep.Measures[a].Measure) < rank(terms, rep.Measures[b].Measure)
	})
	return nil
}

// networkColumn adds the network's figure of each measure (Measure.Network, released
// already) as the last column of a single program's key measures, so that the page
// and the workbook show the same cells from one result.
func (rep *Report) networkColumn() {
	network := map[string]Measure{}
	for _, m := range rep.Measures {
		network[label(m.Measure)] = m
	}
	for k := range rep.Sections {
		r := &rep.Sections[k]
		if r.Chart.Type != "kpi_tiles" {
			continue
		}
		at := slices.IndexFunc(r.Columns, func(c Column) bool { return c.Name == r.Chart.Label })
		if at < 0 {
			continue
		}
		// A count (census, admissions) and a rate go in columns of their own
		// formats: 82 episodes, not 8200%.
		r.Columns = append(slices.Clone(r.Columns), Column{Name: "network", Label: "Network (all programs)", Kind: "rate", Format: "percent"},
			Column{Name: "network_count", Label: "Network (all programs), episodes", Kind: "count"})
		for i := range r.Rows {
			m := network[fmt.Sprint(r.Rows[i][at])]
			if isCount(m.Measure) {
				r.Rows[i] = append(r.Rows[i], nil, m.Network)
				r.Hidden[i] = append(r.Hidden[i], false, m.NetworkHidden)
			} else {
				r.Rows[i] = append(r.Rows[i], m.Network, nil)
				r.Hidden[i] = append(r.Hidden[i], m.NetworkHidden, false)
			}
		}
	}
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

// ProgramIDs lists the programs of the database, in order of their ids.
func ProgramIDs(ctx context.Context, db *store.DB) ([]string, error) {
	return programIDs(ctx, db)
}
