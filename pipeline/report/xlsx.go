package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// sheetStyles are the cell styles of the workbook.
type sheetStyles struct {
	header, percent, decimal, integer, text, wrap int
}

func newStyles(f *excelize.File) (sheetStyles, error) {
	var s sheetStyles
	var err error
	mk := func(st *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(st)
		return id
	}
	s.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"2F5597"}}, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	s.percent = mk(&excelize.Style{NumFmt: 10}) // 0.00%
	s.decimal = mk(&excelize.Style{CustomNumFmt: strPtr("0.00")})
	s.integer = mk(&excelize.Style{NumFmt: 3}) // #,##0
	s.text = mk(&excelize.Style{Alignment: &excelize.Alignment{WrapText: false, Vertical: "top"}})
	s.wrap = mk(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	return s, err
}

func strPtr(s string) *string { return &s }

// cellValue is what a workbook cell holds: numbers as numbers, text as text (never
// a formula: excelize writes strings as strings), a suppressed cell as "*".
func cellValue(v any, hidden bool) any {
	if hidden {
		return "*"
	}
	if f, ok := number(v); ok {
		return f
	}
	if v == nil {
		return nil
	}
	return fmt.Sprint(v)
}

// table writes a formatted table at the top left of a sheet: a styled, frozen header
// row with a filter, number formats by column, and widths from the contents.
func table(f *excelize.File, sheet string, st sheetStyles, header []string, formats []string, rows [][]any) error {
	for j, h := range header {
		cell, _ := excelize.CoordinatesToCellName(j+1, 1)
		if err := f.SetCellValue(sheet, cell, h); err != nil {
			return err
		}
	}
	last, _ := excelize.CoordinatesToCellName(len(header), 1)
	if err := f.SetCellStyle(sheet, "A1", last, st.header); err != nil {
		return err
	}
	widths := make([]int, len(header))
	for j, h := range header {
		widths[j] = min(40, max(10, len(h)+2))
	}
	for i, row := range rows {
		lines := 1 // of the row's wrapped text, for its height (not every reader fits it)
		for j, v := range row {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+2)
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				return err
			}
			style := st.text
			if _, isNum := v.(float64); isNum {
				switch formats[j] {
				case "percent":
					style = st.percent
				case "0.00", "0.0000":
					style = st.decimal
				case "integer":
					style = st.integer
				}
			}
			if s, ok := v.(string); ok {
				widths[j] = min(60, max(widths[j], len(s)+2))
				if len(s) > 60 {
					style = st.wrap // long text wraps in its column instead of running on
					lines = max(lines, (len(s)+55)/56)
				}
			}
			if err := f.SetCellStyle(sheet, cell, cell, style); err != nil {
				return err
			}
		}
		if lines > 1 {
			if err := f.SetRowHeight(sheet, i+2, 15*float64(lines)); err != nil {
				return err
			}
		}
	}
	for j, w := range widths {
		col, _ := excelize.ColumnNumberToName(j + 1)
		if err := f.SetColWidth(sheet, col, col, float64(w)); err != nil {
			return err
		}
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	end, _ := excelize.CoordinatesToCellName(len(header), max(2, len(rows)+1))
	if err := f.AutoFilter(sheet, "A1:"+end, nil); err != nil {
		return err
	}
	return pageSetup(f, sheet)
}

// pageSetup makes a sheet print as a reader expects: landscape, one page wide (as
// many pages long as it needs), the header row repeated on every page.
func pageSetup(f *excelize.File, sheet string) error {
	landscape, one, any := "landscape", 1, 0
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &any}); err != nil {
		return err
	}
	fit := true
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	return f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", Scope: sheet,
		RefersTo: "'" + strings.ReplaceAll(sheet, "'", "''") + "'!$1:$1"})
}

