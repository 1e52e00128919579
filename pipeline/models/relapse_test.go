package models

import "testing"

func TestRelapseDefinitions(t *testing.T) {
	tests := []struct {
		symbols, definition, policy string
		event                       bool
		week                        int
	}{
		// consecutive4: the first week of 4 consecutive positive weeks.
		{"--++++--", "consecutive4", "positive", true, 3},
		{"--+++-++", "consecutive4", "positive", false, 0},
		{"-*+*+", "consecutive4", "positive", true, 2},  // mixed weeks count as positive
		{"-++o+-", "consecutive4", "positive", true, 2}, // missing counted as positive
		{"-++o+-", "consecutive4", "ignore", false, 0},  // missing left out: only 3 positives
		{"-++o++-", "consecutive4", "ignore", true, 2},  // left out, the run goes on
		{"-++o++-", "consecutive4", "break", false, 0},  // missing breaks the run
		{"++_++", "consecutive4", "break", true, 1},     // unscheduled weeks neither break nor count
		{"oooo", "consecutive4", "positive", true, 1},   // dropping out is relapse under this policy
		{"oooo", "consecutive4", "ignore", false, 0},
		{"", "consecutive4", "positive", false, 0},
		// consecutive4_from_week3: the same rule, weeks 1 and 2 not counted.
		{"++++-----", "consecutive4_from_week3", "positive", false, 0},
		{"+++++----", "consecutive4_from_week3", "positive", false, 0},
		{"++++++---", "consecutive4_from_week3", "positive", true, 3},
		{"--o+o+-", "consecutive4_from_week3", "positive", true, 3},
		// consecutive3.
		{"-+++-", "consecutive3", "positive", true, 2},
		{"-++-+", "consecutive3", "positive", false, 0},
		{"-+o+", "consecutive3", "break", false, 0},
		// first_positive_after_negative.
		{"++-+", "first_positive_after_negative", "positive", true, 4},
		{"+++", "first_positive_after_negative", "positive", false, 0},
		{"-o+", "first_positive_after_negative", "positive", true, 2},
		{"-o+", "first_positive_after_negative", "ignore", true, 3},
		{"-o+", "first_positive_after_negative", "break", true, 3},
		{"_-_*", "first_positive_after_negative", "ignore", true, 4},
	}
	for _, tc := range tests {
		event, week, err := Relapse(tc.symbols, tc.definition, tc.policy)
		if err != nil {
			t.Fatalf("%s %s %q: %v", tc.definition, tc.policy, tc.symbols, err)
		}
		if event != tc.event || week != tc.week {
			t.Errorf("%s / %s on %q: event %v week %d, want %v week %d", tc.definition, tc.policy, tc.symbols, event, week, tc.event, tc.week)
		}
	}
	if _, _, err := Relapse("+", "consecutive5", "positive"); err == nil {
		t.Error("an unknown definition was accepted")
	}
	if _, _, err := Relapse("+", "consecutive4", "guess"); err == nil {
		t.Error("an unknown policy was accepted")
	}
}

func TestSelfReportAndDropout(t *testing.T) {
	if ev, wk := SelfReportRelapse([]float64{5, 3, 0, -1, 2}); !ev || wk != 5 {
		t.Errorf("self report: %v week %d, want week 5 (use in weeks 1-2 does not count)", ev, wk)
	}
	if ev, _ := SelfReportRelapse([]float64{5, 3, 0, 0}); ev {
		t.Error("self report: relapse found with no use after week 2")
	}
	for symbols, want := range map[string]int{"--oooo": 3, "-ooo-oooo": 6, "-oo_oo": 2, "-ooo": 0, "": 0} {
		if got := DropoutWeek(symbols); got != want {
			t.Errorf("dropout week of %q: %d, want %d", symbols, got, want)
		}
	}
}
