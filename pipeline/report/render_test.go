package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/pdf"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func render(t *testing.T, db *store.DB, opt Options) (html, xlsx []byte, rep *Report) {
	t.Helper()
	rep, err := Build(context.Background(), db, opt)
	if err != nil {
		t.Fatal(err)
	}
	var h, x bytes.Buffer
	if err := RenderHTML(&h, rep); err != nil {
		t.Fatal(err)
	}
	if err := RenderXLSX(&x, rep); err != nil {
		t.Fatal(err)
	}
	return h.Bytes(), x.Bytes(), rep
}

// withoutLibrary drops the inlined ECharts library from a page, for golden files.
func withoutLibrary(page []byte) string {
	return strings.Replace(string(page), echartsJS, "/* echarts.min.js */", 1)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testdb.Golden(t, filepath.Join("testdata", name), got, *update, "go test ./pipeline/report -update")
}

// sheets reads every sheet of a workbook as rows of text.
func sheets(t *testing.T, xlsx []byte) map[string][][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]string{}
	for _, s := range f.GetSheetList() {
		rows, err := f.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = rows
	}
	return out
}

func TestGoldenReport(t *testing.T) {
	db := sampleDB(t)
	for _, audience := range []string{"internal", "external"} {
		html, xlsx, _ := render(t, db, Options{Audience: audience})
		golden(t, "report-"+audience+".html", withoutLibrary(html))
		b, _ := json.MarshalIndent(sheets(t, xlsx), "", " ")
		golden(t, "workbook-"+audience+".json", string(b)+"\n")
		again, _, _ := render(t, db, Options{Audience: audience})
		if !bytes.Equal(html, again) {
			t.Errorf("%s: the same database and parameters gave different pages", audience)
		}
		if page := withoutLibrary(html); strings.Contains(page, "http://") || strings.Contains(page, "https://") || regexp.MustCompile(`src=`).MatchString(page) {
			t.Errorf("%s: the page refers to a network address", audience)
		}
	}
}

// TestWorkbookMatchesTheDatabase reads the Measures sheet back and compares it with
// the kpis table.
func TestWorkbookMatchesTheDatabase(t *testing.T) {
	db := sampleDB(t)
	_, xlsx, rep := render(t, db, Options{})
	rows := sheets(t, xlsx)["Measures"]
	if len(rows) < 10 {
		t.Fatalf("Measures sheet has %d rows", len(rows))
	}
	name := slices.Index(rows[0], "Name in the database")
	for _, r := range rows[1:] {
		r = append(r, make([]string, 12)...)
		if r[0] != label(r[name]) {
			t.Errorf("measure %s is shown as %q; want the vocabulary's %q", r[name], r[0], label(r[name]))
		}
		// A measure of the prior period only (nobody due for a 90-day follow-up in
		// the current quarter) has no row in kpis and empty cells in the sheet.
		var num, den string
		query := `SELECT coalesce(CAST(k.numerator AS VARCHAR), ''), coalesce(CAST(k.denominator AS VARCHAR), '')
			FROM (SELECT 1) LEFT JOIN kpis k ON k.program_id = 'ALL' AND k.period = ? AND k.measure = ?`
		if r[name] == "length_of_stay" {
			// A median over the quarter's discharges (TestLengthOfStay checks the median).
			query = `SELECT '', CAST(numerator AS VARCHAR) FROM kpis WHERE program_id = 'ALL' AND period = ? AND measure = 'discharges' AND ? <> ''`
		}
		if err := db.QueryRow(query, rep.Manifest.Period, r[name]).Scan(&num, &den); err != nil {
			t.Fatalf("%s: %v", r[0], err)
		}
		if strings.ReplaceAll(r[2], ",", "") != num || strings.ReplaceAll(r[3], ",", "") != den {
			t.Errorf("%s: workbook %s of %s, database %s of %s", r[0], r[2], r[3], num, den)
		}
	}
}