// RenderXLSX writes the report as a workbook: a sheet per section with native charts
// for the trends and the dose-response, a Measures sheet for accreditors, a Methods
// sheet and a Data dictionary sheet. Report sheets hold aggregates (thousands of rows
// at most); row-level output goes through report query, which streams and splits.
func RenderXLSX(w io.Writer, rep *Report) error {
	f := excelize.NewFile()
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	when, _ := time.Parse("2006-01-02T15:04:05Z", rep.Manifest.DataAsOf)
	if err := f.SetDocProps(&excelize.DocProperties{Title: "Quarterly outcomes report " + rep.Manifest.Period,
		Creator: "iop-outcomes " + rep.Manifest.Version, Created: when.Format(time.RFC3339), Modified: when.Format(time.RFC3339)}); err != nil {
		return err
	}
	if err := f.SetSheetName("Sheet1", "Summary"); err != nil {
		return err
	}
	var summary [][]any
	for _, line := range rep.Summary {
		summary = append(summary, []any{line})
	}
	if err := table(f, "Summary", st, []string{"Summary of the report"}, []string{""}, summary); err != nil {
		return err
	}
	if err := f.SetColWidth("Summary", "A", "A", 110); err != nil {
		return err
	}
	// The sheets follow the page: the board's sections and the Measures sheet, then
	// the appendix (Methods, the appendix's sections, the Data dictionary) unless the
	// report has the board's pages only.
	for _, r := range rep.Sections {
		if r.Part != "appendix" {
			if err := sectionSheet(f, st, r); err != nil {
				return err
			}
		}
	}
	if err := measuresSheet(f, st, rep); err != nil {
		return err
	}
	if rep.Manifest.Sections != "board" {
		if err := methodsSheet(f, st, rep); err != nil {
			return err
		}
		for _, r := range rep.Sections {
			if r.Part == "appendix" {
				if err := sectionSheet(f, st, r); err != nil {
					return err
				}
			}
		}
		if err := dictionarySheet(f, st, rep); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	return f.Write(w)
}

// sectionSheet writes a section as a sheet: its table and, for some, a native chart.
func sectionSheet(f *excelize.File, st sheetStyles, r Result) error {
	name := r.Sheet
	if _, err := f.NewSheet(name); err != nil {
		return err
	}
	var header, formats []string
	for _, c := range r.Columns {
		header = append(header, c.Label)
		format := c.Format
		if c.Kind == "count" {
			format = "integer"
		}
		formats = append(formats, format)
	}
	var rows [][]any
	for i, row := range r.Rows {
		var out []any
		for j, v := range row {
			out = append(out, cellValue(v, r.Hidden[i][j]))
		}
		rows = append(rows, out)
	}
	if err := table(f, name, st, header, formats, rows); err != nil {
		return fmt.Errorf("sheet %s: %w", name, err)
	}
	if err := nativeChart(f, name, r, len(header)); err != nil {
		return fmt.Errorf("sheet %s: chart: %w", name, err)
	}
	return nil
}

// nativeChart adds an Excel chart for line (trends) and bar_error (dose-response)
// sections, each drawn from a small wide table on the hidden chart data sheet
// (quarters by measure; dose bands by estimate and 95% limits).
func nativeChart(f *excelize.File, sheet string, r Result, ncols int) error {
	col := map[string]int{}
	for i, c := range r.Columns {
		col[c.Name] = i
	}
	quote := "'" + strings.ReplaceAll(sheet, "'", "''") + "'"
	switch r.Chart.Type {
	case "line":
		var xs, names []string
		seenX, seenS := map[string]bool{}, map[string]bool{}
		values := map[[2]string]any{}
		lower, upper := map[[2]string]any{}, map[[2]string]any{}
		limits := r.Chart.Lower != "" && r.Chart.Upper != ""
		for i, row := range r.Rows {
			x, s := fmt.Sprint(row[col[r.Chart.X]]), fmt.Sprint(row[col[r.Chart.Series]])
			if !seenX[x] {
				seenX[x] = true
				xs = append(xs, x)
			}
			if !seenS[s] {
				seenS[s] = true
				names = append(names, s)
			}
			values[[2]string{x, s}] = cellValue(row[col[r.Chart.Y]], r.Hidden[i][col[r.Chart.Y]])
			if limits {
				hidden := r.Hidden[i][col[r.Chart.Y]]
				lower[[2]string{x, s}] = cellValue(row[col[r.Chart.Lower]], hidden || r.Hidden[i][col[r.Chart.Lower]])
				upper[[2]string{x, s}] = cellValue(row[col[r.Chart.Upper]], hidden || r.Hidden[i][col[r.Chart.Upper]])
			}
		}
		sort.Strings(xs)
		if len(xs) == 0 {
			return nil
		}
		// The chart data: each measure, then (with limits) its 95% lower and upper
		// limits, each a column of the block.
		cols := slices.Clone(names)
		from := []map[[2]string]any{values}
		if limits {
			for _, n := range names {
				cols = append(cols, n+": 95% lower", n+": 95% upper")
			}
			from = append(from, lower, upper)
		}
		blk, err := writeChartData(f, r.Chart.X, cols, xs, func(i, j int) (float64, bool) {
			m, name := values, names[j%len(names)]
			if j >= len(names) {
				k := j - len(names)
				m, name = from[1+k%2], names[k/2]
			}
			v, ok := m[[2]string{xs[i], name}].(float64)
			return v, ok
		})
		if err != nil {
			return err
		}
		// Each measure in a colour of its own, its 95% limits as dashes of that colour
		// (excelize writes no error bars: see bar_error below).
		var series []excelize.ChartSeries
		for j := range names {
			colour := strings.TrimPrefix(palette[j%len(palette)], "#")
			fill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{colour}}
			series = append(series, excelize.ChartSeries{Name: blk.name(j), Categories: blk.categories(), Values: blk.values(j), Fill: fill,
				Line:   excelize.LineOptions{Type: excelize.LineSolid, Width: 2},
				Marker: excelize.ChartMarker{Symbol: "circle", Size: 5, Fill: fill, Border: excelize.LineOptions{Type: excelize.LineSolid, Fill: fill}}})
		}
		if limits {
			for j := range names {
				fill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{strings.TrimPrefix(palette[j%len(palette)], "#")}}
				for k := range 2 {
					c := len(names) + 2*j + k
					series = append(series, excelize.ChartSeries{Name: blk.name(c), Categories: blk.categories(), Values: blk.values(c),
						Line:   excelize.LineOptions{Type: excelize.LineNone},
						Marker: excelize.ChartMarker{Symbol: "dash", Size: 9, Fill: fill, Border: excelize.LineOptions{Type: excelize.LineSolid, Fill: fill}}})
				}
			}
		}
		return f.AddChart(sheet, colName(ncols+2)+"2", &excelize.Chart{Type: excelize.Line, Series: series,
			Legend: excelize.ChartLegend{Position: "bottom"}, YAxis: shareAxis(),
			Title: excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: r.Title}}}, Dimension: excelize.ChartDimension{Width: 640, Height: 400}})
	case "bar_error":
		n := len(r.Rows)
		if n == 0 {
			return nil
		}
		// The bars and their 95% limits are read from the hidden chart data, where a
		// suppressed or missing value is a blank (a gap) rather than the "*" of the
		// table, which Excel would draw as 0.
		names := []string{r.Chart.Y, r.Chart.Lower, r.Chart.Upper}
		if r.Chart.Lower == "" || r.Chart.Upper == "" {
			names = names[:1]
		}
		var cats []string
		for _, row := range r.Rows {
			c := fmt.Sprint(row[col[r.Chart.X]])
			if t := r.Suppress.Total; t.Column != "" && fmt.Sprint(row[col[t.Column]]) == t.Value {
				c = "all episodes" // the total beside the bands, named so
			}
			cats = append(cats, c)
		}
		blk, err := writeChartData(f, r.Chart.X, names, cats, func(i, j int) (float64, bool) {
			k := col[names[j]]
			if r.Hidden[i][k] || r.Hidden[i][col[r.Chart.Y]] {
				return 0, false
			}
			return number(r.Rows[i][k])
		})
		if err != nil {
			return err
		}
		chart := &excelize.Chart{Type: excelize.Col, YAxis: shareAxis(),
			Series: []excelize.ChartSeries{{Name: quote + "!$" + colName(col[r.Chart.Y]+1) + "$1", Categories: blk.categories(), Values: blk.values(0)}},
			Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: r.Title}}}, Dimension: excelize.ChartDimension{Width: 560, Height: 320}}
		if len(names) == 1 {
			return f.AddChart(sheet, colName(ncols+2)+"2", chart)
		}
		// excelize (v2.11) writes no error bars (its ChartSeries has no field for
		// c:errBars), so each 95% limit is a line series with no line and a dash
		// marker at the limit: the ends of an error bar, without the bar.
		limits := &excelize.Chart{Type: excelize.Line, YAxis: shareAxis()}
		for j := 1; j < len(names); j++ {
			limits.Series = append(limits.Series, excelize.ChartSeries{
				Name: quote + "!$" + colName(col[names[j]]+1) + "$1", Categories: blk.categories(), Values: blk.values(j),
				Line:   excelize.LineOptions{Type: excelize.LineNone},
				Marker: excelize.ChartMarker{Symbol: "dash", Size: 12, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"333333"}}, Border: excelize.LineOptions{Type: excelize.LineSolid, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"333333"}}}},
			})
		}
		return f.AddChart(sheet, colName(ncols+2)+"2", chart, limits)
	}
	return nil
}

