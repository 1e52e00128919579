// Package suppress hides small counts in tables meant to leave the organization
// (DESIGN.md section 7): every count from 1 to 10, every cell from which one could be
// derived (complementary suppression across a table's rows and their total), and every
// rate built on a hidden count. It works on a plain table model, once, before any
// renderer sees the numbers.
package suppress

import (
	"fmt"
	"math"
	"sort"
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

// Column is one column of a table.
type Column struct {
	Name string
	Kind Kind
	// From names the numerator and denominator count columns of a Rate, and of the
	// limits of its interval (which are also Rate columns).
	From [2]string
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
}

// Table is a table before rendering.
type Table struct {
	Columns []Column
	Rows    []Row
}

// Limits of the small counts that are hidden.
const (
	Min = 1
	Max = 10
)

func small(v float64) bool { return v >= Min && v <= Max }

// Apply suppresses t in place and returns the number of cells hidden. A count from 1
// to 10 is hidden; so is a numerator whose complement (denominator minus numerator) is
// from 1 to 10; then, until nothing changes, a second cell of a group in which only
// one member or only the total is hidden (so that no hidden cell is the total minus
// the rest), and every rate whose numerator or denominator is hidden.
func Apply(t *Table) (int, error) {
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
	// Primary suppression.
	for r := range t.Rows {
		for c, col := range t.Columns {
			cell := t.Rows[r].Cells[c]
			if col.Kind == Count && !cell.Null && small(cell.Value) {
				hide(r, c)
			}
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
	for changed := true; changed; {
		changed = false
		for _, g := range names {
			rows := groups[g]
			for c, col := range t.Columns {
				if col.Kind != Count {
					continue
				}
				var total = -1
				var members, hiddenMembers []int
				for _, r := range rows {
					if t.Rows[r].Total {
						total = r
					} else if !t.Rows[r].Cells[c].Null {
						members = append(members, r)
						if t.Rows[r].Cells[c].Suppressed {
							hiddenMembers = append(hiddenMembers, r)
						}
					}
				}
				if total < 0 {
					continue
				}
				totalHidden := t.Rows[total].Cells[c].Suppressed
				// The hidden members of a group with its total shown add up to the
				// total minus the shown ones: that sum must be unknown (two or more
				// hidden with the total hidden, or none) and never itself a small
				// count. One unknown in total = sum(members) is revealed outright.
				unknowns := len(hiddenMembers)
				if totalHidden {
					unknowns++
				}
				hiddenSum := 0.0
				for _, r := range hiddenMembers {
					hiddenSum += t.Rows[r].Cells[c].Value
				}
				leak := unknowns == 1 || (!totalHidden && len(hiddenMembers) > 1 && small(hiddenSum))
				// With the denominators shown, the hidden numerators' complements
				// (denominator minus numerator) add up to the total's complement
				// minus the shown ones: that sum must not be small either.
				if d, ok := denOf[c]; ok && !leak && !totalHidden && len(hiddenMembers) > 0 && !t.Rows[total].Cells[d].Suppressed {
					complement, shownDens := 0.0, true
					for _, r := range hiddenMembers {
						complement += t.Rows[r].Cells[d].Value - t.Rows[r].Cells[c].Value
						shownDens = shownDens && !t.Rows[r].Cells[d].Suppressed
					}
					leak = shownDens && small(complement)
				}
				if !leak {
					continue
				}
				// Hide the smallest shown member that is not zero (a zero is known
				// to a reader from its denominator, and hides nothing); with none
				// left, hide the total.
				best := -1
				for _, r := range members {
					cell := t.Rows[r].Cells[c]
					if !cell.Suppressed && cell.Value > 0 && (best < 0 || cell.Value < t.Rows[best].Cells[c].Value) {
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
	}
	return hidden, nil
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
