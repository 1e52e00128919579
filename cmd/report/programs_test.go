package main

import (
	"strings"
	"testing"
)

// TestProgramsListsWhatToAskFor: report programs names every program with the
// quarters that have data, and the line for all programs.
func TestProgramsListsWhatToAskFor(t *testing.T) {
	got, err := runCLI(t, "programs", "--db", sampleDB(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"P01      Riverside Adult IOP", "P06      Summit PHP", "ALL      All programs", "2025Q1         2026Q3"} {
		if !strings.Contains(got, want) {
			t.Errorf("report programs lacks %q:\n%s", want, got)
		}
	}
}