// wholeCount is a count as a whole number, which a column's number format leaves as it is.
func wholeCount(v any) any {
	if f, ok := v.(float64); ok {
		return int64(f)
	}
	return v
}

// shareAxis is a chart's value axis of shares, from 0% to 100%.
func shareAxis() excelize.ChartAxis {
	lo, hi := 0.0, 1.0
	return excelize.ChartAxis{Minimum: &lo, Maximum: &hi, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0%"}}
}

// blankOr is a text, or no value when it is empty.
func blankOr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func colName(n int) string { s, _ := excelize.ColumnNumberToName(n); return s }

func measuresSheet(f *excelize.File, st sheetStyles, rep *Report) error {
	const name = "Measures"
	if _, err := f.NewSheet(name); err != nil {
		return err
	}
	// A share is a rate; a length of stay is a median in days, in a column of its own.
	header := []string{"Measure", "Definition", "Numerator", "Denominator", "Rate", "95% CI lower", "95% CI upper", "Median days", "Target", "Met", "Prior period", "Name in the database"}
	formats := []string{"", "", "integer", "integer", "percent", "percent", "percent", "", "percent", "", "percent", ""}
	// A single program's measures have the network's beside them, before the name in
	// the database.
	network := rep.Manifest.Program != "ALL"
	if network {
		header = slices.Insert(header, 11, "Network (all programs)")
		formats = slices.Insert(formats, 11, "percent")
	}
	var rows [][]any
	for _, m := range rep.Measures {
		row := []any{label(m.Measure), m.Definition, cellValue(m.Numerator, m.NumeratorHidden), cellValue(m.Denominator, m.DenominatorHidden),
			cellValue(m.Rate, m.Hidden), cellValue(m.Lower, m.Hidden), cellValue(m.Upper, m.Hidden), nil, cellValue(m.Target, false),
			m.Met, cellValue(m.Prior, m.PriorHidden), m.Measure}
		var net any = cellValue(m.Network, m.NetworkHidden)
		if isCount(m.Measure) {
			// A count: its prior period and the network's are counts too, written as
			// whole numbers so that the columns' per cent format does not apply.
			row[8], row[10], net = wholeCount(cellValue(m.Target, false)), wholeCount(cellValue(m.Prior, m.PriorHidden)), wholeCount(net)
		}
		if isDays(m.Measure) {
			// Days, not shares: the median stands in the Median days column, and
			// the prior period, target and network say "days" in their own cells.
			row[4], row[7] = nil, cellValue(m.Rate, m.Hidden)
			row[8], row[10], net = blankOr(daysText(m.Target, false)), blankOr(daysText(m.Prior, m.PriorHidden)), blankOr(daysText(m.Network, m.NetworkHidden))
		}
		if network {
			row = slices.Insert(row, 11, net)
		}
		rows = append(rows, row)
	}
	return table(f, name, st, header, formats, rows)
}

func methodsSheet(f *excelize.File, st sheetStyles, rep *Report) error {
	const name = "Methods"
	if _, err := f.NewSheet(name); err != nil {
		return err
	}
	m := rep.Manifest
	rows := [][]any{
		{"Report", "period", m.Period},
		{"Report", "prior period", m.Prior},
		{"Report", "partial period", map[bool]string{true: m.Partial, false: "no: a whole period"}[m.Partial != ""]},
		{"Report", "program", m.Program + " " + m.ProgramName},
		{"Report", "audience", m.Audience},
		{"Report", "data as of (last load)", m.DataAsOf},
		{"Report", "tool version", m.Version},
		{"Models", "covariates, complete cases, aliasing and separation", modelRules},
	}
	if m.Disclosure != "" {
		rows = append(rows, []any{"Disclosure control", "rule", m.Disclosure},
			[]any{"Disclosure control", "why", "the rule holds for every external report one database gives (all programs, each program, each quarter) taken together: a difference of two rounded counts spans eleven or more values, so no report, step or total minus its parts pins down a count from 1 to 10; each program's report hides the cells the network's report hides"},
			[]any{"Disclosure control", "cells not shown", fmt.Sprint(m.Suppressed)})
	} else {
		rows = append(rows, []any{"Disclosure control", "rule", "none: an internal report, not for release outside the organization"})
	}
	for _, st := range rep.CohortFlow {
		n := any(st.N)
		if st.Hidden {
			n = "*"
		}
		rows = append(rows, []any{"Cohort flow", st.Step, n})
	}
	var keys []string
	for k := range m.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows = append(rows, []any{"Parameter", k, m.Parameters[k]})
	}
	defs := definitions()
	var measures []string
	for k := range defs {
		measures = append(measures, k)
	}
	sort.Strings(measures)
	for _, k := range measures {
		rows = append(rows, []any{"Definition", k, defs[k]})
	}
	for _, s := range rep.Sections {
		if s.Description != "" {
			rows = append(rows, []any{"Section", s.Title, s.Description})
		}
	}
	for _, l := range m.Ledger {
		text := "sha256 " + l.SHA256
		if m.Audience != "external" {
			text += fmt.Sprintf(", %d rows read", l.Rows)
		}
		rows = append(rows, []any{"Ledger", l.Path, text})
	}
	return table(f, name, st, []string{"Topic", "Item", "Value"}, []string{"", "", ""}, rows)
}

