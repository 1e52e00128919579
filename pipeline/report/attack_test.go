package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/suppress"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// writeSmallExports writes a crafted export of the kind an attacker would make to
// single people out: program P01 with 11-40 episodes a quarter, P02 with 1-10, P03 in
// between, short stays so that retention at 30, 60 and 90 days differs by a few
// episodes, and rates over small denominators. The data end on 2026-09-30.
func writeSmallExports(t testing.TB, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(12, 2026))
	files := map[string]*strings.Builder{}
	put := func(name string, fields ...any) {
		b, ok := files[name]
		if !ok {
			b = &strings.Builder{}
			files[name] = b
		}
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(b, f)
		}
		b.WriteByte('\n')
	}
	put("programs", "program_id", "name", "site", "level_of_care", "planned_weeks", "planned_hours_per_week")
	put("patients", "patient_id", "birth_year", "sex", "race", "ethnicity", "payer")
	put("episodes", "episode_id", "patient_id", "program_id", "admit_date", "discharge_date", "discharge_reason",
		"primary_substance", "co_occurring", "on_medication", "referral_source")
	put("sessions", "session_id", "episode_id", "patient_id", "session_date", "start_time", "session_type", "status", "minutes", "clinician_id")
	put("observations", "patient_id", "episode_id", "obs_date", "measure", "value", "unit")
	cutoff := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	// Episodes per program and quarter of admission.
	plan := []struct {
		program string
		n       map[string]int
	}{
		{"P01", map[string]int{"2026Q1": 24, "2026Q2": 38, "2026Q3": 30}},
		{"P02", map[string]int{"2026Q1": 3, "2026Q2": 2, "2026Q3": 6}},
		{"P03", map[string]int{"2026Q1": 15, "2026Q2": 25, "2026Q3": 13}},
	}
	for _, p := range plan {
		put("programs", p.program, "Program "+p.program, "Site A", "IOP", 12, 12)
	}
	ep, sess := 0, 0
	for _, p := range plan {
		for _, q := range []string{"2026Q1", "2026Q2", "2026Q3"} {
			from, to := quarterDates(q)
			days := int(to.Sub(from).Hours()/24) + 1
			for i := 0; i < p.n[q]; i++ {
				ep++
				patient := fmt.Sprintf("MRN%06d", 900000+ep)
				episode := fmt.Sprintf("E%05d", ep)
				put("patients", patient, 1960+rng.IntN(45), []string{"female", "male"}[rng.IntN(2)], "white", "not_hispanic", "medicaid")
				admit := from.AddDate(0, 0, rng.IntN(days))
				stay := 10 + rng.IntN(110)
				discharge := admit.AddDate(0, 0, stay)
				reason := []string{"completed", "dropped_out", "dropped_out", "completed", "terminated"}[rng.IntN(5)]
				end, dis := discharge, discharge.Format(time.DateOnly)
				if discharge.After(cutoff) {
					end, dis, reason = cutoff, "", ""
				}
				put("episodes", episode, patient, p.program, admit.Format(time.DateOnly), dis, reason,
					"opioids", rng.IntN(2) == 0, rng.IntN(2) == 0, "self")
				week := 0
				for d := admit; !d.After(end); d = d.AddDate(0, 0, 1) {
					if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
						continue
					}
					if rng.IntN(5) < 3 {
						sess++
						status := []string{"attended", "attended", "attended", "no_show", "cancelled_by_patient", "excused"}[rng.IntN(6)]
						put("sessions", fmt.Sprintf("S%07d", sess), episode, patient, d.Format(time.DateOnly), "09:00",
							[]string{"group", "individual"}[rng.IntN(2)], status, 60, fmt.Sprintf("C%02d", rng.IntN(4)))
					}
					if d.Weekday() == time.Monday {
						week++
						put("observations", patient, episode, d.Format(time.DateOnly), "uds_opioids",
							[]string{"positive", "negative", "negative"}[rng.IntN(3)], "")
						if week == 1 || d.AddDate(0, 0, 7).After(end) {
							put("observations", patient, episode, d.Format(time.DateOnly), "phq9", 5+rng.IntN(20), "")
						}
					}
				}
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".csv"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// smallDB is the crafted export loaded once for the package's tests, in a folder that
// TestMain removes.
var smallDB struct {
	once      sync.Once
	dir, path string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if smallDB.dir != "" {
		os.RemoveAll(smallDB.dir)
	}
	os.Exit(code)
}

// smallExportsDB loads the crafted export once per package run.
func smallExportsDB(t *testing.T) string {
	smallDB.once.Do(func() {
		dir, err := os.MkdirTemp("", "report-attack-")
		if err != nil {
			t.Fatal(err)
		}
		smallDB.dir = dir
		exports := filepath.Join(dir, "exports")
		if err := os.Mkdir(exports, 0o700); err != nil {
			t.Fatal(err)
		}
		writeSmallExports(t, exports)
		loaded := testdb.Load(t, []string{exports}, models.DefaultParams(), nil)
		b, err := os.ReadFile(loaded)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "outcomes.duckdb")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		smallDB.path = path
	})
	if smallDB.path == "" {
		t.Fatal("the crafted export did not load")
	}
	return smallDB.path
}

// published is one table a reader gets: its header and rows of cell text, from one
// report (identified by its quarter and program).
type published struct {
	report string // quarter and program
	name   string // sheet or HTML table
	header []string
	rows   [][]string
}

// withoutStatistics is the set with the cells of the columns of statistics of values
// blanked (a median length of stay, quartiles of days to care, a mean score): such a
// figure is neither a count nor a sum, so no total, difference or neighbour in its row
// says anything of a count. Read as counts (4 days shows as 4) they would only give
// false alarms. The columns are known by their headers, as a reader knows them.
func (s releasedSet) withoutStatistics() releasedSet {
	out := s
	out.tables = nil
	for _, p := range s.tables {
		q := p
		q.rows = nil
		for _, r := range p.rows {
			r = slices.Clone(r)
			for c := range r {
				if c < len(p.header) && statistic.MatchString(p.header[c]) {
					r[c] = ""
				}
			}
			q.rows = append(q.rows, r)
		}
		out.tables = append(out.tables, q)
	}
	return out
}

var statistic = regexp.MustCompile(`(?i)median|quartile|\bmean\b`)

// releasedSet is everything the external reports of one database publish.
type releasedSet struct {
	tables  []published
	rounded bool
	// programReports maps a quarter to the report of all programs and those of each.
	charts [][]float64 // chart data points per report, to check against its tables
	values [][]float64 // every number of each report's workbook
}

// publish builds every external report a reader could ask for from one database
// (each quarter, all programs and each program), renders each as the tool writes it
// (HTML page, workbook, manifest), and reads back what a reader sees.
func publish(t *testing.T, path string, pol suppress.Policy) releasedSet {
	t.Helper()
	db := testdb.Open(t, path)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	programs, err := programIDs(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var set releasedSet
	for _, q := range []string{"2026Q2", "2026Q3"} {
		for _, prog := range append([]string{""}, programs...) {
			rep, err := build(ctx, conn, Options{Audience: "external", Period: q, Program: prog, policy: &pol})
			if err != nil {
				t.Fatal(err)
			}
			id := q + " " + rep.Manifest.Program
			var page, book bytes.Buffer
			if err := RenderHTML(&page, rep); err != nil {
				t.Fatal(err)
			}
			if err := RenderXLSX(&book, rep); err != nil {
				t.Fatal(err)
			}
			manifest, err := json.Marshal(rep.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			json.Unmarshal(manifest, &m)
			set.rounded = m["rounding"] == "midpoint6"
			for _, l := range m["ledger"].([]any) {
				if n, ok := l.(map[string]any)["rows_read"]; ok {
					t.Errorf("%s: the manifest gives a file's row count %v", id, n)
				}
			}
			tables, charts := readPage(t, page.String())
			for i := range tables {
				tables[i].report = id
			}
			set.tables = append(set.tables, tables...)
			sheets, values := readBook(t, book.Bytes())
			for i := range sheets {
				sheets[i].report = id
			}
			set.tables = append(set.tables, sheets...)
			// The page and the workbook of one run hide the same cells.
			byName := map[string]published{}
			for _, sh := range sheets {
				byName[sh.name] = sh
			}
			for i, sec := range rep.Sections {
				if got, want := stars(tables[i]), stars(byName["sheet "+sec.Sheet]); got != want {
					t.Errorf("%s, %s: the page hides %s, the workbook %s", id, rep.Sections[i].Title, got, want)
				}
			}
			set.charts = append(set.charts, charts)
			set.values = append(set.values, values)
		}
	}
	return set
}

var (
	tableRe  = regexp.MustCompile(`(?s)<table>(.*?)</table>`)
	rowRe    = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRe   = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
	optionRe = regexp.MustCompile(`(?m)^track\(echarts\.init\(.*?\)\)\.setOption\((.*)\);$`)
)

// readPage reads every table of an HTML page and every number in its charts' data.
func readPage(t *testing.T, page string) ([]published, []float64) {
	var out []published
	for i, m := range tableRe.FindAllStringSubmatch(page, -1) {
		p := published{name: fmt.Sprintf("html table %d", i)}
		for j, r := range rowRe.FindAllStringSubmatch(m[1], -1) {
			var cells []string
			for _, c := range cellRe.FindAllStringSubmatch(r[1], -1) {
				cells = append(cells, strings.TrimSpace(c[1]))
			}
			if j == 0 {
				p.header = cells
			} else {
				p.rows = append(p.rows, cells)
			}
		}
		out = append(out, p)
	}
	var points []float64
	for _, m := range optionRe.FindAllStringSubmatch(page, -1) {
		var opt map[string]any
		if err := json.Unmarshal([]byte(m[1]), &opt); err != nil {
			t.Fatalf("chart options: %v in %.300s", err, m[1][max(0, int(err.(*json.SyntaxError).Offset)-150):])
		}
		series, _ := opt["series"].([]any)
		for _, sr := range series {
			sm := sr.(map[string]any)
			if name, _ := sm["name"].(string); strings.HasSuffix(name, "% limits") {
				continue // a funnel's limit lines, drawn from the released total rate
			}
			data, _ := sm["data"].([]any)
			for _, d := range data {
				if item, ok := d.(map[string]any); ok {
					d = item["value"] // a data item with a name or a symbol of its own
				}
				point, ok := d.([]any)
				if !ok {
					point = []any{d}
				}
				switch sm["type"] {
				case "heatmap": // x index, y index, value
					point = point[2:]
				case "line": // x, y
					point = point[len(point)-1:]
				}
				for _, v := range point {
					if f, ok := v.(float64); ok {
						points = append(points, f)
					}
				}
			}
		}
	}
	return out, points
}

// readBook reads every sheet of a workbook as a reader sees it (formatted: 60.00%,
// 45), and every number stored in it.
func readBook(t *testing.T, b []byte) ([]published, []float64) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []published
	var values []float64
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		p := published{name: "sheet " + sheet}
		for i, r := range rows {
			if i == 0 {
				p.header = r
				continue
			}
			p.rows = append(p.rows, r)
		}
		for _, r := range raw {
			for _, c := range r {
				if v, err := strconv.ParseFloat(c, 64); err == nil {
					values = append(values, v)
				}
			}
		}
		out = append(out, p)
	}
	return out, values
}

// stars lists the hidden cells of a table by row and column.
func stars(p published) string {
	var out []string
	for i, r := range p.rows {
		for j, c := range r {
			if c == "*" {
				out = append(out, fmt.Sprintf("(%d,%d)", i, j))
			}
		}
	}
	return strings.Join(out, " ")
}

// count reads a cell as a count: a whole number, not hidden.
func count(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v != math.Trunc(v) {
		return 0, false
	}
	return v, true
}

// span is what a reader knows of a published count: with rounding, r stands for r-2
// to r+3; without, exactly r.
func (s releasedSet) span(v float64) (lo, hi float64) {
	if s.rounded && v > 0 {
		return v - 2, v + 3
	}
	return v, v
}

// pins reports whether a count known to lie from lo to hi is known to be 1 to 10.
func pins(lo, hi float64) bool { return lo >= 1 && hi <= 10 && lo <= hi }

// attack looks for a count from 1 to 10 in the published set: every shown count;
// every difference of two counts of one column (steps of a flow, retention days over
// one denominator, quarters of a trend, rows of a table) and of two or three counts of
// one row (a complement, expected minus attended minus no-shows); every hidden cell of a
// column worked out as a total minus its shown parts, within a table (rows labelled
// ALL) and across reports (the all-programs report against each program's); and every
// count a shown rate gives back from a shown count of its row. It returns what it
// found, one line each.
func (s releasedSet) attack() []string {
	var found []string
	report := func(format string, args ...any) {
		if len(found) < 40 {
			found = append(found, fmt.Sprintf(format, args...))
		}
	}
	diff := func(a, b float64) (float64, float64) {
		alo, ahi := s.span(a)
		blo, bhi := s.span(b)
		return alo - bhi, ahi - blo
	}
	s = s.withoutStatistics()
	for _, p := range s.tables {
		cols := len(p.header)
		for c := 0; c < cols; c++ {
			var col []float64
			whole := true
			for _, r := range p.rows {
				if c >= len(r) || r[c] == "" || r[c] == "*" {
					continue
				}
				v, ok := count(r[c])
				if !ok {
					whole = false
					break
				}
				col = append(col, v)
			}
			if !whole || len(col) == 0 {
				continue
			}
			for _, v := range col {
				if v >= 1 && v <= 10 {
					report("%s, %s, %s: the count %v is shown", p.report, p.name, p.header[c], v)
				}
			}
			for i := range col {
				for j := range col {
					if lo, hi := diff(col[i], col[j]); i != j && pins(lo, hi) {
						report("%s, %s, %s: %v - %v leaves %v to %v", p.report, p.name, p.header[c], col[i], col[j], lo, hi)
					}
				}
			}
		}
		for _, r := range p.rows {
			var nums []float64
			for _, cell := range r {
				if v, ok := count(cell); ok {
					nums = append(nums, v)
				}
			}
			for i := range nums {
				for j := range nums {
					if i == j {
						continue
					}
					if lo, hi := diff(nums[i], nums[j]); pins(lo, hi) {
						report("%s, %s, row %v: %v - %v leaves %v to %v", p.report, p.name, r[0], nums[i], nums[j], lo, hi)
					}
					for k := range nums {
						if k == i || k == j {
							continue
						}
						lo, hi := diff(nums[i], nums[j])
						klo, khi := s.span(nums[k])
						if pins(lo-khi, hi-klo) {
							report("%s, %s, row %v: %v - %v - %v leaves %v to %v", p.report, p.name, r[0], nums[i], nums[j], nums[k], lo-khi, hi-klo)
						}
					}
				}
			}
			// A shown rate (as printed, 93.10%) times a shown count of its row.
			if !s.rounded {
				for _, cell := range r {
					pct, ok := strings.CutSuffix(cell, "%")
					f, err := strconv.ParseFloat(pct, 64)
					if !ok || err != nil || f <= 0 || f >= 100 {
						continue
					}
					for _, d := range nums {
						k := f / 100 * d
						if math.Abs(k-math.Round(k)) <= d*0.005/100 && (pins(math.Round(k), math.Round(k)) || pins(d-math.Round(k), d-math.Round(k))) {
							report("%s, %s, row %v: the rate %v of %v gives %v", p.report, p.name, r[0], cell, d, math.Round(k))
						}
					}
				}
			}
		}
		// Rows labelled ALL are the total of the others that share their labels
		// before it: all rows for an ALL in the first column (programs), the rows of
		// one grouping for an ALL after its name (Sex, ALL; Sex, Female).
		for _, g := range totalGroups(p) {
			for c := range p.header {
				s.totalLeak(report, p.report+", "+p.name+", "+g.name+", "+p.header[c], func(yield func(string, bool) bool) {
					for _, i := range g.rows {
						if r := p.rows[i]; c < len(r) && !yield(r[c], i == g.total) {
							return
						}
					}
				})
			}
		}
	}
	// Across reports: the cell of the all-programs report is the total of the same
	// cell (same table, row labels and column) of each program's report.
	type key struct{ quarter, table, row, col string }
	cells := map[key][][2]string{} // program, value
	for _, p := range s.tables {
		quarter, program, _ := strings.Cut(p.report, " ")
		for _, r := range p.rows {
			var labels []string
			for _, cell := range r {
				if _, err := strconv.ParseFloat(cell, 64); err != nil && cell != "*" && !strings.HasSuffix(cell, "%") {
					labels = append(labels, cell)
				}
			}
			for c, cell := range r {
				if c < len(p.header) {
					k := key{quarter, p.name, strings.Join(labels, "|"), p.header[c]}
					cells[k] = append(cells[k], [2]string{program, cell})
				}
			}
		}
	}
	var keys []key
	for k := range cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		s.totalLeak(report, fmt.Sprintf("%s %s across reports, row %s, %s", k.quarter, k.table, k.row, k.col), func(yield func(string, bool) bool) {
			for _, pc := range cells[k] {
				if !yield(pc[1], pc[0] == "ALL") {
					return
				}
			}
		})
	}
	return found
}

