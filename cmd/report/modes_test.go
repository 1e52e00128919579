package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutputsAreOwnerOnly writes every kind of output (the report, a query result in
// each file format, extracts, the data dictionary) over older files of the same names
// that anyone could read, and finds each file readable by its owner only.
func TestOutputsAreOwnerOnly(t *testing.T) {
	db := sampleDB(t)
	dir := t.TempDir()
	older := []string{
		"report/report.html", "report/report.xlsx", "report/manifest.json",
		"q.csv", "q.json", "q.xlsx", "q.parquet", "q.arrow",
		"extract/README.md", "extract/patients.csv", "extract-parquet/README.md", "extract-parquet/episodes.parquet",
		"dictionary.md",
	}
	for _, name := range older {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("older\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runs := [][]string{
		{"--db", db, "--out", filepath.Join(dir, "report")},
		{"extract", "--db", db, "--out", filepath.Join(dir, "extract"), "--format", "csv"},
		{"extract", "--db", db, "--out", filepath.Join(dir, "extract-parquet"), "--format", "parquet"},
		{"dictionary", "--db", db, "--out", filepath.Join(dir, "dictionary.md")},
	}
	for _, f := range []string{"csv", "json", "xlsx", "parquet", "arrow"} {
		runs = append(runs, []string{"query", "--db", db, "--format", f, "--out", filepath.Join(dir, "q."+f), "SELECT * FROM episodes"})
	}
	for _, args := range runs {
		if _, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if info, err := d.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, info.Mode().Perm())
		}
		return nil
	})
	if n < len(older)+6 {
		t.Errorf("found %d output files, want the report's three, the queries', the extracts' and the dictionary", n)
	}
}
