package suppress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/stats"
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

// exact is suppression without rounding: the cell-by-cell rule the rounded policy
// builds on, tested here on its own.
var exact = Policy{Complementary: true}

func TestApplyExamples(t *testing.T) {
	// One program with 5 of 40: its numerator is small; the total would give it back,
	// so the next-smallest numerator goes too, and both rates.
	tab := kpiTable([][][2]float64{{{5, 40}, {30, 60}, {45, 80}}})
	if _, err := Apply(tab, exact); err != nil {
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
	Apply(tab, exact)
	if shown(tab, 0, 1) {
		t.Error("a numerator whose complement is 4 is shown")
	}
	// A single program in the group: its small count is the total.
	tab = kpiTable([][][2]float64{{{3, 50}}})
	Apply(tab, exact)
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

// TestZeroIsNoCover reproduces a table where hiding a zero beside a small count gave
// the count back (a zero denominator shows the zero), and one where two hidden counts
// added up to a small number.
func TestZeroIsNoCover(t *testing.T) {
	tab := kpiTable([][][2]float64{{{9, 17}, {0, 0}, {12, 24}}})
	Apply(tab, exact)
	if shown(tab, 0, 1) || shown(tab, 2, 1) {
		t.Error("9 of 17 must be hidden with 12 of 24 as its cover, not the 0 of 0")
	}
	tab = kpiTable([][][2]float64{{{3, 7}, {0, 1}, {20, 25}}})
	Apply(tab, exact)
	if d := Derivable(tab); len(d) > 0 {
		t.Errorf("derivable: %v", d)
	}
	if !shown(tab, 3, 2) {
		return
	}
	sum := 0.0
	for r := 0; r < 3; r++ {
		if !shown(tab, r, 2) {
			sum += tab.Rows[r].Cells[2].Value
		}
	}
	if small(sum) {
		t.Errorf("hidden denominators add up to %v beside a shown total", sum)
	}
}

// TestComplementsOfHiddenCellsStayHidden: hiding 50 of 51 and 60 of 62 beside a shown
// total would tell that 3 did not complete.
func TestComplementsOfHiddenCellsStayHidden(t *testing.T) {
	tab := kpiTable([][][2]float64{{{50, 51}, {60, 62}, {20, 40}, {30, 45}}})
	Apply(tab, exact)
	complement := 0.0
	for r := 0; r < 4; r++ {
		if !shown(tab, r, 1) && shown(tab, r, 2) {
			complement += tab.Rows[r].Cells[2].Value - tab.Rows[r].Cells[1].Value
		}
	}
	if shown(tab, 4, 1) && shown(tab, 4, 2) && small(complement) {
		t.Errorf("the hidden numerators' complements add up to %v beside a shown total", complement)
	}
}

func TestApplyRejectsABadTable(t *testing.T) {
	tab := &Table{Columns: []Column{{Name: "n", Kind: Count}, {Name: "r", Kind: Rate, From: [2]string{"n", "missing"}}}}
	if _, err := Apply(tab, exact); err == nil {
		t.Error("a rate on a column that does not exist was accepted")
	}
}

// TestNothingHiddenCanBeRecomputed applies suppression to many random tables and
// checks that no shown count is from 1 to 10 and that no hidden cell can be worked
// out from the shown cells through the totals and the rates.
func TestNothingHiddenCanBeRecomputed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20000; trial++ {
		var groups [][][2]float64
		for g := 0; g < 1+rng.IntN(4); g++ {
			var programs [][2]float64
			for p := 0; p < 1+rng.IntN(6); p++ {
				den := float64(rng.IntN(60))
				if rng.IntN(6) == 0 {
					den = 0 // programs with nobody in the denominator
				}
				num := 0.0
				if den > 0 {
					num = float64(rng.IntN(int(den) + 1))
				}
				programs = append(programs, [2]float64{num, den})
			}
			groups = append(groups, programs)
		}
		tab := kpiTable(groups)
		if _, err := Apply(tab, exact); err != nil {
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
		// The hidden members of a group whose total is shown must not add up to a
		// small count (the reader gets their sum as total minus the rest).
		for c := 1; c <= 2; c++ {
			sums := map[string]float64{}
			totalShown := map[string]bool{}
			for _, row := range tab.Rows {
				if row.Total {
					totalShown[row.Group] = !row.Cells[c].Suppressed
				} else if row.Cells[c].Suppressed {
					sums[row.Group] += row.Cells[c].Value
				}
			}
			for g, sum := range sums {
				if totalShown[g] && small(sum) {
					t.Fatalf("trial %d: hidden %s in group %s add up to %v, which the total gives away", trial, tab.Columns[c].Name, g, sum)
				}
			}
		}
	}
}

func TestRound6(t *testing.T) {
	for v, want := range map[float64]float64{0: 0, 1: 3, 6: 3, 7: 9, 12: 9, 13: 15, 18: 15, 19: 21, 40: 39, 43: 45} {
		if got := Round6(v); got != want {
			t.Errorf("Round6(%v) = %v; want %v", v, got, want)
		}
	}
}

// TestRoundedReleaseIsRecomputedFromRoundedCounts: the rates, intervals and funnel
// limits of a released table come from its released counts, so they tell nothing the
// counts do not.
func TestRoundedReleaseIsRecomputedFromRoundedCounts(t *testing.T) {
	tab := kpiTable([][][2]float64{{{29, 40}, {27, 33}, {50, 61}}})
	tab.Columns[3].Derive = Ratio
	tab.Columns[4].Derive = WilsonLower
	tab.Columns = append(tab.Columns, Column{Name: "funnel", Kind: Rate, From: [2]string{"denominator", "denominator"}, Derive: FunnelLower95, WithTotal: "rate"})
	for r := range tab.Rows {
		tab.Rows[r].Cells = append(tab.Rows[r].Cells, Cell{Value: 0.5})
	}
	if _, err := Apply(tab, External); err != nil {
		t.Fatal(err)
	}
	row := tab.Rows[0].Cells
	if row[1].Value != 27 || row[2].Value != 39 || row[3].Value != 27.0/39 {
		t.Errorf("29 of 40 released as %v of %v at %v; want 27 of 39 at %v", row[1].Value, row[2].Value, row[3].Value, 27.0/39)
	}
	if lo, _ := stats.Wilson(27, 39, 0.95); row[4].Value != lo {
		t.Errorf("Wilson lower %v; want %v, from the rounded counts", row[4].Value, lo)
	}
	total := tab.Rows[3].Cells
	p0 := total[1].Value / total[2].Value
	if want := p0 - 1.959963984540054*math.Sqrt(p0*(1-p0)/39); math.Abs(row[5].Value-want) > 1e-12 {
		t.Errorf("funnel limit %v; want %v, around the total's released rate", row[5].Value, want)
	}
}

// attack is what a reader of a rounded table can work out of a group: each shown
// count r stands for r-2 to r+3, each hidden one for 1 to 12, and the members add up
// to the total. It returns, for every hidden cell and for the sum of the hidden
// members, the interval the rest allows, and reports one that lies within 1 to 10.
func attack(tab *Table, c int) string {
	groups := map[string][]int{}
	for r, row := range tab.Rows {
		groups[row.Group] = append(groups[row.Group], r)
	}
	for g, rows := range groups {
		var total = -1
		lo, hi := 0.0, 0.0 // the shown members
		var hidden []int
		for _, r := range rows {
			cell := tab.Rows[r].Cells[c]
			switch {
			case tab.Rows[r].Total:
				total = r
			case cell.Suppressed:
				hidden = append(hidden, r)
			case cell.Value > 0:
				lo, hi = lo+cell.Value-2, hi+cell.Value+3
			}
		}
		if total < 0 || len(hidden) == 0 || tab.Rows[total].Cells[c].Suppressed {
			continue
		}
		tv := tab.Rows[total].Cells[c].Value
		tlo, thi := tv, tv
		if tv > 0 {
			tlo, thi = tv-2, tv+3
		}
		sumLo, sumHi := math.Max(tlo-hi, float64(len(hidden))), thi-lo
		if sumHi <= Max {
			return fmt.Sprintf("group %s: the hidden %s add up to %v-%v", g, tab.Columns[c].Name, sumLo, sumHi)
		}
	}
	return ""
}

// TestRoundedReleaseLeavesNoSmallCount applies the external policy to many random
// tables: no shown count is from 1 to 10, and the totals narrow no hidden sum to 1-10.
// The same tables with complementary suppression switched off leak, which shows that
// the check can fail.
func TestRoundedReleaseLeavesNoSmallCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	leaksWithout := 0
	for trial := 0; trial < 20000; trial++ {
		var groups [][][2]float64
		for g := 0; g < 1+rng.IntN(3); g++ {
			var programs [][2]float64
			for p := 0; p < 1+rng.IntN(5); p++ {
				den := float64(rng.IntN(70))
				num := 0.0
				if den > 0 {
					num = float64(rng.IntN(int(den) + 1))
				}
				programs = append(programs, [2]float64{num, den})
			}
			groups = append(groups, programs)
		}
		for _, p := range []Policy{External, {Round: true}} {
			tab := kpiTable(groups)
			if _, err := Apply(tab, p); err != nil {
				t.Fatal(err)
			}
			leak := ""
			for r, row := range tab.Rows {
				for c := 1; c <= 2; c++ {
					if cell := row.Cells[c]; !cell.Suppressed && small(cell.Value) {
						leak = fmt.Sprintf("count %v shown at row %d", cell.Value, r)
					}
				}
			}
			for c := 1; c <= 2 && leak == ""; c++ {
				leak = attack(tab, c)
			}
			if p == External && leak != "" {
				t.Fatalf("trial %d: %s", trial, leak)
			}
			if p != External && leak != "" {
				leaksWithout++
			}
		}
	}
	if leaksWithout == 0 {
		t.Error("without complementary suppression no table leaked: the attack finds nothing")
	}
	t.Logf("%d of 20000 tables leak without complementary suppression", leaksWithout)
}

// TestLinkedTotalsAreHiddenAlike: all 50 episodes, 17 of them completed, grouped two
// ways (by sex: 9 of 12, 8 of 12 and 0 of 26; by payer: 14 of 30 and 3 of 20), each
// grouping with its own copy of the total. The first grouping must hide its total's
// 17 (the hidden members' complements, 24 - 17, would give 7 away); the second would
// show it, and a figure shown in one copy is not hidden in the other. Linked, the
// copies are hidden alike.
func TestLinkedTotalsAreHiddenAlike(t *testing.T) {
	for _, link := range []bool{false, true} {
		tab := kpiTable([][][2]float64{{{9, 12}, {8, 12}, {0, 26}}, {{14, 30}, {3, 20}}})
		totals := []int{3, 6}
		if link {
			for _, r := range totals {
				tab.Rows[r].Link = "all episodes"
			}
		}
		if _, err := Apply(tab, exact); err != nil {
			t.Fatal(err)
		}
		a, b := shown(tab, totals[0], 1), shown(tab, totals[1], 1)
		switch {
		case link && (a || b):
			t.Errorf("linked: the total's numerator shown in one copy (%v, %v); want it hidden in both", a, b)
		case !link && a == b:
			t.Errorf("unlinked: both copies shown %v; the example must show the two groupings differ", a)
		}
		if d := Derivable(tab); link && len(d) != 0 {
			t.Errorf("linked: derivable %v", d)
		}
	}
}
