package report

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// chartRe reads a chart's id and its option from a line of the page's script, the
// line format that attack_test's optionRe reads too.
var chartRe = regexp.MustCompile(`(?m)^track\(echarts\.init\(document\.getElementById\("([^"]+)"\).*?\)\)\.setOption\((.*)\);$`)

// pageCharts parses every chart option of a page, by chart id.
func pageCharts(t *testing.T, page string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range chartRe.FindAllStringSubmatch(page, -1) {
		var opt map[string]any
		if err := json.Unmarshal([]byte(m[2]), &opt); err != nil {
			t.Fatalf("%s: the chart option does not parse: %v", m[1], err)
		}
		out[m[1]] = opt
	}
	if len(out) == 0 {
		t.Fatal("no chart options in the page")
	}
	return out
}

// list reads an option that ECharts takes as one object or a list of them.
func list(v any) []map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// itemValue is a data item's value, whether the item is the bare value or an object
// with a name or symbol of its own.
func itemValue(d any) []any {
	if m, ok := d.(map[string]any); ok {
		d = m["value"]
	}
	v, _ := d.([]any)
	return v
}

// TestChartsSayWhatTheyShow reads the chart options of the sample's page as ECharts
// gets them and checks what issue 14 asks of each chart: trend points with their
// interval and n, small ones marked; a heatmap scale fitted to its data, with the
// values in the cells; a funnel legend that names its lines and points named by
// program; a forest plot on log axes with "favours" labels, hazard and odds ratios
// apart.
func TestChartsSayWhatTheyShow(t *testing.T) {
	html, _, _ := render(t, sampleDB(t), Options{})
	page := string(html)
	opts := pageCharts(t, page)
	chart := func(t *testing.T, id string) map[string]any {
		t.Helper()
		opt, ok := opts[id]
		if !ok {
			t.Fatalf("no chart %s in the page", id)
		}
		return opt
	}

	t.Run("trends carry intervals and n", func(t *testing.T) {
		opt := chart(t, "chart-02_trends")
		byName := map[string]int{}
		nRe := regexp.MustCompile(`n = (\d+)$`)
		hollow := 0
		for _, s := range list(opt["series"]) {
			name, _ := s["name"].(string)
			byName[name]++
			if s["showSymbol"] != true {
				continue // an interval line
			}
			for _, d := range s["data"].([]any) {
				item, ok := d.(map[string]any)
				if !ok {
					t.Fatalf("%s: a point without its own name and symbol: %v", name, d)
				}
				label, _ := item["name"].(string)
				if !strings.Contains(label, "95% interval") {
					t.Errorf("%s: the point %q does not give its interval", name, label)
				}
				m := nRe.FindStringSubmatch(label)
				if m == nil {
					t.Errorf("%s: the point %q does not give its n", name, label)
					continue
				}
				n, _ := strconv.Atoi(m[1])
				if want := n < 30; (item["symbol"] == "emptyCircle") != want {
					t.Errorf("%s: the point %q is drawn %v; hollow should be %v", name, label, item["symbol"], want)
				}
				if n < 30 {
					hollow++
				}
			}
		}
		if len(byName) == 0 {
			t.Fatal("no series")
		}
		for name, k := range byName {
			if k != 3 {
				t.Errorf("%s: %d series, want a line and its two 95%% limits", name, k)
			}
		}
		if hollow == 0 {
			t.Error("the sample has quarters with fewer than 30 in the denominator; none is drawn hollow")
		}
		if !strings.Contains(page, "Hollow points: fewer than 30 in the denominator") {
			t.Error("the page does not say what a hollow point means")
		}
	})

	t.Run("dose bands in order, all episodes a line across them", func(t *testing.T) {
		opt := chart(t, "chart-04_dose_response")
		var cats []string
		for _, c := range list(opt["xAxis"])[0]["data"].([]any) {
			cats = append(cats, c.(string))
		}
		if want := []string{"<1", "1-2", "3-4", "5+"}; !slices.Equal(cats, want) {
			t.Errorf("dose bands %q, want %q", cats, want)
		}
		var lines []string
		for _, s := range list(opt["series"]) {
			ml, _ := s["markLine"].(map[string]any)
			for _, d := range list(ml["data"]) {
				lines = append(lines, fmt.Sprint(d["name"]))
			}
		}
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "all episodes ") {
			t.Errorf("reference lines %q, want one for all episodes", lines)
		}
	})

	t.Run("every equity bar named", func(t *testing.T) {
		opt := chart(t, "chart-11_equity")
		x := list(opt["xAxis"])[0]
		if label, _ := x["axisLabel"].(map[string]any); label["interval"] != "0" {
			t.Errorf("the equity chart's axis labels %v: ECharts leaves out the names that do not fit unless every one is asked for", label)
		}
		if n := len(x["data"].([]any)); n < 20 {
			t.Errorf("%d bars; the sample's groupings have more", n)
		}
	})

	t.Run("heatmap scale fits the data", func(t *testing.T) {
		opt := chart(t, "chart-08_attendance")
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range list(opt["series"]) {
			if s["type"] != "heatmap" {
				continue
			}
			if label, _ := s["label"].(map[string]any); label["show"] != true {
				t.Error("the heatmap's cells do not show their values")
			}
			for _, d := range s["data"].([]any) {
				v := itemValue(d)
				if len(v) != 3 {
					t.Fatalf("a cell is not x, y, value: %v", d)
				}
				f := v[2].(float64)
				lo, hi = math.Min(lo, f), math.Max(hi, f)
				item, _ := d.(map[string]any)
				if name, _ := item["name"].(string); name != strconv.FormatFloat(100*f, 'f', 1, 64)+"%" {
					t.Errorf("the cell of %v is labelled %q, want the percentage", f, name)
				}
			}
		}
		vm := list(opt["visualMap"])
		if len(vm) != 1 {
			t.Fatalf("visualMap: %v", opt["visualMap"])
		}
		min, _ := vm[0]["min"].(float64) // absent: ECharts' default 0
		max, _ := vm[0]["max"].(float64)
		if math.Abs(min-lo) > 1e-6 || math.Abs(max-hi) > 1e-6 {
			t.Errorf("the colour scale runs from %v to %v; the data from %v to %v", min, max, lo, hi)
		}
	})

	t.Run("funnel legend names its lines", func(t *testing.T) {
		opt := chart(t, "chart-06_funnel")
		legend := list(opt["legend"])
		if len(legend) != 1 {
			t.Fatalf("legend: %v", opt["legend"])
		}
		var names []string
		for _, n := range legend[0]["data"].([]any) {
			names = append(names, n.(string))
		}
		for _, want := range []string{"95% limits", "99.8% limits", "all programs"} {
			if !strings.Contains(strings.Join(names, "|")+"|", want+"|") {
				t.Errorf("the legend %q lacks %q", names, want)
			}
		}
		id := regexp.MustCompile(`^P\d+$`)
		points := 0
		for _, s := range list(opt["series"]) {
			if s["type"] != "scatter" {
				continue
			}
			for _, d := range s["data"].([]any) {
				points++
				item, _ := d.(map[string]any)
				if name, _ := item["name"].(string); name == "" || id.MatchString(name) {
					t.Errorf("a program's point is labelled %q, not by its name", name)
				}
			}
		}
		if points == 0 {
			t.Error("no program on the funnel")
		}
	})

	t.Run("forest on log axes, hazard and odds ratios apart", func(t *testing.T) {
		opt := chart(t, "chart-05_forest")
		xs, ys := list(opt["xAxis"]), list(opt["yAxis"])
		if len(xs) != 2 || len(ys) != 2 {
			t.Fatalf("%d x axes and %d y axes; want one of each for hazard ratios and for odds ratios", len(xs), len(ys))
		}
		for i, x := range xs {
			name, _ := x["name"].(string)
			if x["type"] != "log" || x["logBase"] != 2.0 {
				t.Errorf("x axis %d is %v (base %v), want a log axis in base 2", i, x["type"], x["logBase"])
			}
			if !strings.Contains(name, "favours more sessions") || !strings.Contains(name, "favours fewer sessions") {
				t.Errorf("x axis %d is named %q, without the favours labels", i, name)
			}
			if min, _ := x["min"].(float64); min <= 0 || min > 0.5 {
				t.Errorf("x axis %d starts at %v; want a power of 2 at most 0.5, so that it has ticks either side of 1", i, x["min"])
			}
		}
		for _, want := range []struct {
			axis  int
			kind  string
			model string
		}{{0, "hazard ratio", "(Cox"}, {1, "odds ratio", "(logistic)"}} {
			if name, _ := xs[want.axis]["name"].(string); !strings.HasPrefix(name, want.kind) {
				t.Errorf("x axis %d is named %q, want %s", want.axis, name, want.kind)
			}
			for _, c := range ys[want.axis]["data"].([]any) {
				if !strings.Contains(c.(string), want.model) {
					t.Errorf("the %s axis has the model %q", want.kind, c)
				}
			}
		}
		for i, y := range ys {
			if label, _ := y["axisLabel"].(map[string]any); label["overflow"] != "break" || label["width"] == nil || label["lineHeight"] != 13.0 {
				t.Errorf("y axis %d: long model names do not break into lines (axisLabel %v)", i, label)
			}
		}
		// The sample's logistic model of relapse has no estimate: its row says so in
		// words where its point would be.
		said := false
		for _, s := range list(opt["series"]) {
			label, _ := s["label"].(map[string]any)
			if f, _ := label["formatter"].(string); strings.HasPrefix(f, "no estimate") && s["yAxisIndex"] == 1.0 && len(s["data"].([]any)) == 1 {
				said = true
			}
		}
		if !said {
			t.Error("the odds-ratio axis does not say in words that its model has no estimate")
		}
	})
}

