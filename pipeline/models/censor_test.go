package models

import "testing"

// TestCensorWeek checks the week an episode without relapse is censored at: the last
// week a run could still have been seen to start, never the last week of the stay.
func TestCensorWeek(t *testing.T) {
	tests := []struct {
		name, symbols, definition, policy string
		want                              int
	}{
		{"every week observed: last week - k + 1", "----------", "consecutive4", "positive", 7},
		{"k = 3", "----------", "consecutive3", "positive", 8},
		{"exactly k weeks: only week 1", "----", "consecutive4", "positive", 1},
		{"fewer weeks than the run: never at risk", "---", "consecutive4", "positive", 0},
		{"no weeks", "", "consecutive4", "positive", 0},
		{"counted from week 3", "--------", "consecutive4_from_week3", "positive", 5},
		{"from week 3, too few weeks after it", "-----", "consecutive4_from_week3", "positive", 0},
		{"unscheduled weeks are not observed", "-----__", "consecutive4", "positive", 2},
		{"unscheduled weeks inside the run are skipped", "--_---", "consecutive4", "positive", 2},
		{"missing weeks observed as positive", "---ooo", "consecutive4", "positive", 3},
		{"missing weeks observed as breaking a run", "---ooo", "consecutive4", "break", 3},
		{"missing weeks ignored are not observed", "---o-o-", "consecutive4", "ignore", 2},
		{"first positive after negative: the last observed week", "-+-_", "first_positive_after_negative", "positive", 3},
		{"first positive after negative: missing can be positive", "--o", "first_positive_after_negative", "positive", 3},
		{"first positive after negative: missing cannot be positive", "--o", "first_positive_after_negative", "ignore", 2},
		{"first positive after negative: one observed week, none before it", "_-_", "first_positive_after_negative", "positive", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CensorWeek(tc.symbols, tc.definition, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("CensorWeek(%q, %s, %s) = %d, want %d", tc.symbols, tc.definition, tc.policy, got, tc.want)
			}
			// A run found by Relapse always starts no later than the censor week of
			// the same weeks: nothing is seen after it.
			if event, week, _ := Relapse(tc.symbols, tc.definition, tc.policy); event && week > got {
				t.Errorf("a relapse in week %d, after the censor week %d", week, got)
			}
		})
	}
	if _, err := CensorWeek("-", "consecutive5", "positive"); err == nil {
		t.Error("an unknown definition was accepted")
	}
	if _, err := CensorWeek("-", "consecutive4", "guess"); err == nil {
		t.Error("an unknown policy was accepted")
	}
	for symbols, want := range map[string]int{"--------": 5, "--oo": 1, "---": 0, "-o_o_o-": 2} {
		if got := DropoutCensorWeek(symbols); got != want {
			t.Errorf("DropoutCensorWeek(%q) = %d, want %d", symbols, got, want)
		}
	}
	for weeks, want := range map[int]int{0: 0, 2: 0, 3: 3, 12: 12} {
		if got := SelfReportCensorWeek(weeks); got != want {
			t.Errorf("SelfReportCensorWeek(%d) = %d, want %d", weeks, got, want)
		}
	}
}

// FuzzCensorWeek holds CensorWeek to its meaning, checked with Relapse itself: for
// any weeks, definition and policy, the censor week is the last week w at which a
// relapse would be found if every observed week from w on had been positive and every
// one before it negative (0 when there is none), and a relapse Relapse finds never
// starts after it.
func FuzzCensorWeek(f *testing.F) {
	f.Add("--++-o_o-+", uint8(0), uint8(0))
	f.Add("o_oo-_++*", uint8(1), uint8(2))
	f.Add("---", uint8(3), uint8(1))
	f.Fuzz(fuzzCensorCheck)
}

// fuzzCensorCheck is the body of FuzzCensorWeek: raw is mapped onto the week
// symbols, d and p onto a definition and a policy.
func fuzzCensorCheck(t *testing.T, raw string, d, p uint8) {
	const alphabet = "+-*o_"
	b := []byte(raw)
	if len(b) > 40 {
		b = b[:40]
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	symbols := string(b)
	defs := []string{"consecutive4", "consecutive4_from_week3", "consecutive3", "first_positive_after_negative"}
	def, policy := defs[int(d)%len(defs)], Policies()[int(p)%len(Policies())]
	got, err := CensorWeek(symbols, def, policy)
	if err != nil {
		t.Fatal(err)
	}
	// A week is observed when the definition reads a result from it.
	observed := func(c byte) bool {
		if c == Missing && def == "first_positive_after_negative" {
			return policy == "positive"
		}
		return c != NotScheduled && (c != Missing || policy != "ignore")
	}
	want := 0
	for w := 1; w <= len(symbols); w++ {
		if !observed(symbols[w-1]) {
			continue
		}
		what := []byte(symbols)
		for i := range what {
			if observed(what[i]) {
				what[i] = Positive
				if i < w-1 {
					what[i] = Negative
				}
			}
		}
		if event, week, _ := Relapse(string(what), def, policy); event && week == w {
			want = w
		}
	}
	if got != want {
		t.Errorf("%s/%s %q: censor week %d, want %d", def, policy, symbols, got, want)
	}
	if event, week, _ := Relapse(symbols, def, policy); event && week > got {
		t.Errorf("%s/%s %q: relapse in week %d, after the censor week %d", def, policy, symbols, week, got)
	}
}
