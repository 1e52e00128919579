package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/iop-outcomes/outcomes/pipeline/stats"
)

// smallN is the denominator under which a trend point is drawn hollow: its
// interval is wide and a change of one episode moves it a lot.
const smallN = 30

// palette is ECharts' default series colours, given explicitly so that a trend's
// interval lines take the colour of its line.
var palette = [...]string{"#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452", "#9a60b4", "#ea7ccc"}

// chartOptions builds the ECharts option of a section with go-echarts' typed chart
// and option builders, from its ordered rows, so that the same data always give the
// same page. Only the option is taken from go-echarts (its JSON), never its page
// renderer, which would fetch ECharts from the network: the page inlines ECharts.
// Suppressed values are left out. It returns nil for a section without a chart.
func chartOptions(r Result) map[string]any {
	col := map[string]int{}
	for i, c := range r.Columns {
		col[c.Name] = i
	}
	ch := r.Chart
	val := func(row int, name string) any {
		i, ok := col[name]
		if !ok || r.Hidden[row][i] {
			return nil
		}
		if f, ok := number(r.Rows[row][i]); ok {
			return f
		}
		if v := r.Rows[row][i]; v != nil {
			return fmt.Sprint(v)
		}
		return nil
	}
	// A share from 0 to 1, labelled in per cent by the page (see withYAxes).
	pct := opts.YAxis{Type: "value", Min: 0, Max: 1}
	c := charts.NewLine()
	c.SetGlobalOptions(
		charts.WithAnimation(false),
		charts.WithGridOpts(opts.Grid{Left: "60", Right: "30", Top: "40", Bottom: "50"}),
		charts.WithTooltipOpts(opts.Tooltip{Trigger: "item"}),
	)
	var boxes []int // series drawn as error bars, by index (see withBoxWidth)
	switch ch.Type {
	case "line", "km":
		names, rows, xs := bySeries(r, col, func(i int) string { return fmt.Sprint(val(i, ch.X)) })
		if ch.Type == "line" {
			sort.Strings(xs) // quarters, 2025Q4 before 2026Q1
		}
		for k, n := range names {
			colour := palette[k%len(palette)]
			s := charts.SingleSeries{Name: n, Type: "line", ShowSymbol: opts.Bool(ch.Type == "line"), ConnectNulls: opts.Bool(false),
				ItemStyle: &opts.ItemStyle{Color: colour}, LineStyle: &opts.LineStyle{Color: colour}}
			var data []opts.LineData
			for _, i := range rows[n] {
				d := opts.LineData{Value: []any{val(i, ch.X), val(i, ch.Y)}}
				if ch.Type == "line" {
					d.Name, d.Symbol, d.SymbolSize = trendPoint(r, i, n, col)
				}
				data = append(data, d)
			}
			s.Data = data
			if ch.Type == "km" {
				s.Step = "end"
			}
			c.MultiSeries = append(c.MultiSeries, s)
		}
		if ch.Lower != "" {
			// Each series' 95% limits: thin dashed lines of its colour and name, so that
			// its legend entry shows and hides them with it.
			for k, n := range names {
				for _, lim := range []string{ch.Lower, ch.Upper} {
					var d []opts.LineData
					for _, i := range rows[n] {
						d = append(d, opts.LineData{Value: []any{val(i, ch.X), val(i, lim)}})
					}
					s := charts.SingleSeries{Name: n, Type: "line", Data: d, ShowSymbol: opts.Bool(false),
						ItemStyle: &opts.ItemStyle{Color: palette[k%len(palette)]},
						LineStyle: &opts.LineStyle{Type: "dashed", Width: 1, Opacity: opts.Float(0.6), Color: palette[k%len(palette)]}}
					if ch.Type == "km" {
						s.Step = "end"
					}
					c.MultiSeries = append(c.MultiSeries, s)
				}
			}
		}
		x := opts.XAxis{Type: "category", Data: xs}
		if ch.Type == "km" {
			x = opts.XAxis{Type: "value", Name: "days from admission", NameLocation: "middle", NameGap: 28}
		}
		c.XAxisList = []opts.XAxis{x}
		c.YAxisList = []opts.YAxis{pct}
		c.Legend = opts.Legend{Data: names, Top: "5"}
		if ch.Type == "line" {
			c.Tooltip.Formatter = "{b}" // the point's name: measure, quarter, rate, interval and n
		}
	case "bar_error":
		var cats []string
		var bars []opts.BarData
		var whiskers []opts.BoxPlotData
		total := -1 // the row of all episodes: a line across the bands, not a band of its own
		for i := range r.Rows {
			if t := r.Suppress.Total; t.Column != "" && fmt.Sprint(r.Rows[i][col[t.Column]]) == t.Value {
				total = i
				continue
			}
			cat := fmt.Sprint(r.Rows[i][col[ch.X]])
			if ch.Series != "" {
				// Bars of several groupings side by side (sex, race): each named
				// with its grouping, since "Not recorded" is a bar of each.
				cat = fmt.Sprint(r.Rows[i][col[ch.Series]]) + ": " + cat
			}
			cats = append(cats, cat)
			y, lo, hi := val(i, ch.Y), val(i, ch.Lower), val(i, ch.Upper)
			if y == nil {
				bars = append(bars, opts.BarData{Value: "-"}) // ECharts' mark for a missing value
			} else {
				bars = append(bars, opts.BarData{Value: y})
			}
			if y == nil || lo == nil || hi == nil {
				whiskers = append(whiskers, opts.BoxPlotData{Value: missingBox()})
			} else {
				whiskers = append(whiskers, opts.BoxPlotData{Value: []any{lo, y, y, y, hi}})
			}
		}
		c.XAxisList = []opts.XAxis{{Type: "category", Data: cats}}
		if ch.Series != "" {
			// Many bars of several groupings: every bar named, the names slanted and
			// cut to the room under the chart, so that none is left out for want of room.
			c.XAxisList[0].AxisLabel = &opts.AxisLabel{Show: opts.Bool(true), Interval: "0", Rotate: 40, Width: 150, Overflow: "truncate", FontSize: 10}
			c.GridList = []opts.Grid{{Left: "60", Right: "30", Top: "40", Bottom: "130"}}
		}
		c.YAxisList = []opts.YAxis{pct}
		bar := charts.SingleSeries{Type: "bar", Data: bars, BarMaxWidth: "60"}
		if total >= 0 {
			if y, ok := val(total, ch.Y).(float64); ok {
				text := "all episodes " + cellText(y, r.Columns[col[ch.Y]], false)
				charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: text, YAxis: y})(&bar)
				charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none"},
					Label:     &opts.Label{Show: opts.Bool(true), Formatter: text, Position: "insideEndTop"},
					LineStyle: &opts.LineStyle{Color: "#333", Type: "dashed", Width: 1}})(&bar)
			}
		}
		c.MultiSeries = append(c.MultiSeries, bar,
			charts.SingleSeries{Type: "boxplot", Data: whiskers, ItemStyle: &opts.ItemStyle{Color: "#333", BorderColor: "#333"}})
		boxes = append(boxes, 1)
	case "p_chart":
		pChart(c, r, col, val, pct)
	case "forest":
		forest(c, r, col, val, &boxes)
	case "funnel":
		funnel(c, r, col, val, pct)
	case "heatmap":
		var xs, ys []string
		xi, yi := map[string]int{}, map[string]int{}
		var data []opts.HeatMapData
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, row := range r.Rows {
			x, y := fmt.Sprint(row[col[ch.X]]), fmt.Sprint(row[col[ch.Y]])
			if _, ok := xi[x]; !ok {
				xi[x] = len(xs)
				xs = append(xs, x)
			}
			if _, ok := yi[y]; !ok {
				yi[y] = len(ys)
				ys = append(ys, y)
			}
			if v, ok := val(i, ch.Value).(float64); ok {
				// The cell's label is its name, the value as the table prints it.
				data = append(data, opts.HeatMapData{Name: cellText(v, r.Columns[col[ch.Value]], false), Value: []any{xi[x], yi[y], v}})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		c.GridList = []opts.Grid{{Left: "170", Right: "30", Top: "20", Bottom: "80"}}
		c.XAxisList = []opts.XAxis{{Type: "category", Data: xs}}
		c.YAxisList = []opts.YAxis{{Type: "category", Data: ys}}
		if len(data) > 0 {
			// A sequential scale over the data's own range, so that 61% and 100% differ.
			c.VisualMapList = []opts.VisualMap{{Type: "continuous", Min: float32(lo), Max: float32(hi), Calculable: opts.Bool(false),
				Orient: "horizontal", Left: "center", Bottom: "0", Text: []string{cellText(hi, r.Columns[col[ch.Value]], false), cellText(lo, r.Columns[col[ch.Value]], false)},
				InRange: &opts.VisualMapInRange{Color: []string{"#eff3ff", "#9ecae1", "#3182bd", "#08306b"}}}}
		}
		c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Type: "heatmap", Data: data,
			Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}})
	default:
		return nil
	}
	return withYAxes(withLogBase(withBoxWidth(c.JSON(), boxes)))
}