// totalGroup is a total row of a table and the rows it is the total of.
type totalGroup struct {
	name  string
	total int
	rows  []int
}

// totalGroups finds the totals a reader sees in a table: a row with ALL in column j
// is the total of the rows that agree with it in columns 0 to j-1 and are not ALL in
// column j.
func totalGroups(p published) []totalGroup {
	var out []totalGroup
	for t, r := range p.rows {
		j := slices.Index(r, "ALL")
		if j < 0 {
			continue
		}
		g := totalGroup{name: strings.Join(r[:j+1], " "), total: t}
		for i, m := range p.rows {
			if len(m) > j && slices.Equal(m[:j], r[:j]) && (i == t || m[j] != "ALL") {
				g.rows = append(g.rows, i)
			}
		}
		out = append(out, g)
	}
	return out
}

// totalLeak checks one column of cells of which one is the total of the others: the
// hidden ones add up to the total minus the shown ones.
func (s releasedSet) totalLeak(report func(string, ...any), where string, cells func(func(string, bool) bool)) {
	var total string
	hasTotal := false
	lo, hi := 0.0, 0.0
	hidden := 0
	numeric := true
	for v, isTotal := range cells {
		if _, ok := count(v); !ok && v != "*" && v != "" {
			numeric = false
		}
		if isTotal {
			total, hasTotal = v, true
			continue
		}
		switch {
		case v == "*":
			hidden++
		case v == "":
		default:
			n, _ := count(v)
			l, h := s.span(n)
			lo, hi = lo+l, hi+h
		}
	}
	t, ok := count(total)
	if !hasTotal || !ok || !numeric || hidden == 0 {
		return
	}
	tlo, thi := s.span(t)
	if sumLo, sumHi := math.Max(tlo-hi, float64(hidden)), thi-lo; pins(sumLo, sumHi) {
		report("%s: the total %v minus the shown parts leaves %v to %v for %d hidden", where, t, sumLo, sumHi, hidden)
	}
}

