// Package suppress is the disclosure control of everything meant to leave the
// organization (docs/methods.md, Disclosure control). It works on a plain table model, once, before
// any renderer sees the numbers, and protects the set of released tables together, not
// cell by cell:
//
//   - every count is rounded to the middle of its band of six (midpoint-6 rounding:
//     1-6 shows as 3, 7-12 as 9, 13-18 as 15; 0 stays 0), so that a difference of two
//     released counts (two steps of a curve, two retention days over one denominator,
//     a window against its quarter, one program against the network) always spans
//     eleven or more values and never pins down a count from 1 to 10;
//   - a count that rounds to 10 or less (1 to 12 people) is not shown;
//   - a second cell is hidden wherever the total minus the shown members (with the
//     uncertainty the rounding leaves) would still show that the hidden members add
//     up to 1 to 10 (complementary suppression);
//   - every rate, interval and limit is computed again from the released counts, and
//     one built on a hidden count is hidden.
package suppress

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/iop-outcomes/outcomes/pipeline/stats"
)

// Kind says what a column holds.
type Kind int

// Column kinds.
const (
	Label Kind = iota // text that identifies the row
	Count             // a count of people, episodes or sessions
	Rate              // a rate built on counts (see Column.From)
	Other             // anything else (not suppressed)
)

// Ways a rate is computed again from the released counts (Column.Derive).
const (
	Ratio       = "ratio"        // numerator / denominator
	WilsonLower = "wilson_lower" // Wilson 95% interval of numerator out of denominator
	WilsonUpper = "wilson_upper"
	// Funnel limits around the rate of the total row (Column.WithTotal) for the
	// row's denominator (From[1]): normal approximation to the binomial.
	FunnelLower95  = "funnel_lower_95"
	FunnelUpper95  = "funnel_upper_95"
	FunnelLower998 = "funnel_lower_998"
	FunnelUpper998 = "funnel_upper_998"
	// Mean is a mean of values (scores) over the rate's count, not a share of
	// counts: it is kept, and hidden with its count.
	Mean = "mean"
	// Withheld is a figure that cannot be computed from released counts (a step of
	// a Kaplan-Meier curve): under rounding it is hidden in every row.
	Withheld = "withheld"
)

// Derivations lists the values Column.Derive may take.
func Derivations() []string {
	return []string{Ratio, WilsonLower, WilsonUpper, FunnelLower95, FunnelUpper95, FunnelLower998, FunnelUpper998, Mean, Withheld}
}

// Column is one column of a table.
type Column struct {
	Name string
	Kind Kind
	// From names the numerator and denominator count columns of a Rate, and of the
	// limits of its interval (which are also Rate columns).
	From [2]string
	// Derive says how a Rate is computed again from the released counts when counts
	// are rounded (one of Derivations); empty keeps the value, hidden with its counts.
	Derive string
	// WithTotal names a Rate column of the total row this column is built on (funnel
	// limits): when that cell is hidden, the column is hidden in every row.
	WithTotal string
}

// Cell is one value.
type Cell struct {
	Value      float64
	Null       bool
	Suppressed bool
}

// Row is one row. Rows that share a Group add up, in every count column, to the row of
// that group marked Total (for example programs and ALL, per measure and quarter).
type Row struct {
	Cells []Cell
	Group string
	Total bool
	// Link ties rows that hold the same figures (one total repeated as the total of
	// several groups: all episodes, once for each attribute they are grouped by):
	// rows with the same non-empty Link are hidden alike, cell by cell, for a figure
	// hidden in one copy and shown in another is not hidden at all.
	Link string
}

// Table is a table before rendering.
type Table struct {
	Columns []Column
	Rows    []Row
}

// Limits of the small counts that are hidden: a released count (after rounding) from
// Min to Max is never shown.
const (
	Min = 1
	Max = 10
)

// Band is the width of the rounding bands.
const Band = 6

// Policy says how a table is released. External is the policy of every output meant
// to leave the organization; the switches exist so that tests can show what each
// part of it protects against.
type Policy struct {
	// Round rounds every count to the middle of its band of Band (midpoint-6).
	Round bool
	// Complementary hides further cells wherever the hidden ones could be worked
	// out from the totals.
	Complementary bool
}

// External is the policy for reports meant to leave the organization.
var External = Policy{Round: true, Complementary: true}

// Round6 rounds a count to the middle of its band of six: 0 stays 0, 1-6 gives 3,
// 7-12 gives 9, 13-18 gives 15. A released value r > 0 stands for r-2 to r+3.
func Round6(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return v
	}
	return Band*math.Ceil(v/Band) - Band/2
}