// pChartShown is how many measures a p-chart shows at first; the legend shows the
// others.
const pChartShown = 3

// pChart draws a p-chart per series (measure): its quarterly points joined by a
// line, the centre line, the 3-sigma limits of each point as dashed steps, and the
// points a control rule marks (Chart.Signal yes) as red diamonds. Every line of a
// measure carries its name, so that its legend entry shows and hides them together;
// the first pChartShown measures are shown at first.
func pChart(c *charts.Line, r Result, col map[string]int, val func(int, string) any, pct opts.YAxis) {
	ch := r.Chart
	names, rows, xs := bySeries(r, col, func(i int) string { return fmt.Sprint(r.Rows[i][col[ch.X]]) })
	sort.Strings(xs) // quarters, 2025Q4 before 2026Q1
	selected := map[string]bool{}
	for k, n := range names {
		selected[n] = k < pChartShown
		colour := palette[k%len(palette)]
		var points, centre, signals []opts.LineData
		limits := [2][]opts.LineData{}
		for _, i := range rows[n] {
			x := fmt.Sprint(r.Rows[i][col[ch.X]])
			y := val(i, ch.Y)
			points = append(points, opts.LineData{Value: []any{x, y}})
			centre = append(centre, opts.LineData{Value: []any{x, val(i, ch.Centre)}})
			limits[0] = append(limits[0], opts.LineData{Value: []any{x, val(i, ch.Lower)}})
			limits[1] = append(limits[1], opts.LineData{Value: []any{x, val(i, ch.Upper)}})
			if ch.Signal != "" && y != nil && fmt.Sprint(val(i, ch.Signal)) == "yes" {
				signals = append(signals, opts.LineData{Value: []any{x, y}})
			}
		}
		c.MultiSeries = append(c.MultiSeries,
			charts.SingleSeries{Name: n, Type: "line", Data: points, ShowSymbol: opts.Bool(true), ConnectNulls: opts.Bool(false),
				ItemStyle: &opts.ItemStyle{Color: colour}, LineStyle: &opts.LineStyle{Color: colour}},
			charts.SingleSeries{Name: n, Type: "line", Data: centre, ShowSymbol: opts.Bool(false),
				ItemStyle: &opts.ItemStyle{Color: colour}, LineStyle: &opts.LineStyle{Color: colour, Width: 1, Opacity: opts.Float(0.8)}})
		for _, d := range limits {
			c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: n, Type: "line", Data: d, ShowSymbol: opts.Bool(false), Step: "middle",
				ItemStyle: &opts.ItemStyle{Color: colour},
				LineStyle: &opts.LineStyle{Type: "dashed", Width: 1, Opacity: opts.Float(0.6), Color: colour}})
		}
		if len(signals) > 0 {
			c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: n, Type: "scatter", Data: signals, SymbolSize: 14,
				Symbol: "diamond", ItemStyle: &opts.ItemStyle{Color: "#c0392b"}})
		}
	}
	c.XAxisList = []opts.XAxis{{Type: "category", Data: xs}}
	c.YAxisList = []opts.YAxis{pct}
	// One scrolling row: the measures are many, and a legend of several rows would cover the plot.
	c.Legend = opts.Legend{Type: "scroll", Data: names, Top: "5", Left: "10", Right: "10", Selected: selected}
}