// TestAttackerFindsNoSmallCount attacks the external reports as an outsider would: from a crafted
// export with a program of 1 to 10 episodes and rates over small denominators, it takes
// every external report one database gives (each quarter, all programs and each
// program) as the tool renders them, reads every published number (HTML tables and
// chart data, workbook cells, manifest) and looks for a count from 1 to 10 alone or by
// combining figures. It knows the published rule (the manifest says whether counts are
// rounded). The same attack on the reports with rounding, or complementary
// suppression, switched off must succeed, which shows the attack can fail.
func TestAttackerFindsNoSmallCount(t *testing.T) {
	path := smallExportsDB(t)
	for _, tc := range []struct {
		name string
		pol  suppress.Policy
		leak bool
	}{
		{"external", suppress.External, false},
		{"without rounding", suppress.Policy{Complementary: true}, true},
		{"without complementary suppression", suppress.Policy{Round: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := publish(t, path, tc.pol)
			found := set.attack()
			switch {
			case tc.leak && len(found) == 0:
				t.Errorf("the attack found nothing with %s: it cannot tell a leak", tc.name)
			case !tc.leak && len(found) > 0:
				t.Errorf("a count from 1 to 10 can be worked out:\n%s", strings.Join(found, "\n"))
			case tc.leak:
				t.Logf("found (as it must): %s", found[0])
			}
			if tc.leak {
				return
			}
			// The attack reads the equity section, one total per grouping.
			groupings := 0
			for _, p := range set.tables {
				if p.name == "sheet Equity" {
					groupings = max(groupings, len(totalGroups(p)))
				}
			}
			if groupings != 5 {
				t.Errorf("the attack reads %d groupings with their totals in the sheet Equity; want 5 (sex, race, ethnicity, payer, age)", groupings)
			}
			// Every chart point is a published figure of its report.
			for i, points := range set.charts {
				for _, v := range points {
					if !near(v, set.values[i]) {
						t.Errorf("report %d: the chart point %v is in no table", i, v)
					}
				}
			}
		})
	}
	db := testdb.Open(t, path)
	if _, err := Build(context.Background(), db, Options{Audience: "external", From: "2026-04-01", To: "2026-06-29"}); err == nil {
		t.Error("an external report for a window next to its quarter was made")
	}
}