func small(v float64) bool { return v >= Min && v <= Max }

// Rule is the rule of a policy in words, for the footer of a report and its Methods.
func (p Policy) Rule() string {
	switch {
	case p.Round:
		return "counts are rounded to the middle of a band of six (13-18 shows as 15, 19-24 as 21; 0 stays 0) and every rate, interval and chart point is computed from the rounded counts; counts of 1 to 12 (which would show as 3 or 9) are not shown (*), nor any cell from which a hidden count could be worked out"
	default:
		return "counts from 1 to 10 are not shown (*), nor any cell from which one could be worked out"
	}
}

// interval is what a reader knows of a count: it lies from lo to hi.
type interval struct{ lo, hi float64 }

// known is the interval a released count stands for.
func (p Policy) known(v float64) interval {
	if p.Round && v > 0 {
		return interval{v - (Band/2 - 1), v + Band/2}
	}
	return interval{v, v}
}

// Apply releases t in place under policy p and returns the number of cells hidden:
// counts are rounded (p.Round); a count from Min to Max is hidden; without rounding,
// so is a numerator whose complement (denominator minus numerator) is from 1 to 10
// (a rounded complement spans eleven values and pins nothing down); then, until
// nothing changes, further cells of a group whose hidden members the total and the
// shown members would give away (p.Complementary), every cell of a row linked to
// one where it is hidden (Row.Link), every rate whose numerator or denominator is
// hidden, and every column built on a hidden total. Last, rates are
// computed again from the released counts (p.Round).
func Apply(t *Table, p Policy) (int, error) {
	idx := map[string]int{}
	for i, c := range t.Columns {
		idx[c.Name] = i
	}
	for _, c := range t.Columns {
		if c.Kind == Rate {
			for _, f := range c.From {
				if j, ok := idx[f]; !ok || t.Columns[j].Kind != Count {
					return 0, fmt.Errorf("rate column %s is built on %q, which is not a count column of the table", c.Name, f)
				}
			}
		}
		if c.WithTotal != "" {
			if j, ok := idx[c.WithTotal]; !ok || t.Columns[j].Kind != Rate {
				return 0, fmt.Errorf("column %s is built on the total's %q, which is not a rate column of the table", c.Name, c.WithTotal)
			}
		}
		if c.Derive != "" && (c.Kind != Rate || !slices.Contains(Derivations(), c.Derive)) {
			return 0, fmt.Errorf("column %s: derive %q: a rate is derived as one of %v", c.Name, c.Derive, Derivations())
		}
	}
	hidden := 0
	hide := func(r, c int) bool {
		cell := &t.Rows[r].Cells[c]
		if cell.Suppressed || cell.Null {
			return false
		}
		cell.Suppressed = true
		hidden++
		return true
	}
	if p.Round {
		for r := range t.Rows {
			for c, col := range t.Columns {
				if cell := &t.Rows[r].Cells[c]; col.Kind == Count && !cell.Null {
					cell.Value = Round6(cell.Value)
				} else if col.Derive == Withheld {
					hide(r, c)
				}
			}
		}
	}
	// Primary suppression.
	for r := range t.Rows {
		for c, col := range t.Columns {
			cell := t.Rows[r].Cells[c]
			if col.Kind == Count && !cell.Null && small(cell.Value) {
				hide(r, c)
			}
		}
		if p.Round {
			continue
		}
		for _, col := range t.Columns {
			if col.Kind != Rate {
				continue
			}
			num, den := idx[col.From[0]], idx[col.From[1]]
			n, d := t.Rows[r].Cells[num], t.Rows[r].Cells[den]
			if !n.Null && !d.Null && small(d.Value-n.Value) {
				hide(r, num)
			}
		}
	}
	// denOf maps a numerator column to its denominator column, from the rates.
	denOf := map[int]int{}
	for _, col := range t.Columns {
		if col.Kind == Rate && col.From[0] != col.From[1] {
			denOf[idx[col.From[0]]] = idx[col.From[1]]
		}
	}
	// Complementary suppression and rates, until stable.
	groups := map[string][]int{}
	var names []string
	for r, row := range t.Rows {
		if row.Group == "" {
			continue
		}
		if _, ok := groups[row.Group]; !ok {
			names = append(names, row.Group)
		}
		groups[row.Group] = append(groups[row.Group], r)
	}
	sort.Strings(names)
	links := map[string][]int{}
	for r, row := range t.Rows {
		if row.Link != "" {
			links[row.Link] = append(links[row.Link], r)
		}
	}
	for changed := true; changed; {
		changed = false
		for _, g := range names {
			if !p.Complementary {
				break
			}
			rows := groups[g]
			for c, col := range t.Columns {
				if col.Kind != Count {
					continue
				}
				if !p.leaks(t, rows, c, denOf) {
					continue
				}
				// Hide the smallest shown member that is not zero (a zero is known
				// to a reader from its denominator, and hides nothing); with none
				// left, hide the total.
				best, total := -1, -1
				for _, r := range rows {
					cell := t.Rows[r].Cells[c]
					if t.Rows[r].Total {
						total = r
					} else if !cell.Null && !cell.Suppressed && cell.Value > 0 && (best < 0 || cell.Value < t.Rows[best].Cells[c].Value) {
						best = r
					}
				}
				if best >= 0 {
					changed = hide(best, c) || changed
				} else {
					changed = hide(total, c) || changed
				}
			}
		}
		for r := range t.Rows {
			for c, col := range t.Columns {
				if col.Kind != Rate {
					continue
				}
				num, den := idx[col.From[0]], idx[col.From[1]]
				if t.Rows[r].Cells[num].Suppressed || t.Rows[r].Cells[den].Suppressed {
					changed = hide(r, c) || changed
				}
			}
		}
		for _, rows := range links {
			for c := range t.Columns {
				if slices.ContainsFunc(rows, func(r int) bool { return t.Rows[r].Cells[c].Suppressed }) {
					for _, r := range rows {
						changed = hide(r, c) || changed
					}
				}
			}
		}
		for c, col := range t.Columns {
			if col.WithTotal == "" {
				continue
			}
			k := idx[col.WithTotal]
			for _, row := range t.Rows {
				if row.Total && row.Cells[k].Suppressed {
					for r := range t.Rows {
						changed = hide(r, c) || changed
					}
				}
			}
		}
	}
	if p.Round {
		derive(t, idx)
	}
	return hidden, nil
}