// bySeries groups a section's rows by its chart's series: the series in the order
// they first appear, the rows of each, and the distinct x values (x(i) of row i) in
// the order they first appear.
func bySeries(r Result, col map[string]int, x func(i int) string) (names []string, rows map[string][]int, xs []string) {
	rows = map[string][]int{}
	seenX := map[string]bool{}
	for i := range r.Rows {
		s := fmt.Sprint(r.Rows[i][col[r.Chart.Series]])
		if _, ok := rows[s]; !ok {
			names = append(names, s)
		}
		rows[s] = append(rows[s], i)
		if k := x(i); !seenX[k] {
			seenX[k] = true
			xs = append(xs, k)
		}
	}
	return names, rows, xs
}

// trendPoint is a trend point's name (what its tooltip says: the measure, quarter,
// rate, 95% interval and n), and its symbol: hollow and larger when n is small.
func trendPoint(r Result, i int, series string, col map[string]int) (name, symbol string, size int) {
	ch := r.Chart
	get := func(c string) (any, Column, bool) {
		j, ok := col[c]
		if !ok {
			return nil, Column{}, false
		}
		return r.Rows[i][j], r.Columns[j], r.Hidden[i][j]
	}
	text := func(c string) string {
		v, cl, hidden := get(c)
		return cellText(v, cl, hidden)
	}
	name = series + " " + text(ch.X) + ": " + text(ch.Y)
	if ch.Lower != "" {
		name += " (95% interval " + text(ch.Lower) + " to " + text(ch.Upper) + ")"
	}
	symbol, size = "circle", 7
	if ch.N != "" {
		name += ", n = " + text(ch.N)
		if v, _, hidden := get(ch.N); !hidden {
			if n, ok := number(v); ok && n < smallN {
				symbol, size = "emptyCircle", 10
			}
		}
	}
	return name, symbol, size
}