func dictionarySheet(f *excelize.File, st sheetStyles, rep *Report) error {
	const name = "Data dictionary"
	if _, err := f.NewSheet(name); err != nil {
		return err
	}
	var tables []string
	for t := range rep.Dictionary {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var rows [][]any
	for _, t := range tables {
		d := rep.Dictionary[t]
		rows = append(rows, []any{t, "", "", d.Comment})
		for _, c := range d.Columns {
			rows = append(rows, []any{t, c.Name, c.Type, c.Comment})
		}
	}
	return table(f, name, st, []string{"Table", "Column", "Type", "Description"}, []string{"", "", "", ""}, rows)
}

// chartBlock is where a chart's data were written on the hidden chart data sheet.
type chartBlock struct {
	left, rows int
}

const chartDataSheet = "Chart data"

func (b chartBlock) ref(c int) string {
	return fmt.Sprintf("'%s'!$%s$2:$%s$%d", chartDataSheet, colName(c), colName(c), b.rows+1)
}
func (b chartBlock) categories() string  { return b.ref(b.left) }
func (b chartBlock) values(j int) string { return b.ref(b.left + 1 + j) }
func (b chartBlock) name(j int) string {
	return "'" + chartDataSheet + "'!$" + colName(b.left+1+j) + "$1"
}

// writeChartData writes a chart's data as a small wide table (categories by
// series) on a hidden sheet, out of the reader's way and off the printed pages,
// beside the blocks of the charts before it. value(i, j) is the value of category i
// in series j; a value that is not ok is left blank.
func writeChartData(f *excelize.File, x string, names, cats []string, value func(i, j int) (float64, bool)) (chartBlock, error) {
	const data = chartDataSheet
	if i, _ := f.GetSheetIndex(data); i < 0 {
		if _, err := f.NewSheet(data); err != nil {
			return chartBlock{}, err
		}
		if err := f.SetSheetVisible(data, false, true); err != nil {
			return chartBlock{}, err
		}
	}
	cols, _ := f.GetCols(data)
	left := len(cols) + 1
	if left > 1 {
		left++ // a blank column between blocks
	}
	at := func(c, row int) string { s, _ := excelize.CoordinatesToCellName(c, row); return s }
	f.SetCellValue(data, at(left, 1), x)
	for j, n := range names {
		f.SetCellValue(data, at(left+1+j, 1), n)
	}
	for i, c := range cats {
		f.SetCellValue(data, at(left, i+2), c)
		for j := range names {
			if v, ok := value(i, j); ok {
				f.SetCellValue(data, at(left+1+j, i+2), v)
			}
		}
	}
	return chartBlock{left: left, rows: len(cats)}, nil
}