// leaks reports whether a group's hidden cells in count column c can be narrowed to
// a count from 1 to 10 from its total and shown members: the hidden members add up
// to the total minus the shown ones, and, when their denominators are shown, their
// complements add up to the total's complement minus the shown ones. Without
// rounding a single unknown is given back outright.
func (p Policy) leaks(t *Table, rows []int, c int, denOf map[int]int) bool {
	total := -1
	var shownSum interval
	var hidden []int
	for _, r := range rows {
		cell := t.Rows[r].Cells[c]
		switch {
		case t.Rows[r].Total:
			total = r
		case cell.Null:
		case cell.Suppressed:
			hidden = append(hidden, r)
		default:
			k := p.known(cell.Value)
			shownSum.lo += k.lo
			shownSum.hi += k.hi
		}
	}
	if total < 0 {
		return false
	}
	tc := t.Rows[total].Cells[c]
	if tc.Suppressed {
		// The total is the sum of the members: with every member shown it is
		// given back (exactly, or within the rounding).
		if len(hidden) > 0 {
			return false
		}
		return !p.Round || (shownSum.lo >= Min && shownSum.hi <= Max)
	}
	if len(hidden) == 0 {
		return false
	}
	if !p.Round && len(hidden) == 1 {
		return true
	}
	tk := p.known(tc.Value)
	// The hidden members add up to at least one each.
	sum := interval{math.Max(tk.lo-shownSum.hi, float64(len(hidden))), tk.hi - shownSum.lo}
	if sum.hi <= Max {
		return true
	}
	d, ok := denOf[c]
	if !ok || t.Rows[total].Cells[d].Suppressed {
		return false
	}
	// The hidden members' complements (denominator minus numerator).
	var dens interval
	for _, r := range hidden {
		cell := t.Rows[r].Cells[d]
		if cell.Suppressed || cell.Null {
			return false
		}
		k := p.known(cell.Value)
		dens.lo += k.lo
		dens.hi += k.hi
	}
	comp := interval{math.Max(0, dens.lo-sum.hi), dens.hi - sum.lo}
	return comp.lo >= Min && comp.hi <= Max
}

