// Package report is the reports stage of the data flow: it reads the report sections
// defined in dashboards/, runs their SQL against the model tables, suppresses small
// counts once for an external audience, and renders the result as one self-contained
// HTML page (ECharts inlined) and one Excel workbook, with a manifest.
package report

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iop-outcomes/outcomes/pipeline/suppress"
)

// Section is one report section, as defined by a YAML file in dashboards/.
type Section struct {
	File        string `yaml:"-"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Sheet       string `yaml:"sheet"`
	// Part is "board", a page for the board that every report has, or "appendix",
	// the engine room (methods, models, data quality) that report --sections board
	// leaves out. The board's sections come first, the appendix's after them.
	Part string `yaml:"part"`
	// InternalOnly leaves the section out of a report for an external audience.
	InternalOnly bool `yaml:"internal_only"`
	// AllProgramsOnly leaves the section out of a single program's report.
	AllProgramsOnly bool     `yaml:"all_programs_only"`
	Chart           Chart    `yaml:"chart"`
	SQL             string   `yaml:"sql"`
	Columns         []Column `yaml:"columns"`
	Suppress        struct {
		Total struct {
			Column string `yaml:"column"`
			Value  string `yaml:"value"`
			// By names label columns that split the rows into groups, each with its
			// own total row (the groups of one attribute add up to ALL): rows that
			// agree on them form a group. The total rows of groups that agree on all
			// but the last of them are the same figures repeated, and are hidden alike.
			By []string `yaml:"by"`
		} `yaml:"total"`
	} `yaml:"suppress"`
}

// Chart says how a section is drawn; the fields name columns of the section.
type Chart struct {
	Type       string `yaml:"type"`
	X          string `yaml:"x"`
	Y          string `yaml:"y"`
	Series     string `yaml:"series"`
	Label      string `yaml:"label"`
	Value      string `yaml:"value"`
	Lower      string `yaml:"lower"`
	Upper      string `yaml:"upper"`
	LowerOuter string `yaml:"lower_outer"`
	UpperOuter string `yaml:"upper_outer"`
	// Groups split a forest plot's rows into groups drawn apart, each on its own
	// axis, in this order: a row goes to the first group whose Match its label
	// contains.
	Groups []ChartGroup `yaml:"groups"`
	// N names a line chart's denominator column, shown with each point; a point with
	// a small one is drawn hollow.
	N string `yaml:"n"`
	// Note names a text column that, where not empty, is printed under the chart
	// after the row's label: a model's warning shown beside it, not only in the table.
	Note string `yaml:"note"`
	// Centre names a p-chart's centre-line column and Signal its column that says
	// (yes) which points a control rule marks.
	Centre string `yaml:"centre"`
	Signal string `yaml:"signal"`
}

// ChartGroup is one group of a forest plot's rows (hazard ratios, odds ratios).
type ChartGroup struct {
	Name  string `yaml:"name"`
	Match string `yaml:"match"`
}

// Column is one column of a section's table.
type Column struct {
	Name   string   `yaml:"name"`
	Label  string   `yaml:"label"`
	Kind   string   `yaml:"kind"`   // label, count, rate, number
	Format string   `yaml:"format"` // percent, or an Excel number format such as 0.00
	From   []string `yaml:"from"`   // for a rate: its numerator and denominator columns
	// Derive says how a rate is computed again from the rounded counts of a report
	// for an external audience: ratio, wilson_lower, wilson_upper, funnel_lower_95,
	// funnel_upper_95, funnel_lower_998, funnel_upper_998, mean (a mean of scores,
	// kept and hidden with its count) or withheld (never shown to an external
	// audience). Every rate names one, so that no figure reaches an external report
	// that the released counts do not give.
	Derive string `yaml:"derive"`
	// Vocabulary "measures", "models" or "attributes" (what kpis_by_group groups
	// by) shows the column's names in plain words (the
	// vocabulary) and orders the rows in the vocabulary's reading order.
	Vocabulary string `yaml:"vocabulary"`
	// WithTotal names a column of the total row: when that cell is suppressed, this
	// column is suppressed in every row (funnel limits are built on the total's rate).
	WithTotal string `yaml:"with_total"`
}

// Parts are the parts of a report a section may belong to, in reading order.
func Parts() []string { return []string{"board", "appendix"} }

// ChartTypes are the chart types a section may use.
func ChartTypes() []string {
	return []string{"kpi_tiles", "line", "bar_error", "km", "forest", "funnel", "heatmap", "p_chart", "table"}
}

// LoadSections reads every section file of fsys and checks it: the
// fields it must have, the chart type, that every column a chart or rate names is a
// column of the section, and, against db, that its SQL runs and returns exactly the
// columns it lists. Errors name the file and the field. The sections come in reading
// order: the board's in name order, then the appendix's in name order.
func LoadSections(ctx context.Context, fsys fs.FS, db querier) ([]Section, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Section
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var s Section
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("dashboards/%s: %v", name, err)
		}
		s.File = name
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("dashboards/%s: %w", name, err)
		}
		if db != nil {
			if err := s.checkSQL(ctx, db); err != nil {
				return nil, fmt.Errorf("dashboards/%s: field sql: %w", name, err)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no report sections (*.yaml) found")
	}
	slices.SortStableFunc(out, func(a, b Section) int {
		return slices.Index(Parts(), a.Part) - slices.Index(Parts(), b.Part)
	})
	return out, nil
}

func (s Section) check() error {
	for field, v := range map[string]string{"title": s.Title, "sheet": s.Sheet, "part": s.Part, "sql": s.SQL, "chart.type": s.Chart.Type} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("field %s is missing", field)
		}
	}
	if !slices.Contains(Parts(), s.Part) {
		return fmt.Errorf("field part: %q is not a part of the report; use board (the pages every report has) or appendix (left out by --sections board)", s.Part)
	}
	if !slices.Contains(ChartTypes(), s.Chart.Type) {
		return fmt.Errorf("field chart.type: %q is not a chart type; use one of %s", s.Chart.Type, strings.Join(ChartTypes(), ", "))
	}
	if len(s.Sheet) > 31 || strings.ContainsAny(s.Sheet, `:\/?*[]`) {
		return fmt.Errorf("field sheet: %q is not a valid sheet name (at most 31 characters, none of : \\ / ? * [ ])", s.Sheet)
	}
	if len(s.Columns) == 0 {
		return fmt.Errorf("field columns is missing")
	}
	cols := map[string]Column{}
	for i, c := range s.Columns {
		if c.Name == "" {
			return fmt.Errorf("field columns[%d].name is missing", i)
		}
		if !slices.Contains([]string{"label", "count", "rate", "number"}, c.Kind) {
			return fmt.Errorf("field columns[%d].kind: %q; use label, count, rate or number", i, c.Kind)
		}
		if c.Vocabulary != "" && (!slices.Contains([]string{"measures", "models", "attributes"}, c.Vocabulary) || c.Kind != "label") {
			return fmt.Errorf("field columns[%d].vocabulary: %q; a label column may name the vocabulary \"measures\", \"models\" or \"attributes\"", i, c.Vocabulary)
		}
		cols[c.Name] = c
	}
	for i, c := range s.Columns {
		if c.Kind == "rate" {
			if len(c.From) != 2 {
				return fmt.Errorf("field columns[%d].from: a rate names its numerator and denominator columns", i)
			}
			for _, f := range c.From {
				if cols[f].Kind != "count" {
					return fmt.Errorf("field columns[%d].from: %q is not a count column of this section", i, f)
				}
			}
			if !slices.Contains(suppress.Derivations(), c.Derive) {
				return fmt.Errorf("field columns[%d].derive: %q; a rate says how it is computed from rounded counts: one of %s", i, c.Derive, strings.Join(suppress.Derivations(), ", "))
			}
		} else if c.Derive != "" {
			return fmt.Errorf("field columns[%d].derive: only a rate column is derived", i)
		}
	}
	ch := s.Chart
	for field, v := range map[string]string{"chart.x": ch.X, "chart.y": ch.Y, "chart.series": ch.Series, "chart.label": ch.Label,
		"chart.value": ch.Value, "chart.lower": ch.Lower, "chart.upper": ch.Upper, "chart.lower_outer": ch.LowerOuter, "chart.upper_outer": ch.UpperOuter, "chart.note": ch.Note, "chart.n": ch.N,
		"chart.centre": ch.Centre, "chart.signal": ch.Signal} {
		if _, ok := cols[v]; v != "" && !ok {
			return fmt.Errorf("field %s: %q is not a column of this section", field, v)
		}
	}
	for i, g := range ch.Groups {
		if ch.Type != "forest" || g.Name == "" || g.Match == "" {
			return fmt.Errorf("field chart.groups[%d]: a forest chart's group has a name and a match", i)
		}
	}
	need := map[string][]string{
		"kpi_tiles": {ch.Label, ch.Value}, "line": {ch.X, ch.Y, ch.Series}, "bar_error": {ch.X, ch.Y, ch.Lower, ch.Upper},
		"km": {ch.X, ch.Y, ch.Series}, "forest": {ch.Label, ch.Y, ch.Lower, ch.Upper}, "funnel": {ch.X, ch.Y, ch.Label, ch.Lower, ch.Upper},
		"heatmap": {ch.X, ch.Y, ch.Value}, "p_chart": {ch.X, ch.Y, ch.Series, ch.Lower, ch.Upper, ch.Centre},
	}[ch.Type]
	for _, v := range need {
		if v == "" {
			return fmt.Errorf("field chart: a %s chart needs the columns it draws (see the other sections)", ch.Type)
		}
	}
	for i, c := range s.Columns {
		if c.WithTotal == "" {
			continue
		}
		if _, ok := cols[c.WithTotal]; !ok || s.Suppress.Total.Column == "" {
			return fmt.Errorf("field columns[%d].with_total: %q must be a column, and the section must name its total row (suppress.total)", i, c.WithTotal)
		}
	}
	if t := s.Suppress.Total.Column; t != "" {
		if _, ok := cols[t]; !ok {
			return fmt.Errorf("field suppress.total.column: %q is not a column of this section", t)
		}
		if strings.Contains(s.SQL, "$program") {
			return fmt.Errorf("field suppress.total: a section that depends on $program is released with the all-programs rows as its totals, and names no total of its own")
		}
	}
	for i, b := range s.Suppress.Total.By {
		if cols[b].Kind != "label" || s.Suppress.Total.Column == "" {
			return fmt.Errorf("field suppress.total.by[%d]: %q must be a label column, and the section must name its total row (suppress.total)", i, b)
		}
	}
	return nil
}

// checkSQL runs the section's SQL with no rows and compares its columns.
func (s Section) checkSQL(ctx context.Context, db querier) error {
	rows, err := db.QueryContext(ctx, "SELECT * FROM ("+s.SQL+") LIMIT 0", bind(s.SQL, Period{Program: "ALL"})...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got, err := rows.Columns()
	if err != nil {
		return err
	}
	var want []string
	for _, c := range s.Columns {
		want = append(want, c.Name)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("returns the columns %s but the section lists %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return nil
}
