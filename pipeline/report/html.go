package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// echartsJS is Apache ECharts 5.6.0, inlined into every page (see assets/README.md).
//
//go:embed assets/echarts.min.js
var echartsJS string

// cellText formats a value for a person: percentages, numbers without noise, "*" for
// a suppressed cell.
func cellText(v any, c Column, hidden bool) string {
	if hidden {
		return "*"
	}
	if v == nil {
		return ""
	}
	f, ok := number(v)
	if !ok {
		return fmt.Sprint(v)
	}
	switch {
	case c.Format == "percent":
		return fmt.Sprintf("%.1f%%", 100*f)
	case c.Format == "0.00":
		return fmt.Sprintf("%.2f", f)
	case c.Format == "0.0000":
		return fmt.Sprintf("%.4f", f)
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.3g", f)
}

// chartNotes are the notes of a section's chart: for each row whose Chart.Note
// column is not empty (nor suppressed), the row's label, a colon and the note.
func chartNotes(r Result) []string {
	if r.Chart.Note == "" {
		return nil
	}
	note, label := -1, -1
	for i, c := range r.Columns {
		switch c.Name {
		case r.Chart.Note:
			note = i
		case r.Chart.Label:
			label = i
		}
	}
	var out []string
	for i, row := range r.Rows {
		if note < 0 || row[note] == nil || r.Hidden[i][note] {
			continue
		}
		text := fmt.Sprint(row[note])
		if text == "" {
			continue
		}
		if label >= 0 {
			text = fmt.Sprint(row[label]) + ": " + text
		}
		out = append(out, text)
	}
	return out
}

// networkText is the network's figure of a measure for a person: a share as a
// percentage, a count as a number.
func networkText(m Measure) string {
	if isCount(m.Measure) {
		return cellText(m.Network, Column{}, m.NetworkHidden)
	}
	if isDays(m.Measure) {
		return daysText(m.Network, m.NetworkHidden)
	}
	return cellText(m.Network, Column{Format: "percent"}, m.NetworkHidden)
}

// daysText is a length of stay in days, or "*" when it is not shown.
func daysText(v any, hidden bool) string {
	if t := cellText(v, Column{}, hidden); t != "" && t != "*" {
		return t + " days"
	} else {
		return t
	}
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// missingBox is a whisker with no values, which ECharts skips.
func missingBox() []any { return []any{"-", "-", "-", "-", "-"} }

// htmlSection is what the page template needs of a section.
type htmlSection struct {
	ID, Title, Description string
	Tiles                  []tile
	Header                 []string
	Rows                   [][]htmlCell
	Options                map[string]any
	Suppressed             bool
	// Notes are the chart's notes (Chart.Note), each after its row's label.
	Notes []string
	// Part is the section's part of the report: board or appendix.
	Part string
}

type htmlCell struct {
	Text    string
	Numeric bool
	// Token marks a long text without spaces (a hash, a path), which may break
	// anywhere to fit the page.
	Token bool
}

// emptyChart says why a chart has nothing to draw, or nothing when it has: every
// value it draws is not shown (small counts) or not there.
func emptyChart(r Result) string {
	name := r.Chart.Y
	if r.Chart.Type == "heatmap" {
		name = r.Chart.Value
	}
	j := slices.IndexFunc(r.Columns, func(c Column) bool { return c.Name == name })
	if j < 0 || r.Chart.Type == "table" {
		return ""
	}
	total := slices.IndexFunc(r.Columns, func(c Column) bool { return c.Name == r.Suppress.Total.Column })
	hidden := false
	for i, row := range r.Rows {
		if r.Chart.Type == "funnel" && total >= 0 && fmt.Sprint(row[total]) == r.Suppress.Total.Value {
			continue // the funnel draws the programs around the total, not the total
		}
		if r.Hidden[i][j] {
			hidden = true
		} else if row[j] != nil {
			return ""
		}
	}
	if hidden {
		return "Nothing to draw: every figure of this chart is too small to show without singling people out (not shown: counts under 13)."
	}
	return "Nothing to draw: no figure of this chart can be computed for the period yet."
}

// tile is one key measure: its label, figure and sub-line, and its definition (shown
// when the pointer rests on it; the appendix lists every definition).
type tile struct{ Label, Value, Sub, Definition, Met string }

// retentionDay is the day of a retention measure (retention_90: 90), 0 for others.
func retentionDay(name string) int {
	var n int
	fmt.Sscanf(name, "retention_%d", &n)
	return n
}

// RenderHTML writes the report as one self-contained page: ECharts is inlined and
// nothing is fetched; every value from the data is escaped by html/template.
func RenderHTML(w io.Writer, rep *Report) error {
	var sections []htmlSection
	for _, r := range rep.Sections {
		hs := htmlSection{ID: "chart-" + strings.TrimSuffix(r.File, ".yaml"), Title: r.Title, Description: r.Description, Part: r.Part}
		for _, c := range r.Columns {
			hs.Header = append(hs.Header, c.Label)
		}
		for i, row := range r.Rows {
			var cells []htmlCell
			for j, v := range row {
				_, num := number(v)
				text := cellText(v, r.Columns[j], r.Hidden[i][j])
				cells = append(cells, htmlCell{Text: text, Numeric: num, Token: len(text) > 12 && !strings.Contains(text, " ")})
				hs.Suppressed = hs.Suppressed || r.Hidden[i][j]
			}
			hs.Rows = append(hs.Rows, cells)
		}
		hs.Notes = chartNotes(r)
		if note := trendNote(r); note != "" {
			hs.Notes = append(hs.Notes, note)
		}
		if r.Chart.Type == "kpi_tiles" {
			col := map[string]int{}
			for i, c := range r.Columns {
				col[c.Name] = i
			}
			measures := map[string]Measure{}
			for _, m := range rep.Measures {
				measures[label(m.Measure)] = m
			}
			pct := Column{Format: "percent"}
			for i, row := range r.Rows {
				t := tile{Label: fmt.Sprint(row[col[r.Chart.Label]])}
				v, hidden := row[col[r.Chart.Value]], r.Hidden[i][col[r.Chart.Value]]
				t.Value = cellText(v, r.Columns[col[r.Chart.Value]], hidden)
				var sub []string
				m, known := measures[t.Label]
				term, _, _ := lookup(m.Measure)
				t.Definition = term.Definition
				if j, ok := col["numerator"]; ok && known && isCount(m.Measure) {
					// A count (census, admissions, discharges) is its numerator.
					v, hidden = row[j], r.Hidden[i][j]
					t.Value = cellText(v, r.Columns[j], hidden)
					if k, ok := col["prior_numerator"]; ok && row[k] != nil && !r.Hidden[i][k] {
						sub = append(sub, "prior "+cellText(row[k], r.Columns[k], false))
					}
					t.Sub = strings.Join(sub, " · ")
					hs.Tiles = append(hs.Tiles, t)
					continue
				}
				days := known && isDays(m.Measure)
				figure := func(v any) string { return cellText(v, pct, false) }
				if j, ok := col["median_days"]; ok && days {
					// A median length of stay, in days, over the period's discharges.
					v, hidden = row[j], r.Hidden[i][j]
					t.Value = daysText(v, hidden)
					figure = func(v any) string { return daysText(v, false) }
				}
				switch {
				case hidden:
					t.Value = "not shown"
					sub = append(sub, "too few episodes to show without singling people out")
				case v == nil && term.KaplanMeier && rep.Manifest.PlannedDays > 0 && rep.Manifest.PlannedDays < retentionDay(term.Name):
					t.Value = "does not apply"
					if rep.Manifest.Program == "ALL" {
						sub = append(sub, fmt.Sprintf("no program plans more than %d days of treatment", rep.Manifest.PlannedDays))
					} else {
						sub = append(sub, fmt.Sprintf("the program plans %d days of treatment", rep.Manifest.PlannedDays))
					}
				case v == nil && days:
					t.Value = "none yet"
					sub = append(sub, "no episode was discharged in the period")
				case v == nil:
					t.Value = "not yet"
					sub = append(sub, "no episode of the period has been followed long enough, or none is in the denominator")
				default:
					if j, ok := col["denominator"]; ok && days {
						sub = append(sub, "median of "+cellText(row[j], r.Columns[j], r.Hidden[i][j])+" discharged")
					} else if ok {
						sub = append(sub, "of "+cellText(row[j], r.Columns[j], r.Hidden[i][j]))
					}
					if term.KaplanMeier && rep.Manifest.Audience != "external" {
						// The rate is not the numerator over the denominator.
						sub = append(sub, "Kaplan-Meier estimate")
					}
				}
				if known {
					if m.Prior != nil && !m.PriorHidden {
						sub = append(sub, "prior "+figure(m.Prior))
					}
					if m.Target != nil {
						sub = append(sub, "target "+figure(m.Target)+map[string]string{"yes": " (met)", "no": " (not met)", "unclear": " (too few to tell)"}[m.Met])
					}
					if rep.Manifest.Program != "ALL" && m.Network != nil && !m.NetworkHidden {
						sub = append(sub, "network "+networkText(m))
					}
				}
				t.Sub = strings.Join(sub, " · ")
				t.Met = m.Met
				hs.Tiles = append(hs.Tiles, t)
			}
		} else {
			hs.Options = chartOptions(r)
			if why := emptyChart(r); why != "" {
				hs.Notes = append(hs.Notes, why)
			}
		}
		sections = append(sections, hs)
	}
	var flow [][2]string
	for _, st := range rep.CohortFlow {
		n := fmt.Sprint(st.N)
		if st.Hidden {
			n = "*"
		}
		flow = append(flow, [2]string{st.Step, n})
	}
	var params [][2]string
	var keys []string
	for k := range rep.Manifest.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		params = append(params, [2]string{k, rep.Manifest.Parameters[k]})
	}
	return pageTemplate().Execute(w, map[string]any{
		"Manifest": rep.Manifest,
		"Summary":  rep.Summary,
		"Sections": sections,
		"Appendix": rep.Manifest.Sections != "board",
		"Flow":     flow,
		"Params":   params,
		"ECharts":  template.JS(echartsJS),
		// The rules are the report's own text, not data.
		"ModelRules": modelRules,
		"Measures":   vocabulary(),
		"Models":     modelTerms(),
	})
}

// modelRules is how the adjusted models treat covariates, as R's coxph and glm do;
// the Methods of the page and of the workbook state it.
const modelRules = "Adjusted models follow R's coxph and glm: a covariate missing for every episode of a fit, or with one value among them, is left out of that fit; " +
	"episodes missing a covariate that is used are left out (complete cases) and counted beside n; a term that is constant or a linear combination of the terms before it " +
	"(aliased, found by orthogonalizing the columns in order with R's tolerance of 1e-7) is left out with no estimate; a coefficient that keeps growing while the likelihood " +
	"has converged (separation, as R's \"Loglik converged before variable\") is flagged by name, has no estimate, and makes the fit not converged. Each model's warning says what was left out and why. " +
	"p values are two-sided Wald p values from the normal upper tail, and every interval and limit uses the exact normal quantile (1.959963984540054 for 95%, 3.090232306167813 for 99.8%)."

// pageTemplate is the page; html/template escapes every value from the data, in text,
// attributes and the chart options alike.
func pageTemplate() *template.Template {
	return template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quarterly outcomes report {{.Manifest.Period}}, {{.Manifest.ProgramName}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; color: #222; }
header { border-bottom: 2px solid #2f5597; margin-bottom: 16px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 4px; color: #2f5597; }
.appendix { margin-top: 40px; border-top: 2px solid #2f5597; }
.appendix > h1 { margin-top: 12px; }
.meta { color: #555; font-size: 0.9em; margin: 0 0 10px; }
.chart { width: 100%; height: 380px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { border: 1px solid #ccd; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.tile.met-yes { border-left: 6px solid #2e7d32; }
.tile.met-no { border-left: 6px solid #c62828; }
.tile.met-unclear { border-left: 6px solid #f9a825; }
.tile .v { font-size: 1.6em; font-weight: 600; }
.tile .l, .tile .s { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 8px; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef2f8; }
details { margin-top: 6px; }
.note { font-size: 0.85em; color: #555; }
td, th { overflow-wrap: break-word; }
td.tok { overflow-wrap: anywhere; word-break: break-all; }
@page { margin: 12mm; }
.note.warning { color: #8a3000; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .chart { break-inside: avoid; page-break-inside: avoid; width: 100%; }
  tr, .tiles, .note, .keep { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: 7.5pt; }
  th, td { padding: 2px 3px; }
  details > summary { display: none; }
  .appendix { break-before: page; page-break-before: always; border-top: none; margin-top: 0; }
}
</style>
<script>{{.ECharts}}</script>
</head>
<body>
<header>
<h1>Quarterly outcomes report</h1>
<p class="meta">{{.Manifest.ProgramName}} ({{.Manifest.Program}}) · period {{.Manifest.Period}}{{if .Manifest.Partial}} ({{.Manifest.Partial}}){{else}} (prior {{.Manifest.Prior}}){{end}} · audience {{.Manifest.Audience}} · data as of {{.Manifest.DataAsOf}} · version {{.Manifest.Version}}{{if .Manifest.Suppressed}} · {{.Manifest.Suppressed}} cells suppressed (*){{end}}</p>
</header>
{{if .Summary}}<section class="summary">
<h2>Summary</h2>
<ul>{{range .Summary}}<li>{{.}}</li>{{end}}</ul>
</section>
{{end}}{{range .Sections}}{{if eq .Part "board"}}{{template "section" .}}{{end}}{{end}}{{if .Appendix}}<div class="appendix">
<h1>Appendix</h1>
<p class="note">How the figures were made and what they were made from, for the quality lead, the accreditor and the analyst. A director can leave it out: report --sections board.</p>
<section>
<h2>Methods</h2>
<p class="note">Every measure and model is defined in the tables below (day 0 is admission; attendance counts attended against attended, no-show and patient cancellations; dropout is discharge as dropped out or terminated, at the last attended session). The landmark analysis relates attendance in the first weeks to what happens after, among episodes still in treatment then; the naive model is biased and shown only for comparison. Relapse is a run of k weeks of positive screens (k = 4 for consecutive4) dated to its first week, read within the outcome window (outcome_window_weeks; 0: the whole episode); since a run that starts in the last k-1 observed weeks can never be seen, an episode without relapse is censored at the last week a run could still have been seen to start (its last observed week - k + 1), never at discharge, and one with no such week after the landmark had no time at risk and is left out of the relapse curves and models; relapse by the horizon counts no relapse only when every week before the horizon could still have been seen. {{.ModelRules}} The workbook's Methods and Data dictionary sheets, and manifest.json, give every definition, parameter and export file (by SHA-256).</p>
<p class="note">Disclosure control: {{if .Manifest.Disclosure}}{{.Manifest.Disclosure}} ({{.Manifest.Suppressed}} cells not shown).{{else}}none (internal audience: not for release outside the organization).{{end}} Export files loaded: {{len .Manifest.Ledger}}.</p>
</section>
{{range .Sections}}{{if eq .Part "appendix"}}{{template "section" .}}{{end}}{{end}}<section>
<h2>Definitions</h2>
<table><thead><tr><th>Measure</th><th>Definition</th><th>Better</th></tr></thead>
<tbody>{{range .Measures}}<tr><td>{{.Label}}</td><td>{{.Definition}}</td><td>{{if eq .Unit "episodes"}}{{else if .Higher}}higher{{else}}lower{{end}}</td></tr>
{{end}}</tbody></table>
<table><thead><tr><th>Model</th><th>Ratio</th></tr></thead>
<tbody>{{range .Models}}<tr><td>{{.Label}}</td><td>{{.Definition}} Below 1: fewer {{if eq .Name "landmark_logistic_relapse"}}relapses{{else}}events{{end}} with more sessions.</td></tr>
{{end}}</tbody></table>
<h2>Cohort flow</h2>
<table><thead><tr><th>Cohort flow</th><th>Episodes</th></tr></thead>
<tbody>{{range .Flow}}<tr><td>{{index . 0}}</td><td class="n">{{index . 1}}</td></tr>{{end}}</tbody></table>
</section>
<section>
<h2>Parameters</h2>
<table><thead><tr><th>Parameter</th><th>Value</th></tr></thead>
<tbody>{{range .Params}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</tbody></table>
</section>
</div>
{{end}}{{if .Manifest.Disclosure}}<footer class="note">For release: {{.Manifest.Disclosure}}.</footer>
{{end}}<script>
var charts = [];
// A chart's axis of shares (marked percent) is labelled in per cent, and so are the
// values its tooltips show.
function percent(v) { return typeof v === "number" ? Math.round(v * 100) + "%" : v; }
function track(c) {
  charts.push(c);
  var set = c.setOption.bind(c);
  c.setOption = function (o) {
    [].concat(o.yAxis || []).forEach(function (a) {
      if (a.percent) {
        a.axisLabel = Object.assign({}, a.axisLabel, {formatter: percent});
        o.tooltip = Object.assign({}, o.tooltip, {valueFormatter: percent});
      }
    });
    return set(o);
  };
  return c;
}
{{range .Sections}}{{if .Options}}track(echarts.init(document.getElementById({{.ID}}), null, {renderer: "canvas"})).setOption({{.Options}});
{{end}}{{end}}
// Printing opens every table and draws the charts again at the width of the page;
// preparePrint is also what report --pdf calls before it prints.
var opened = [];
function preparePrint() {
  document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  charts.forEach(function (c) { c.resize(); });
}
function afterPrint() {
  opened.forEach(function (d) { d.open = false; });
  opened = [];
  charts.forEach(function (c) { c.resize(); });
}
window.addEventListener("beforeprint", preparePrint);
window.addEventListener("afterprint", afterPrint);
// The page's print layout is known only once print media apply.
window.matchMedia("print").addEventListener("change", function (e) {
  if (e.matches) { preparePrint(); } else { afterPrint(); }
});
window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
</script>
</body>
</html>
{{define "section"}}<section>
<div class="keep"><h2>{{.Title}}</h2>
<p class="note">{{.Description}}</p>
{{if .Tiles}}<div class="tiles">{{range .Tiles}}<div class="tile{{if .Met}} met-{{.Met}}{{end}}" title="{{.Definition}}"><div class="l">{{.Label}}</div><div class="v">{{.Value}}</div><div class="s">{{.Sub}}</div></div>{{end}}</div>
{{else if .Options}}<div class="chart" id="{{.ID}}"></div>
{{end}}</div>{{range .Notes}}<p class="note warning">{{.}}</p>
{{end}}<details{{if not .Options}} open{{end}}><summary>Table</summary>
<table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if .Numeric}} class="n"{{else if .Token}} class="tok"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></details>
{{if .Suppressed}}<p class="note">* not shown: a small count, or a value from which one could be worked out.</p>{{end}}
</section>
{{end}}`))
}