// derive computes every shown rate with a derivation again from the released counts
// of its row (and the total's, for funnel limits).
func derive(t *Table, idx map[string]int) {
	z95, z998 := distuv.UnitNormal.Quantile(0.975), distuv.UnitNormal.Quantile(0.999)
	totalRate := map[string]float64{}
	ratio := func(row Row, col Column) (float64, bool) {
		n, d := row.Cells[idx[col.From[0]]], row.Cells[idx[col.From[1]]]
		if n.Null || d.Null || d.Value <= 0 {
			return 0, false
		}
		return n.Value / d.Value, true
	}
	for _, row := range t.Rows {
		if !row.Total {
			continue
		}
		for _, col := range t.Columns {
			if col.Kind == Rate && col.Derive == Ratio {
				if v, ok := ratio(row, col); ok {
					totalRate[row.Group+"\x00"+col.Name] = v
				}
			}
		}
	}
	for r := range t.Rows {
		row := t.Rows[r]
		for c, col := range t.Columns {
			cell := &t.Rows[r].Cells[c]
			if col.Kind != Rate || col.Derive == "" || col.Derive == Mean || col.Derive == Withheld || cell.Null || cell.Suppressed {
				continue
			}
			n, d := row.Cells[idx[col.From[0]]].Value, row.Cells[idx[col.From[1]]].Value
			v, ok := 0.0, d > 0
			switch col.Derive {
			case Ratio:
				v, ok = ratio(row, col)
			case WilsonLower, WilsonUpper:
				lo, hi := stats.Wilson(int(n), int(d), 0.95)
				v = map[bool]float64{true: lo, false: hi}[col.Derive == WilsonLower]
			default:
				p0, found := totalRate[row.Group+"\x00"+col.WithTotal]
				ok = ok && found
				z := z95
				if col.Derive == FunnelLower998 || col.Derive == FunnelUpper998 {
					z = z998
				}
				half := z * math.Sqrt(p0*(1-p0)/d)
				if col.Derive == FunnelLower95 || col.Derive == FunnelLower998 {
					v = math.Max(0, p0-half)
				} else {
					v = math.Min(1, p0+half)
				}
			}
			if ok {
				cell.Value = v
			} else {
				cell.Null = true
			}
		}
	}
}

// Derivable reports the hidden cells that can be worked out from what is shown, using
// the relations a reader knows: a group's members add up to its total, a rate is its
// numerator over its denominator. Apply must leave none; tests use this to show it.
func Derivable(t *Table) [][2]int {
	idx := map[string]int{}
	for i, c := range t.Columns {
		idx[c.Name] = i
	}
	known := make([][]bool, len(t.Rows))
	for r, row := range t.Rows {
		known[r] = make([]bool, len(t.Columns))
		for c, cell := range row.Cells {
			known[r][c] = !cell.Suppressed
		}
	}
	groups := map[string][]int{}
	for r, row := range t.Rows {
		if row.Group != "" {
			groups[row.Group] = append(groups[row.Group], r)
		}
	}
	for progress := true; progress; {
		progress = false
		learn := func(r, c int) {
			if !known[r][c] {
				known[r][c] = true
				progress = true
			}
		}
		for _, rows := range groups {
			for c, col := range t.Columns {
				if col.Kind != Count {
					continue
				}
				var unknown [][2]int
				hasTotal := false
				for _, r := range rows {
					if t.Rows[r].Total {
						hasTotal = true
					}
					if !known[r][c] {
						unknown = append(unknown, [2]int{r, c})
					}
				}
				if hasTotal && len(unknown) == 1 {
					learn(unknown[0][0], unknown[0][1])
				}
			}
		}
		for r := range t.Rows {
			for c, col := range t.Columns {
				if col.Kind != Rate {
					continue
				}
				num, den := idx[col.From[0]], idx[col.From[1]]
				if t.Rows[r].Cells[c].Null || t.Rows[r].Cells[num].Null {
					continue // an empty rate or numerator gives nothing
				}
				// rate = num / den: any two give the third (den > 0).
				k := 0
				for _, x := range []int{c, num, den} {
					if known[r][x] {
						k++
					}
				}
				if k == 2 && t.Rows[r].Cells[den].Value != 0 {
					learn(r, c)
					learn(r, num)
					learn(r, den)
				}
				// 0 <= numerator <= denominator: a known zero denominator gives a
				// zero numerator.
				if known[r][den] && t.Rows[r].Cells[den].Value == 0 {
					learn(r, num)
				}
			}
		}
	}
	var out [][2]int
	for r, row := range t.Rows {
		for c, cell := range row.Cells {
			if cell.Suppressed && known[r][c] && !math.IsNaN(cell.Value) {
				out = append(out, [2]int{r, c})
			}
		}
	}
	return out
}