// trendNote says what a hollow trend point means, when a trend has one.
func trendNote(r Result) string {
	if r.Chart.Type != "line" || r.Chart.N == "" {
		return ""
	}
	for i, c := range r.Columns {
		if c.Name != r.Chart.N {
			continue
		}
		for k, row := range r.Rows {
			if n, ok := number(row[i]); ok && !r.Hidden[k][i] && n < smallN {
				return fmt.Sprintf("Hollow points: fewer than %d in the denominator; their intervals are wide.", smallN)
			}
		}
	}
	return ""
}

// forest draws a forest plot: each group of rows (Chart.Groups: hazard ratios, odds
// ratios) in its own grid with its own log axis, a line at 1 and the words saying
// which side favours more sessions. A model that was not fitted keeps its row,
// labelled so.
func forest(c *charts.Line, r Result, col map[string]int, val func(int, string) any, boxes *[]int) {
	ch := r.Chart
	var groups []string // in the section's order; rows in no group last
	for _, g := range ch.Groups {
		groups = append(groups, g.Name)
	}
	groups = append(groups, "")
	rows := map[string][]int{}
	for i := range r.Rows {
		label := fmt.Sprint(r.Rows[i][col[ch.Label]])
		g := ""
		for _, cg := range ch.Groups {
			if strings.Contains(label, cg.Match) {
				g = cg.Name
				break
			}
		}
		rows[g] = append(rows[g], i)
	}
	groups = slices.DeleteFunc(groups, func(g string) bool { return len(rows[g]) == 0 })
	total := len(r.Rows) + 2*len(groups) // a group's axis takes about two rows
	top := 4.0
	c.Legend = opts.Legend{Show: opts.Bool(false)} // each group is named on its axis
	c.GridList = nil
	c.XAxisList = nil
	c.YAxisList = nil
	for k, g := range groups {
		var cats []string
		var points []opts.ScatterData
		var whiskers []opts.BoxPlotData
		var missing []opts.ScatterData
		lo, hi := 0.5, 2.0
		for _, i := range rows[g] {
			label := fmt.Sprint(r.Rows[i][col[ch.Label]])
			y, l, h := val(i, ch.Y), val(i, ch.Lower), val(i, ch.Upper)
			cats = append(cats, label)
			if y == nil {
				// No point: words at 1 say so, and the model's warning says why.
				points = append(points, opts.ScatterData{Value: []any{"-", label}})
				missing = append(missing, opts.ScatterData{Value: []any{1, label}})
			} else {
				points = append(points, opts.ScatterData{Value: []any{y, label}})
			}
			lf, lok := l.(float64)
			hf, hok := h.(float64)
			if y == nil || !lok || !hok || lf <= 0 {
				whiskers = append(whiskers, opts.BoxPlotData{Value: missingBox()})
				continue
			}
			whiskers = append(whiskers, opts.BoxPlotData{Value: []any{l, y, y, y, h}})
			lo, hi = math.Min(lo, lf), math.Max(hi, hf)
		}
		height := 92.0 * float64(len(rows[g])) / float64(total)
		c.GridList = append(c.GridList, opts.Grid{Left: "230", Right: "30", Top: pctText(top), Height: pctText(height)})
		top += height + 92.0*2/float64(total)
		name := "ratio"
		if g != "" {
			name = g
		}
		c.XAxisList = append(c.XAxisList, opts.XAxis{Type: "log", GridIndex: k,
			// Ratios below 1 mean fewer dropouts or relapses per additional weekly session.
			Name:         name + " per additional weekly session (log scale):  ← favours more sessions  |  favours fewer sessions →",
			NameLocation: "middle", NameGap: 24,
			Min: math.Pow(2, math.Floor(math.Log2(lo))), Max: math.Pow(2, math.Ceil(math.Log2(hi))),
			AxisLabel: &opts.AxisLabel{Show: opts.Bool(true)}, AxisTick: &opts.AxisTick{Show: opts.Bool(true)}})
		// Long model names break into lines within the room left of the grid (see
		// withYAxes).
		c.YAxisList = append(c.YAxisList, opts.YAxis{Type: "category", Data: cats, Inverse: opts.Bool(true), GridIndex: k,
			AxisLabel: &opts.AxisLabel{Show: opts.Bool(true), Interval: "0", Width: 215, Overflow: "break"}})
		*boxes = append(*boxes, len(c.MultiSeries))
		c.MultiSeries = append(c.MultiSeries,
			charts.SingleSeries{Name: name, Type: "boxplot", Layout: "horizontal", Data: whiskers, XAxisIndex: k, YAxisIndex: k,
				ItemStyle: &opts.ItemStyle{Color: "#333", BorderColor: "#333"}})
		s := charts.SingleSeries{Name: name, Type: "scatter", Data: points, SymbolSize: 10, XAxisIndex: k, YAxisIndex: k}
		charts.WithMarkLineNameXAxisItemOpts(opts.MarkLineNameXAxisItem{XAxis: 1})(&s)
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none"}, Label: &opts.Label{Show: opts.Bool(false)},
			LineStyle: &opts.LineStyle{Color: "#999", Type: "dashed", Width: 1}})(&s)
		c.MultiSeries = append(c.MultiSeries, s)
		if len(missing) > 0 {
			c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: name, Type: "scatter", Data: missing, SymbolSize: 1, XAxisIndex: k, YAxisIndex: k,
				Label: &opts.Label{Show: opts.Bool(true), Formatter: "no estimate: see the note below the chart", Position: "right", Color: "#8a3b00"}})
		}
	}
}

