package report

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"time"

	"github.com/iop-outcomes/outcomes/dashboards"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/suppress"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// sampleDB loads the sample data with models, with the ledger stamped by a fixed clock
// for the golden files, and opens it read-only.
func sampleDB(t *testing.T) *store.DB {
	t.Helper()
	path := testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(),
		func() time.Time { return time.Date(2026, 10, 2, 8, 30, 0, 0, time.UTC) })
	return testdb.Open(t, path)
}

func TestSectionsLoadAndCheckAgainstTheDatabase(t *testing.T) {
	db := sampleDB(t)
	rep, err := Build(context.Background(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sections := rep.Sections
	entries, _ := os.ReadDir("../../dashboards")
	yamls := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			yamls++
		}
	}
	if len(sections) != yamls {
		t.Errorf("%d sections from %d files", len(sections), yamls)
	}
	if _, err := LoadSections(context.Background(), dashboards.FS, nil); err != nil {
		t.Errorf("the sections do not load without a database: %v", err)
	}
}

// TestWindowReportMatchesQuarterReport checks that a report for a window of dates
// that is a quarter gives the same measures as the report for that quarter (the same
// facts summed the same way), and that another window works.
func TestWindowReportMatchesQuarterReport(t *testing.T) {
	db := sampleDB(t)
	q, err := Build(context.Background(), db, Options{Period: "2026Q2"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := Build(context.Background(), db, Options{From: "2026-04-01", To: "2026-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	// The prior windows differ by a day (2026Q1 has 90 days, 2026Q2 91), so compare
	// the current window only.
	for _, ms := range [][]Measure{q.Measures, w.Measures} {
		for i := range ms {
			ms[i].Prior = nil
		}
	}
	if diff := cmp.Diff(q.Measures, w.Measures); diff != "" {
		t.Errorf("measures of 2026Q2 and of 2026-04-01 to 2026-06-30 differ (-quarter +window):\n%s", diff)
	}
	if w.Manifest.Prior != "2025-12-31 to 2026-03-31" {
		t.Errorf("prior window %q", w.Manifest.Prior)
	}
	var kpi float64
	if err := db.QueryRow(`SELECT numerator FROM kpis WHERE program_id = 'ALL' AND period = '2026Q2' AND measure = 'admissions'`).Scan(&kpi); err != nil {
		t.Fatal(err)
	}
	for _, m := range q.Measures {
		if m.Measure == "admissions" && m.Numerator != kpi {
			t.Errorf("admissions %v in the report, %v in kpis", m.Numerator, kpi)
		}
	}
	odd, err := Build(context.Background(), db, Options{From: "2026-05-15", To: "2026-08-14"})
	if err != nil || len(odd.Measures) < 10 {
		t.Fatalf("a window across quarters: %v (%d measures)", err, len(odd.Measures))
	}
	for _, bad := range []Options{{From: "2026-08-14", To: "2026-05-15"}, {From: "2026-05-15"}, {Period: "2026Q2", From: "2026-05-15", To: "2026-06-01"}} {
		if _, err := Build(context.Background(), db, bad); err == nil {
			t.Errorf("options %+v were accepted", bad)
		}
	}
}

func TestSectionErrorsNameFileAndField(t *testing.T) {
	db := sampleDB(t)
	good := `title: T
sheet: S
part: board
chart: {type: table}
sql: SELECT program_id FROM programs
columns:
  - {name: program_id, label: Program, kind: label}
`
	tests := map[string]string{
		strings.Replace(good, "type: table", "type: pie", 1):                             "chart.type",
		strings.Replace(good, "sheet: S", "sheet: 'a/b'", 1):                             "field sheet",
		strings.Replace(good, "title: T\n", "", 1):                                       "field title",
		strings.Replace(good, "part: board", "part: middle", 1):                          "field part",
		strings.Replace(good, "part: board\n", "", 1):                                    "field part",
		strings.Replace(good, "kind: label", "kind: money", 1):                           "columns[0].kind",
		strings.Replace(good, "FROM programs", "FROM no_such_table", 1):                  "field sql",
		strings.Replace(good, "SELECT program_id", "SELECT program_id, name", 1):         "field sql",
		strings.Replace(good, "chart: {type: table}", "chart: {type: line, x: nope}", 1): "chart.x",
		good + "colour: red\n": "colour",
	}
	for body, want := range tests {
		fsys := fstest.MapFS{"09_bad.yaml": {Data: []byte(body)}}
		_, err := LoadSections(context.Background(), fsys, db)
		if err == nil || !strings.Contains(err.Error(), "dashboards/09_bad.yaml") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v; want one naming the file and %s", body, err, want)
		}
	}
}

// TestExternalReportHidesSmallCounts builds the external report of the sample data
// and checks every section: no count from 1 to 10 shown, and nothing hidden that the
// shown cells give back.
func TestExternalReportHidesSmallCounts(t *testing.T) {
	db := sampleDB(t)
	rep, err := Build(context.Background(), db, Options{Audience: "external"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Manifest.Suppressed == 0 || rep.Manifest.Period != "2026Q3" || len(rep.Manifest.Ledger) != 10 {
		t.Errorf("manifest %+v", rep.Manifest)
	}
	for _, s := range rep.Sections {
		t.Run(s.File, func(t *testing.T) {
			tab := &suppress.Table{}
			for _, c := range s.Columns {
				kind := map[string]suppress.Kind{"count": suppress.Count, "rate": suppress.Rate, "label": suppress.Label}[c.Kind]
				if c.Kind == "number" {
					kind = suppress.Other
				}
				col := suppress.Column{Name: c.Name, Kind: kind}
				if c.Kind == "rate" {
					col.From = [2]string{c.From[0], c.From[1]}
				}
				tab.Columns = append(tab.Columns, col)
			}
			for i, r := range s.Rows {
				row := suppress.Row{}
				if s.Suppress.Total.Column != "" {
					row.Group = "all"
					for j, c := range s.Columns {
						if c.Name == s.Suppress.Total.Column && r[j] == s.Suppress.Total.Value {
							row.Total = true
						}
					}
				}
				for j, v := range r {
					f, ok := number(v)
					row.Cells = append(row.Cells, suppress.Cell{Value: f, Null: !ok, Suppressed: s.Hidden[i][j]})
					if s.Columns[j].Kind == "count" && ok && !s.Hidden[i][j] && f >= 1 && f <= 10 {
						t.Errorf("row %d shows the count %s = %v", i, s.Columns[j].Name, f)
					}
				}
				tab.Rows = append(tab.Rows, row)
			}
			if d := suppress.Derivable(tab); len(d) > 0 {
				t.Errorf("hidden cells can be recomputed: %v", d)
			}
		})
	}
	internal, err := Build(context.Background(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if internal.Manifest.Suppressed != 0 {
		t.Errorf("the internal report suppressed %d cells", internal.Manifest.Suppressed)
	}
}

// TestPeriodsAndProgramsAsPeopleWriteThem: a quarter or a program id in any case is
// found; a quarter outside the data and an unknown program are errors that say what
// there is, never a statement to run.
func TestPeriodsAndProgramsAsPeopleWriteThem(t *testing.T) {
	db := sampleDB(t)
	ctx := context.Background()
	rep, err := Build(ctx, db, Options{Period: "2026q2", Program: "p01"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Manifest.Period != "2026Q2" || rep.Manifest.Program != "P01" || rep.Manifest.Partial != "" {
		t.Errorf("period %q, program %q, partial %q; want 2026Q2, P01 and a whole quarter", rep.Manifest.Period, rep.Manifest.Program, rep.Manifest.Partial)
	}
	for _, tc := range []struct {
		opt  Options
		want []string
	}{
		{Options{Period: "2030Q1"}, []string{"2030Q1 is outside the data", "2025Q1 to 2026Q3"}},
		{Options{Period: "2020Q1"}, []string{"2020Q1 is outside the data"}},
		{Options{Program: "P99"}, []string{`"P99" is not in the database`, "P01, P02"}},
	} {
		_, err := Build(ctx, db, tc.opt)
		if err == nil {
			t.Errorf("%+v: no error", tc.opt)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "SELECT") {
				t.Errorf("%+v: %v; want it to say %q and no SQL", tc.opt, err, w)
			}
		}
	}
}

// TestPartialQuarterIsComparedWithTheSameDays: with the data cut off in the middle of
// a quarter, the report says so and compares it with the same days of the prior
// quarter.
func TestPartialQuarterIsComparedWithTheSameDays(t *testing.T) {
	p := models.DefaultParams()
	p.Cutoff = "2026-08-15"
	db := testdb.Open(t, testdb.Load(t, []string{"../../sample-data/synthetic"}, p, nil))
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rep, err := build(ctx, conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "a partial quarter: data to 2026-08-15, compared with 2026-04-01 to 2026-05-16"
	if rep.Manifest.Period != "2026Q3" || rep.Manifest.Partial != want {
		t.Errorf("period %q, partial %q; want 2026Q3, %q", rep.Manifest.Period, rep.Manifest.Partial, want)
	}
	// The prior window's admissions, summed by the report, against a count of the
	// same days.
	var prior, admissions float64
	if err := conn.QueryRowContext(ctx, `SELECT numerator FROM period_kpis WHERE "window" = 'prior' AND program_id = 'ALL' AND measure = 'admissions'`).Scan(&prior); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM episodes WHERE admit_date BETWEEN '2026-04-01' AND '2026-05-16'`).Scan(&admissions); err != nil {
		t.Fatal(err)
	}
	if prior != admissions || prior == 0 {
		t.Errorf("prior admissions %v; want %v, those of 2026-04-01 to 2026-05-16", prior, admissions)
	}
}

// TestMethodsDocumentCarriesTheVocabulary: docs/methods.md states every measure of the
// vocabulary with the words the reports use.
func TestMethodsDocumentCarriesTheVocabulary(t *testing.T) {
	b, err := os.ReadFile("../../docs/methods.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, term := range vocabulary() {
		row := "| `" + term.Name + "` | " + term.Label + " | " + term.Definition + " |"
		if !strings.Contains(doc, row) {
			t.Errorf("docs/methods.md lacks the row of %s as the vocabulary has it:\n%s", term.Name, row)
		}
	}
}

// TestDoseBandsInTheirNaturalOrder: bands read from the fewest sessions to the most,
// all episodes last, not in the order of their text (<1 after 5+).
func TestDoseBandsInTheirNaturalOrder(t *testing.T) {
	rep, err := Build(context.Background(), sampleDB(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Sections {
		if s.File != "04_dose_response.yaml" && s.File != "03_retention_curves.yaml" {
			continue
		}
		var order []string
		for _, r := range s.Rows {
			if b := r[0].(string); len(order) == 0 || order[len(order)-1] != b {
				order = append(order, b)
			}
		}
		if got := strings.Join(order, " "); got != "<1 1-2 3-4 5+ ALL" && got != "<1 1-2 3-4 5+" {
			t.Errorf("%s: bands in the order %s", s.File, got)
		}
	}
}

// TestTargetsAreJudgedOnTheInterval: a target is met or missed only when the whole
// 95% interval says so; at n = 11 it is usually too early to tell.
func TestTargetsAreJudgedOnTheInterval(t *testing.T) {
	for _, tc := range []struct {
		value, lo, hi, target float64
		higher                bool
		want                  string
	}{
		{0.64, 0.35, 0.85, 0.5, true, "unclear"}, // 7 of 11: above the target, but not beyond chance
		{0.70, 0.55, 0.82, 0.5, true, "yes"},
		{0.30, 0.20, 0.44, 0.5, true, "no"},
		{0.10, 0.05, 0.18, 0.2, false, "yes"},
		{0.25, 0.21, 0.30, 0.2, false, "no"},
	} {
		if got := judge(tc.value, tc.lo, tc.hi, tc.target, tc.higher); got != tc.want {
			t.Errorf("%+v: %s; want %s", tc, got, tc.want)
		}
	}
	if got := judge(45, nil, nil, 40, true); got != "yes" {
		t.Errorf("a count of 45 against 40: %s", got)
	}
}

// TestSummarySaysWhatTheReportCovers: the summary names the program, the period, the
// cutoff and the audience, and says when no targets were given.
func TestSummarySaysWhatTheReportCovers(t *testing.T) {
	rep, err := Build(context.Background(), sampleDB(t), Options{Program: "P02"})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(rep.Summary, "\n")
	// P02 had 21 episodes in care in 2026Q3: too few for its rates to mean much alone.
	for _, want := range []string{"Riverside Evening IOP, 2026Q3, compared with 2026Q2, with data to 2026-09-30", "internal audience", "No targets were given",
		"Only 21 episodes were in care in this period"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	all, err := Build(context.Background(), sampleDB(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(all.Summary, "\n"); strings.Contains(text, "Only ") {
		t.Errorf("the network's 82 episodes in care are called few:\n%s", text)
	}
}

// TestPageDefinesEveryMeasure: the page itself, not only the workbook, carries every
// measure's definition, and a retention tile says that its rate is a Kaplan-Meier
// estimate (which is not its numerator over its denominator).
func TestPageDefinesEveryMeasure(t *testing.T) {
	page, _, _ := render(t, sampleDB(t), Options{})
	text := string(page)
	for _, term := range append(vocabulary(), modelTerms()...) {
		if !strings.Contains(text, html.EscapeString(term.Definition)) {
			t.Errorf("the page lacks the definition of %s", term.Name)
		}
	}
	if !strings.Contains(text, "· Kaplan-Meier estimate") {
		t.Error("no retention tile says it is a Kaplan-Meier estimate")
	}
}

// TestAnEmptyChartSaysWhy: a chart whose every figure is hidden says so in words
// instead of drawing empty axes; the funnel's total does not count as a point.
func TestAnEmptyChartSaysWhy(t *testing.T) {
	r := Result{Section: Section{Chart: Chart{Type: "funnel", Y: "rate"}, Columns: []Column{{Name: "program_id"}, {Name: "rate"}}}}
	r.Suppress.Total.Column, r.Suppress.Total.Value = "program_id", "ALL"
	r.Rows = [][]any{{"P01", 0.5}, {"P02", 0.4}, {"ALL", 0.45}}
	r.Hidden = [][]bool{{false, true}, {false, true}, {false, false}}
	if why := emptyChart(r); !strings.Contains(why, "too small to show") {
		t.Errorf("every program hidden: %q", why)
	}
	r.Hidden[0][1] = false
	if why := emptyChart(r); why != "" {
		t.Errorf("one program shown: %q", why)
	}
}

// TestTilesSayWhatDoesNotApplyAndHowTargetsStand: 90-day retention of an 8-week
// program does not apply (and says so, not "not yet"), and a tile judged against a
// target carries its colour class.
func TestTilesSayWhatDoesNotApplyAndHowTargetsStand(t *testing.T) {
	targets := filepath.Join(t.TempDir(), "targets.yaml")
	if err := os.WriteFile(targets, []byte("measures:\n  attendance_rate: {target: 0.5}\n  completion_rate: {target: 0.99}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	page, _, rep := render(t, sampleDB(t), Options{Program: "P02", Targets: targets})
	if rep.Manifest.PlannedDays != 56 {
		t.Errorf("planned days %d; want 56 (8 weeks)", rep.Manifest.PlannedDays)
	}
	text := string(page)
	if !strings.Contains(text, "does not apply</div><div class=\"s\">the program plans 56 days of treatment") {
		t.Error("the 90-day retention tile of an 8-week program does not say it does not apply")
	}
	if !strings.Contains(text, `class="tile met-yes"`) || !strings.Contains(text, `class="tile met-no"`) {
		t.Error("tiles judged against targets carry no colour")
	}
}

// TestLengthOfStay checks the median length of stay against the episodes themselves:
// days from admission to discharge of the episodes discharged in the quarter, their
// median computed here (the mean of the two middle values of an even count), for
// each program and all; its denominator is the quarter's discharges, and its tile
// stands with the volume, after the discharges.
func TestLengthOfStay(t *testing.T) {
	db := sampleDB(t)
	stays := map[string][]float64{}
	rows, err := db.Query(`SELECT program_id, discharge_date - admit_date FROM episodes
		WHERE discharge_date BETWEEN '2026-07-01' AND '2026-09-30'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		var d float64
		if err := rows.Scan(&p, &d); err != nil {
			t.Fatal(err)
		}
		stays[p] = append(stays[p], d)
		stays["ALL"] = append(stays["ALL"], d)
	}
	rows.Close()
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		n := len(xs)
		return (xs[(n-1)/2] + xs[n/2]) / 2
	}
	if len(stays) < 3 {
		t.Fatalf("the sample's 2026Q3 has discharges in %d programs", len(stays)-1)
	}
	for prog, xs := range stays {
		opt := Options{Period: "2026Q3", Program: prog}
		if prog == "ALL" {
			opt.Program = ""
		}
		html, _, rep := render(t, db, opt)
		var los, discharges *Measure
		for i, m := range rep.Measures {
			switch m.Measure {
			case "length_of_stay":
				los = &rep.Measures[i]
			case "discharges":
				discharges = &rep.Measures[i]
			}
		}
		if los == nil || discharges == nil {
			t.Fatalf("%s: no length of stay or discharges among the measures", prog)
		}
		if got, want := los.Rate, median(xs); got != want {
			t.Errorf("%s: median length of stay %v, want %v over %d discharges", prog, got, want, len(xs))
		}
		if los.Denominator != discharges.Numerator || los.Denominator != float64(len(xs)) {
			t.Errorf("%s: length of stay over %v episodes; discharges %v, want %d", prog, los.Denominator, discharges.Numerator, len(xs))
		}
		page := string(html)
		d, l, s := strings.Index(page, `<div class="l">Discharges</div>`), strings.Index(page, `<div class="l">Median length of stay</div>`), strings.Index(page, `<div class="l">Sessions attended</div>`)
		if !(d >= 0 && d < l && l < s) {
			t.Errorf("%s: tiles at %d (discharges), %d (length of stay), %d (sessions attended); want them in that order", prog, d, l, s)
		}
		if want := `<div class="v">` + cellText(median(xs), Column{}, false) + ` days</div>`; !strings.Contains(page, want) {
			t.Errorf("%s: the page lacks the tile's value %s", prog, want)
		}
	}
}

// TestDaysAndScoresMatchTheirModel: the section of days to care and satisfaction
// scores, summed over the report's window from kpi_values, gives for a whole quarter
// the quartiles and mean of the quarterly model kpi_distributions; and the follow-up
// tiles put each outcome right after the share reached, under the words that say an
// outcome among those reached is not one of everyone discharged.
func TestDaysAndScoresMatchTheirModel(t *testing.T) {
	db := sampleDB(t)
	html, _, rep := render(t, db, Options{Period: "2026Q3"})
	var sec *Result
	for i, s := range rep.Sections {
		if s.File == "15_days_and_scores.yaml" {
			sec = &rep.Sections[i]
		}
	}
	if sec == nil {
		t.Fatal("no section of days to care and satisfaction scores")
	}
	if len(sec.Rows) != 3 {
		t.Fatalf("%d rows, want days to admission, days to the first session and the CSQ-8 score", len(sec.Rows))
	}
	names := map[string]string{} // label to name
	for _, term := range vocabulary() {
		names[term.Label] = term.Name
	}
	for _, row := range sec.Rows {
		var want [6]float64
		if err := db.QueryRow(`SELECT n, n_missing, p25, median, p75, mean FROM kpi_distributions
			WHERE program_id = 'ALL' AND period = '2026Q3' AND measure = ?`, names[fmt.Sprint(row[0])]).Scan(&want[0], &want[1], &want[2], &want[3], &want[4], &want[5]); err != nil {
			t.Fatalf("%v: %v", row[0], err)
		}
		for j := range want {
			got, _ := number(row[j+1])
			if math.Abs(got-want[j]) > 1e-9*math.Max(1, math.Abs(want[j])) {
				t.Errorf("%v, %s: %v in the report, %v in kpi_distributions", row[0], sec.Columns[j+1].Name, got, want[j])
			}
		}
	}
	page := string(html)
	start := strings.Index(page, "<h2>Access, symptoms, satisfaction and follow-up after discharge</h2>")
	if start < 0 {
		t.Fatal("no section of access, symptoms, satisfaction and follow-up")
	}
	section := page[start:]
	section = section[:strings.Index(section, "</section>")]
	if !strings.Contains(section, "An outcome among those reached is not an outcome of everyone discharged") {
		t.Error("the follow-up section does not say that an outcome among those reached is not one of everyone discharged")
	}
	for _, n := range []string{"30", "90", "180"} {
		reached := strings.Index(section, `<div class="l">`+label("followup_contact_"+n)+`</div>`)
		abstinent := strings.Index(section, `<div class="l">`+label("followup_abstinent_"+n)+`</div>`)
		if reached < 0 && abstinent < 0 && n == "180" {
			continue // nobody discharged in the sample's 2026Q2 or 2026Q3 is due yet
		}
		next := strings.Index(section[reached+1:], `<div class="l">`) + reached + 1
		if reached < 0 || abstinent != next {
			t.Errorf("%s days: the abstinence tile (at %d) does not follow the share reached (at %d)", n, abstinent, reached)
		}
	}
}