// TestWorkbookOpensInOpenpyxl opens the workbook with an independent reader
// (python3-openpyxl, from Debian) and compares a sheet's cells.
func TestWorkbookOpensInOpenpyxl(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-openpyxl is needed (.ci/run installs it): %v", err)
		}
		t.Skip("python3-openpyxl not installed")
	}
	db := sampleDB(t)
	_, xlsx, _ := render(t, db, Options{Audience: "external"})
	path := filepath.Join(t.TempDir(), "report.xlsx")
	os.WriteFile(path, xlsx, 0o600)
	out, err := exec.Command(py, "-c", `
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
print(json.dumps({ws.title: [[("" if c is None else str(c)) for c in row] for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}))
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl could not read the workbook: %v\n%s", err, out)
	}
	var got map[string][][]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := sheets(t, xlsx)
	for _, name := range []string{"Measures", "Methods", "Data dictionary"} {
		if len(got[name]) != len(want[name]) || len(got[name]) < 2 {
			t.Errorf("%s: openpyxl reads %d rows, excelize %d", name, len(got[name]), len(want[name]))
			continue
		}
		if got[name][0][0] != want[name][0][0] {
			t.Errorf("%s: first header %q vs %q", name, got[name][0][0], want[name][0][0])
		}
	}
}

// TestPageInChromium opens the page in headless Chromium with the network blocked:
// every chart draws on its canvas, nothing is requested, the console has no error. A
// screenshot is kept in testdata/artifacts.
func TestPageInChromium(t *testing.T) {
	browser := "/usr/bin/chromium"
	if _, err := os.Stat(browser); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is needed (.ci/run installs it): %v", err)
		}
		t.Skip("chromium not installed")
	}
	db := sampleDB(t)
	for _, audience := range []string{"internal", "external"} {
		t.Run(audience, func(t *testing.T) { openInChromium(t, browser, db, audience) })
	}
}

func openInChromium(t *testing.T, browser string, db *store.DB, audience string) {
	html, _, _ := render(t, db, Options{Audience: audience})
	page := filepath.Join(t.TempDir(), "report.html")
	os.WriteFile(page, html, 0o600)

	// The browser writes its profile until it has exited, after the test's own
	// temporary folders are removed: it gets a folder of its own, removed at the end.
	profile, err := os.MkdirTemp("", "report-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	opts := append(pdf.Offline(browser, profile), chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var requests, problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, "file://") && !strings.HasPrefix(e.Request.URL, "data:") {
				requests = append(requests, e.Request.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				problems = append(problems, "console error")
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, e.ExceptionDetails.Text)
		}
	})
	var drawn []struct {
		ID    string `json:"id"`
		Inked int    `json:"inked"`
	}
	var shot []byte
	var shareLabels []string
	err = chromedp.Run(ctx,
		network.Enable(),
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady("body"),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('.chart')).map(div => {
			const c = div.querySelector('canvas');
			let inked = 0;
			if (c) {
				const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
				for (let i = 3; i < d.length; i += 4 * 7) { if (d[i] > 0) inked++; }
			}
			return {id: div.id, inked: inked};
		})`, &drawn),
		chromedp.Evaluate(`charts.flatMap(c => c.getOption().yAxis.filter(a => a.percent).map(a =>
			typeof a.axisLabel.formatter === "function" ? a.axisLabel.formatter(0.6) : String(a.axisLabel.formatter)))`, &shareLabels),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatal(err)
	}
	// An axis of shares is labelled in per cent, as the tables print them.
	if len(shareLabels) == 0 {
		t.Error("no chart has an axis of shares labelled in per cent")
	}
	for _, l := range shareLabels {
		if l != "60%" {
			t.Errorf("an axis of shares labels 0.6 as %q, want 60%%", l)
		}
	}
	// Printed on Letter (the narrower of Letter and A4 less the margins, 7.5 inches
	// at 96 dots), every table is open and nothing is wider than the page.
	var overflow []string
	var printed []byte
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(720, 1000),
		emulation.SetEmulatedMedia().WithMedia("print"),
		chromedp.Evaluate(`preparePrint()`, nil),
		chromedp.Sleep(200*time.Millisecond),
		pdf.Overflow(&overflow),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			printed, _, err = cdppage.PrintToPDF().WithPaperWidth(8.5).WithPaperHeight(11).Do(ctx)
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range overflow {
		t.Errorf("printed: %s", o)
	}
	pages := regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(printed, -1)
	if len(pages) < 3 || len(pages) > 40 {
		t.Errorf("the printed page has %d pages", len(pages))
	}
	os.WriteFile("testdata/artifacts/report-"+audience+".pdf", printed, 0o644)
	os.MkdirAll("testdata/artifacts", 0o755)
	os.WriteFile("testdata/artifacts/report-"+audience+".png", shot, 0o644)
	if want := map[string]int{"internal": 6, "external": 5}[audience]; len(drawn) < want {
		t.Errorf("%d charts on the page, want at least %d", len(drawn), want)
	}
	for _, d := range drawn {
		// Every chart draws at least its axes; with data it draws far more.
		if d.Inked < 100 {
			t.Errorf("chart %s drew %d sampled pixels: blank", d.ID, d.Inked)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) > 0 {
		t.Errorf("the page requested %v", requests)
	}
	if len(problems) > 0 {
		t.Errorf("console: %v", problems)
	}
}