// funnel draws the programs against the denominator, with the 95% and 99.8% limits
// around the rate of all programs and a legend that names each.
func funnel(c *charts.Line, r Result, col map[string]int, val func(int, string) any, pct opts.YAxis) {
	ch := r.Chart
	totalCol := r.Suppress.Total.Column
	if totalCol == "" {
		totalCol = ch.Label
	}
	var points []opts.ScatterData
	p0, maxN := math.NaN(), 1.0
	for i := range r.Rows {
		label := fmt.Sprint(r.Rows[i][col[ch.Label]])
		n, y := val(i, ch.X), val(i, ch.Y)
		if fmt.Sprint(r.Rows[i][col[totalCol]]) == r.Suppress.Total.Value {
			if f, ok := y.(float64); ok {
				p0 = f
			}
			continue
		}
		nf, nok := n.(float64)
		if !nok || y == nil {
			continue
		}
		points = append(points, opts.ScatterData{Name: label, Value: []any{nf, y}})
		maxN = math.Max(maxN, nf)
	}
	if len(points) == 0 {
		p0 = math.NaN() // every program hidden: no limits to draw around nothing
	}
	legend := []string{"programs"}
	c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: "programs", Type: "scatter", Data: points, SymbolSize: 12,
		ItemStyle: &opts.ItemStyle{Color: palette[0]},
		Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Position: "right"}})
	if !math.IsNaN(p0) {
		for _, z := range []struct {
			name   string
			z      float64
			dash   string
			colour string
		}{{"95% limits", stats.NormalQuantile(0.975), "dashed", "#888"}, {"99.8% limits", stats.NormalQuantile(0.999), "dotted", "#c0392b"}} {
			var lo, hi []opts.LineData
			for k := 1; k <= 60; k++ {
				n := maxN * 1.2 * float64(k) / 60
				w := z.z * math.Sqrt(p0*(1-p0)/n)
				lo = append(lo, opts.LineData{Value: []any{round4(n), round4(math.Max(0, p0-w))}})
				hi = append(hi, opts.LineData{Value: []any{round4(n), round4(math.Min(1, p0+w))}})
			}
			for _, d := range [][]opts.LineData{lo, hi} {
				c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: z.name, Type: "line", Data: d, ShowSymbol: opts.Bool(false),
					ItemStyle: &opts.ItemStyle{Color: z.colour}, LineStyle: &opts.LineStyle{Type: z.dash, Width: 1, Color: z.colour}})
			}
			legend = append(legend, z.name)
		}
		c.MultiSeries = append(c.MultiSeries, charts.SingleSeries{Name: "all programs", Type: "line", ShowSymbol: opts.Bool(false),
			ItemStyle: &opts.ItemStyle{Color: "#333"}, LineStyle: &opts.LineStyle{Color: "#333", Width: 1},
			Data: []opts.LineData{{Value: []any{0, round4(p0)}}, {Value: []any{round4(maxN * 1.2), round4(p0)}}}})
		legend = append(legend, "all programs")
	}
	c.Legend = opts.Legend{Data: legend, Top: "5"}
	c.XAxisList = []opts.XAxis{{Type: "value", Name: "episodes in the denominator", NameLocation: "middle", NameGap: 28}}
	c.YAxisList = []opts.YAxis{pct}
}