// TestDoseChartShowsItsLimits reads the dose-response chart of the sample's
// workbook from its XML: excelize writes no error bars, so the 95% limits are line
// series with no line and a dash marker, read like the bars from the hidden chart
// data, where a suppressed value is a blank and not the table's "*" (drawn as 0).
func TestDoseChartShowsItsLimits(t *testing.T) {
	_, book, _ := render(t, sampleDB(t), Options{Audience: "external"})
	zr, err := zip.NewReader(bytes.NewReader(book), int64(len(book)))
	if err != nil {
		t.Fatal(err)
	}
	var chart string
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/charts/chart") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "<a:t>Dose and response</a:t>") {
			chart = string(b)
		}
	}
	if chart == "" {
		t.Fatal("no dose-response chart in the workbook")
	}
	line := regexp.MustCompile(`(?s)<(?:c:)?lineChart>(.*)</(?:c:)?lineChart>`).FindStringSubmatch(chart)
	if line == nil {
		t.Fatal("the dose-response chart draws no 95% limits")
	}
	for _, col := range []string{"$C$1", "$D$1"} { // the table's 95% lower and upper
		if !strings.Contains(line[1], "'Dose response'!"+col) && !strings.Contains(line[1], "&#39;Dose response&#39;!"+col) {
			t.Errorf("the limits do not name the table's column %s", col)
		}
	}
	if got := len(regexp.MustCompile(`<(?:c:)?symbol val="dash"`).FindAllString(line[1], -1)); got != 2 {
		t.Errorf("%d limit series drawn with a dash marker; want 2", got)
	}
	if strings.Contains(chart, "'Dose response'!$B$2") || strings.Contains(chart, "&#39;Dose response&#39;!$B$2") {
		t.Error("the bars read the table, whose suppressed cells are text that Excel draws as 0")
	}
}
