package suppress

import (
	"math/rand/v2"
	"testing"
)

// kpiTable builds a table like kpis: per group (measure and quarter), one row per
// program and a total row, with numerator, denominator, rate and its limits.
func kpiTable(groups [][][2]float64) *Table {
	t := &Table{Columns: []Column{
		{Name: "program", Kind: Label},
		{Name: "numerator", Kind: Count},
		{Name: "denominator", Kind: Count},
		{Name: "rate", Kind: Rate, From: [2]string{"numerator", "denominator"}},
		{Name: "lower", Kind: Rate, From: [2]string{"numerator", "denominator"}},
	}}
	for g, programs := range groups {
		var sn, sd float64
		for _, p := range programs {
			sn, sd = sn+p[0], sd+p[1]
			t.Rows = append(t.Rows, Row{Group: string(rune('A' + g)), Cells: cells(p[0], p[1])})
		}
		t.Rows = append(t.Rows, Row{Group: string(rune('A' + g)), Total: true, Cells: cells(sn, sd)})
	}
	return t
}

func cells(num, den float64) []Cell {
	rate := 0.0
	if den > 0 {
		rate = num / den
	}
	return []Cell{{}, {Value: num}, {Value: den}, {Value: rate}, {Value: rate * 0.9}}
}

func shown(t *Table, r, c int) bool { return !t.Rows[r].Cells[c].Suppressed }

func TestApplyExamples(t *testing.T) {
	// One program with 5 of 40: its numerator is small; the total would give it back,
	// so the next-smallest numerator goes too, and both rates.
	tab := kpiTable([][][2]float64{{{5, 40}, {30, 60}, {45, 80}}})
	if _, err := Apply(tab); err != nil {
		t.Fatal(err)
	}
	if shown(tab, 0, 1) || shown(tab, 1, 1) || !shown(tab, 2, 1) || !shown(tab, 3, 1) {
		t.Errorf("numerators shown: %v %v %v total %v; want the 5 and the 30 hidden", shown(tab, 0, 1), shown(tab, 1, 1), shown(tab, 2, 1), shown(tab, 3, 1))
	}
	if shown(tab, 0, 3) || shown(tab, 0, 4) || shown(tab, 1, 3) || !shown(tab, 2, 3) {
		t.Error("rates on hidden numerators must be hidden, the others shown")
	}
	// 36 of 40: the complement (4 who did not) is small, so the numerator is hidden.
	tab = kpiTable([][][2]float64{{{36, 40}, {30, 60}, {45, 80}}})
	Apply(tab)
	if shown(tab, 0, 1) {
		t.Error("a numerator whose complement is 4 is shown")
	}
	// A single program in the group: its small count is the total.
	tab = kpiTable([][][2]float64{{{3, 50}}})
	Apply(tab)
	if shown(tab, 0, 1) || shown(tab, 1, 1) {
		t.Error("a lone program's small count is shown through its total")
	}
	if d := Derivable(tab); len(d) != 0 {
		t.Errorf("derivable: %v", d)
	}
}

// TestDerivableFindsWhatLeaks checks the checker: a lone hidden member is the total
// minus the rest, and a hidden numerator is its rate times its denominator.
func TestDerivableFindsWhatLeaks(t *testing.T) {
	tab := kpiTable([][][2]float64{{{5, 40}, {30, 60}, {45, 80}}})
	tab.Rows[0].Cells[1].Suppressed = true
	tab.Rows[0].Cells[3].Suppressed = true
	tab.Rows[0].Cells[4].Suppressed = true
	if d := Derivable(tab); len(d) == 0 {
		t.Error("a lone hidden member with its total shown was not found")
	}
	tab = kpiTable([][][2]float64{{{5, 40}, {6, 60}}})
	tab.Rows[0].Cells[1].Suppressed = true
	tab.Rows[1].Cells[1].Suppressed = true
	tab.Rows[2].Cells[1].Suppressed = true
	if d := Derivable(tab); len(d) == 0 {
		t.Error("hidden numerators with their rates shown were not found")
	}
}

func TestApplyRejectsABadTable(t *testing.T) {
	tab := &Table{Columns: []Column{{Name: "n", Kind: Count}, {Name: "r", Kind: Rate, From: [2]string{"n", "missing"}}}}
	if _, err := Apply(tab); err == nil {
		t.Error("a rate on a column that does not exist was accepted")
	}
}

// TestNothingHiddenCanBeRecomputed applies suppression to many random tables and
// checks that no shown count is from 1 to 10 and that no hidden cell can be worked
// out from the shown cells through the totals and the rates.
func TestNothingHiddenCanBeRecomputed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		var groups [][][2]float64
		for g := 0; g < 1+rng.IntN(4); g++ {
			var programs [][2]float64
			for p := 0; p < 1+rng.IntN(6); p++ {
				den := float64(rng.IntN(60))
				num := 0.0
				if den > 0 {
					num = float64(rng.IntN(int(den) + 1))
				}
				programs = append(programs, [2]float64{num, den})
			}
			groups = append(groups, programs)
		}
		tab := kpiTable(groups)
		if _, err := Apply(tab); err != nil {
			t.Fatal(err)
		}
		for r, row := range tab.Rows {
			for c, col := range tab.Columns {
				cell := row.Cells[c]
				if col.Kind == Count && !cell.Suppressed && small(cell.Value) {
					t.Fatalf("trial %d: count %v shown at row %d", trial, cell.Value, r)
				}
			}
			n, d := row.Cells[1], row.Cells[2]
			if !n.Suppressed && !d.Suppressed && small(d.Value-n.Value) {
				t.Fatalf("trial %d: numerator %v of %v shown: the complement is small", trial, n.Value, d.Value)
			}
		}
		if d := Derivable(tab); len(d) > 0 {
			t.Fatalf("trial %d: hidden cells %v can be recomputed from the shown ones", trial, d)
		}
	}
}