func pctText(v float64) string { return fmt.Sprintf("%.1f%%", v) }

// errorBars is a boxplot series drawn as error bars (the box, from the estimate to
// itself, is a line): go-echarts' SingleSeries has no field for ECharts' boxWidth,
// so this adds that one field and nothing else.
type errorBars struct {
	charts.SingleSeries
	BoxWidth [2]int `json:"boxWidth"`
}

// withBoxWidth gives the boxplot series at the given indexes of an option the
// narrow box of an error bar.
func withBoxWidth(opt map[string]any, boxes []int) map[string]any {
	if len(boxes) == 0 {
		return opt
	}
	ms, ok := opt["series"].(charts.MultiSeries)
	if !ok {
		return opt
	}
	series := make([]any, len(ms))
	for i, s := range ms {
		series[i] = s
	}
	for _, i := range boxes {
		series[i] = errorBars{SingleSeries: ms[i], BoxWidth: [2]int{1, 1}}
	}
	opt["series"] = series
	return opt
}

// logAxis is a log axis in base 2, whose ticks (0.25, 0.5, 1, 2, 4) suit ratios
// near 1 where base 10 draws only the tick at 1: go-echarts' opts.XAxis has no
// field for ECharts' logBase, so this adds that one field and nothing else.
type logAxis struct {
	opts.XAxis
	LogBase float64 `json:"logBase"`
}

