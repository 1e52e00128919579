package report

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// sheetOrder lists a workbook's visible sheets in their order (a chart's hidden
// helper sheet is no reader's).
func sheetOrder(t *testing.T, xlsx []byte) []string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for _, s := range f.GetSheetList() {
		if visible, err := f.GetSheetVisible(s); err != nil || visible {
			out = append(out, s)
		}
	}
	return out
}

// TestBoardPagesComeFirst checks the two readers' parts of the report: the board's
// sections first and the appendix after them, in the page and in the workbook alike,
// and that --sections board leaves the appendix out of both.
func TestBoardPagesComeFirst(t *testing.T) {
	db := sampleDB(t)
	board := []string{"01_kpis", "02_trends", "04_dose_response", "06_funnel", "08_attendance", "09_symptoms", "11_equity", "14_more_measures", "15_days_and_scores", "16_run_charts"}
	boardSheets := []string{"Summary", "Measures summary", "Trends", "Dose response", "Funnel", "Attendance", "Symptoms", "Equity", "More measures", "Days and scores", "Run charts", "Measures"}
	appendixSheets := []string{"Methods", "Retention curves", "Models", "Data quality", "Rejects", "Data quality history", "Data dictionary"}
	tests := []struct {
		sections     string
		wantAppendix bool
	}{{"", true}, {"all", true}, {"board", false}}
	for _, tt := range tests {
		t.Run("sections="+tt.sections, func(t *testing.T) {
			html, xlsx, rep := render(t, db, Options{Sections: tt.sections})
			page := string(html)
			var titles []string
			for _, s := range rep.Sections {
				titles = append(titles, s.Part+" "+strings.TrimSuffix(s.File, ".yaml"))
			}
			var want []string
			for _, s := range board {
				want = append(want, "board "+s)
			}
			if tt.wantAppendix {
				want = append(want, "appendix 03_retention_curves", "appendix 05_forest", "appendix 07_data_quality", "appendix 10_rejects", "appendix 13_dq_history")
			}
			if diff := cmp.Diff(want, titles); diff != "" {
				t.Errorf("sections (-want +got):\n%s", diff)
			}
			// In the page, every board heading comes before the appendix, and the
			// appendix's headings after it.
			at := strings.Index(page, "<h1>Appendix</h1>")
			if (at >= 0) != tt.wantAppendix {
				t.Fatalf("the page has an appendix: %v, want %v", at >= 0, tt.wantAppendix)
			}
			for _, s := range rep.Sections {
				i := strings.Index(page, "<h2>"+s.Title+"</h2>")
				if i < 0 {
					t.Errorf("the page lacks the heading %q", s.Title)
					continue
				}
				if s.Part == "board" && at >= 0 && i > at {
					t.Errorf("the board's %q comes after the appendix", s.Title)
				}
				if s.Part == "appendix" && i < at {
					t.Errorf("the appendix's %q comes before the appendix", s.Title)
				}
			}
			for _, h := range []string{"<h2>Methods</h2>", "<h2>Cohort flow</h2>", "<h2>Parameters</h2>"} {
				if strings.Contains(page, h) != tt.wantAppendix {
					t.Errorf("the page has %s: %v, want %v", h, !tt.wantAppendix, tt.wantAppendix)
				}
			}
			wantSheets := boardSheets
			if tt.wantAppendix {
				wantSheets = append(append([]string{}, boardSheets...), appendixSheets...)
			}
			if diff := cmp.Diff(wantSheets, sheetOrder(t, xlsx)); diff != "" {
				t.Errorf("sheets (-want +got):\n%s", diff)
			}
			if want := map[bool]string{true: "all", false: "board"}[tt.wantAppendix]; rep.Manifest.Sections != want {
				t.Errorf("manifest sections %q, want %q", rep.Manifest.Sections, want)
			}
		})
	}
	if _, err := Build(context.Background(), db, Options{Sections: "methods"}); err == nil || !strings.Contains(err.Error(), "board") {
		t.Errorf("--sections methods: error %v, want one naming the choices", err)
	}
}

// TestProgramReportShowsTheNetwork checks that a single program's report has the
// network's figure beside each of its measures, and that it is the figure the
// network's own report shows: for an external audience the released (rounded or
// hidden) one, so that the program's report discloses nothing the network's does not.
func TestProgramReportShowsTheNetwork(t *testing.T) {
	db := sampleDB(t)
	for _, audience := range []string{"internal", "external"} {
		t.Run(audience, func(t *testing.T) {
			net, err := Build(context.Background(), db, Options{Audience: audience})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for _, m := range net.Measures {
				v := m.Rate
				if isCount(m.Measure) {
					v = m.Numerator
				}
				want[m.Measure] = fmt.Sprint(cellValue(v, m.Hidden || (isCount(m.Measure) && m.NumeratorHidden)))
				if m.Network != nil {
					t.Errorf("the network's report has a network figure for %s", m.Measure)
				}
			}
			html, xlsx, rep := render(t, db, Options{Audience: audience, Program: "P03"})
			got := map[string]string{}
			for _, m := range rep.Measures {
				if _, ok := want[m.Measure]; ok {
					got[m.Measure] = fmt.Sprint(cellValue(m.Network, m.NetworkHidden))
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("network figures of P03's report (-want +got):\n%s", diff)
			}
			page := string(html)
			if !strings.Contains(page, "<th>Network (all programs)</th>") {
				t.Error("the key measures table has no network column")
			}
			for _, m := range net.Measures {
				if m.Measure == "attendance_rate" && !m.Hidden {
					if s := "network " + cellText(m.Rate, Column{Format: "percent"}, false); !strings.Contains(page, s) {
						t.Errorf("no tile says %q", s)
					}
				}
			}
			// The workbook shows the column the page shows, from the same result.
			for _, sheet := range []string{"Measures", "Measures summary"} {
				ms := sheets(t, xlsx)[sheet]
				if len(ms) == 0 || !strings.Contains(strings.Join(ms[0], "|"), "Network (all programs)") {
					t.Errorf("the %s sheet has no network column: %v", sheet, ms[:min(1, len(ms))])
				}
			}
		})
	}
	_, xlsx, _ := render(t, db, Options{})
	if strings.Contains(strings.Join(sheets(t, xlsx)["Measures"][0], "|"), "Network") {
		t.Error("the network's own Measures sheet has a network column")
	}
}
