package report

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPChartMarksSignals draws a p-chart of two quarters of one measure, the second
// outside its limits, and reads the option back: the points, the centre line, both
// limits and one marked point, all under the measure's name so that its legend entry
// shows and hides them together.
func TestPChartMarksSignals(t *testing.T) {
	r := Result{Section: Section{
		Chart: Chart{Type: "p_chart", X: "period", Y: "share", Series: "measure", Centre: "centre", Lower: "lo", Upper: "hi", Signal: "outside"},
		Columns: []Column{{Name: "measure", Kind: "label"}, {Name: "period", Kind: "label"}, {Name: "share", Kind: "number"},
			{Name: "centre", Kind: "number"}, {Name: "lo", Kind: "number"}, {Name: "hi", Kind: "number"}, {Name: "outside", Kind: "label"}},
	}, Rows: [][]any{
		{"Completed treatment", "2026Q1", 0.5, 0.6, 0.45, 0.75, "no"},
		{"Completed treatment", "2026Q2", 0.9, 0.6, 0.5, 0.7, "yes"},
	}, Hidden: [][]bool{make([]bool, 7), make([]bool, 7)}}
	b, err := json.Marshal(chartOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	var opt struct {
		Series []struct {
			Name, Type string
			Data       []struct{ Value []any }
		}
	}
	if err := json.Unmarshal(b, &opt); err != nil {
		t.Fatal(err)
	}
	type series struct {
		Name, Type string
		Points     [][]any
	}
	var got []series
	for _, s := range opt.Series {
		x := series{Name: s.Name, Type: s.Type}
		for _, d := range s.Data {
			x.Points = append(x.Points, d.Value)
		}
		got = append(got, x)
	}
	m := "Completed treatment"
	want := []series{
		{m, "line", [][]any{{"2026Q1", 0.5}, {"2026Q2", 0.9}}},  // points
		{m, "line", [][]any{{"2026Q1", 0.6}, {"2026Q2", 0.6}}},  // centre line
		{m, "line", [][]any{{"2026Q1", 0.45}, {"2026Q2", 0.5}}}, // lower limits
		{m, "line", [][]any{{"2026Q1", 0.75}, {"2026Q2", 0.7}}}, // upper limits
		{m, "scatter", [][]any{{"2026Q2", 0.9}}},                // outside its limits
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("p-chart series (-want +got):\n%s", diff)
	}
}