func near(v float64, values []float64) bool {
	for _, w := range values {
		if math.Abs(v-w) <= 1e-4*math.Max(1, math.Abs(w)) {
			return true
		}
	}
	return false
}

// TestPriorPeriodMatchesItsOwnReport: the prior-period figures of an external report
// are those of the prior period's own report, shown or hidden alike; a prior column
// released differently would let the two reports be combined.
func TestPriorPeriodMatchesItsOwnReport(t *testing.T) {
	db := testdb.Open(t, smallExportsDB(t))
	for _, prog := range []string{"", "P01", "P02", "P03"} {
		q2, err := Build(context.Background(), db, Options{Audience: "external", Period: "2026Q2", Program: prog})
		if err != nil {
			t.Fatal(err)
		}
		q3, err := Build(context.Background(), db, Options{Audience: "external", Period: "2026Q3", Program: prog})
		if err != nil {
			t.Fatal(err)
		}
		own := map[string]string{}
		for _, m := range q2.Measures {
			own[m.Measure] = fmt.Sprint(m.Rate, " hidden ", m.Hidden)
			if isCount(m.Measure) {
				// A count's figure, and its prior period's, is its numerator.
				own[m.Measure] = fmt.Sprint(m.Numerator, " hidden ", m.NumeratorHidden)
			}
		}
		for _, m := range q3.Measures {
			if got := fmt.Sprint(m.Prior, " hidden ", m.PriorHidden); own[m.Measure] != got {
				t.Errorf("program %q, %s: 2026Q2's report gives %s, 2026Q3's as its prior period %s", prog, m.Measure, own[m.Measure], got)
			}
		}
	}
}