// TestValuesFromTheDataStayText loads a program whose name and id are markup and
// checks that the page shows them as text, in the page and in the chart data alike.
func TestValuesFromTheDataStayText(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "export")
	os.MkdirAll(exp, 0o755)
	files := map[string]string{
		"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n" +
			"\"<b>P1</b>\",<script>alert(1)</script>,North,IOP,8,10\n",
		"patients.csv": "patient_id,birth_year,sex\nA,1980,female\n",
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication\n" +
			"E1,A,<b>P1</b>,2026-07-01,2026-08-01,completed,alcohol,false,false\n",
		"sessions.csv":     "session_id,episode_id,patient_id,session_date,session_type,status,minutes\nS1,E1,A,2026-07-01,group,attended,180\n",
		"observations.csv": "patient_id,episode_id,obs_date,measure,value\n",
	}
	for n, b := range files {
		os.WriteFile(filepath.Join(exp, n), []byte(b), 0o644)
	}
	db := testdb.Open(t, testdb.Load(t, []string{exp}, models.DefaultParams(), nil))
	html, xlsx, _ := render(t, db, Options{Program: "<b>P1</b>"})
	page := withoutLibrary(html)
	if strings.Contains(page, "<script>alert(1)</script>") || strings.Contains(page, "<b>P1</b>") {
		t.Error("markup from the data reached the page as markup")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the program name is not shown as text")
	}
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Methods")
	found := false
	for _, r := range rows {
		if len(r) > 2 && strings.Contains(r[2], "<script>alert(1)</script>") {
			found = true
		}
	}
	if !found {
		t.Error("the workbook does not carry the program name as text")
	}
}

// TestProgramFilterIsBound gives program filters written to break out of SQL: each is
// looked up as a value (bound, never pasted into SQL) and refused as unknown.
func TestProgramFilterIsBound(t *testing.T) {
	db := testdb.Open(t, testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil))
	for _, p := range []string{"x' OR '1'='1", "ALL' --", "P1'; DROP TABLE programs; --", `$program`} {
		_, err := Build(context.Background(), db, Options{Program: p})
		if err == nil || !strings.Contains(err.Error(), "is not in the database") {
			t.Errorf("program %q: %v; want it refused as unknown", p, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM programs`).Scan(&n); err != nil || n == 0 {
		t.Errorf("programs after the attempts: %d (%v)", n, err)
	}
}

// TestWorkbookPrints checks the page setup of every sheet a reader sees (landscape,
// one page wide, the header row on every page) and that the charts' helper data are on
// a hidden sheet, not beside the tables.
func TestWorkbookPrints(t *testing.T) {
	_, xlsx, rep := render(t, sampleDB(t), Options{})
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	titles := map[string]string{}
	for _, d := range f.GetDefinedName() {
		if d.Name == "_xlnm.Print_Titles" {
			titles[d.Scope] = d.RefersTo
		}
	}
	visible := 0
	for _, sheet := range f.GetSheetList() {
		shown, err := f.GetSheetVisible(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !shown {
			if sheet != "Chart data" {
				t.Errorf("sheet %s is hidden", sheet)
			}
			continue
		}
		visible++
		layout, err := f.GetPageLayout(sheet)
		if err != nil {
			t.Fatal(err)
		}
		props, err := f.GetSheetProps(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if layout.Orientation == nil || *layout.Orientation != "landscape" || layout.FitToWidth == nil || *layout.FitToWidth != 1 ||
			props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("sheet %s does not print landscape, one page wide", sheet)
		}
		if !strings.HasSuffix(titles[sheet], "!$1:$1") {
			t.Errorf("sheet %s repeats no header row on its pages (%q)", sheet, titles[sheet])
		}
	}
	if want := len(rep.Sections) + 4; visible != want { // Summary, Measures, Methods, Data dictionary
		t.Errorf("%d visible sheets; want %d", visible, want)
	}
	trends, _ := f.GetRows("Trends")
	for _, r := range trends {
		if len(trends) > 0 && len(r) > len(trends[0]) {
			t.Errorf("the Trends sheet has data beside its table: %v", r)
			break
		}
	}
}