// withLogBase puts every log x axis of an option in base 2.
func withLogBase(opt map[string]any) map[string]any {
	return replaceAxes(opt, "xAxis", func(x opts.XAxis) (any, bool) {
		return logAxis{XAxis: x, LogBase: 2}, x.Type == "log"
	})
}

// replaceAxes replaces each axis under key ("xAxis" or "yAxis") of an option for
// which replace says so by what it gives (an axis with the fields go-echarts lacks),
// and leaves the option as it was when it replaces none, so that the next rewrite
// still finds go-echarts' own axes.
func replaceAxes[A any](opt map[string]any, key string, replace func(A) (any, bool)) map[string]any {
	axes, ok := opt[key].([]A)
	if !ok {
		return opt
	}
	out := make([]any, len(axes))
	replaced := false
	for i, a := range axes {
		out[i] = a
		if r, ok := replace(a); ok {
			out[i], replaced = r, true
		}
	}
	if replaced {
		opt[key] = out
	}
	return opt
}

// percentAxis is a y axis of shares from 0 to 1 that the page labels in per cent
// (0.6 as 60%): a label formatter is a function, which an option in JSON cannot
// hold, so the axis carries this mark and the page's script adds the formatter.
type percentAxis struct {
	opts.YAxis
	Percent bool `json:"percent"`
}

// withYAxes marks every y axis of shares (from 0 to 1) of an option as a percent
// axis, and gives every y axis whose labels break into lines a numeric line height.
func withYAxes(opt map[string]any) map[string]any {
	return replaceAxes(opt, "yAxis", func(y opts.YAxis) (any, bool) {
		switch l := y.AxisLabel; {
		case y.Type == "value" && y.Min == 0 && y.Max == 1:
			return percentAxis{YAxis: y, Percent: true}, true
		case l != nil && l.Overflow == "break":
			return lineAxis{YAxis: y, AxisLabel: lineLabel{Show: true, Width: l.Width, Overflow: l.Overflow, LineHeight: 13}}, true
		}
		return nil, false
	})
}

// lineLabel is an axis label that breaks into lines: go-echarts' opts.AxisLabel
// gives lineHeight as a string, which ECharts does not read as a height, so the
// lines of a label would be drawn over one another.
type lineLabel struct {
	Show       bool   `json:"show"`
	Interval   int    `json:"interval"`
	Width      int    `json:"width"`
	Overflow   string `json:"overflow"`
	LineHeight int    `json:"lineHeight"`
}

// lineAxis is a y axis with labels that break into lines (its AxisLabel is the
// one ECharts reads, the embedded one's being shadowed).
type lineAxis struct {
	opts.YAxis
	AxisLabel lineLabel `json:"axisLabel"`
}
