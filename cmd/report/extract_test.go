package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// TestExtractCSVIsExact reads the CSV extract's uds_symbol column back: its + and -
// weeks are the database's, character for character, and the README says how text
// that looks like a formula is written.
func TestExtractCSVIsExact(t *testing.T) {
	db := sampleDB(t)
	dir := t.TempDir()
	if _, err := runCLI(t, "extract", "--db", db, "--out", dir, "--format", "csv"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	conn := testdb.Open(t, db)
	rows, err := conn.Query(`SELECT uds_symbol, count(*) FROM episode_weeks GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		want[s] = n
	}
	rows.Close()
	if want["+"] == 0 || want["-"] == 0 {
		t.Fatalf("the sample has no + or - weeks: %v", want)
	}
	f, err := os.Open(filepath.Join(dir, "episode_weeks.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == "uds_symbol" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no uds_symbol column in %v", recs[0])
	}
	got := map[string]int{}
	for _, r := range recs[1:] {
		got[r[col]]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uds_symbol in the CSV extract (-database +csv):\n%s", diff)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "written exactly as stored") {
		t.Error("the README does not say how formula-looking text is written")
	}
}
