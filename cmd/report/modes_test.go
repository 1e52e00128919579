package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutputsAreOwnerOnly writes every kind of output (the report, a query result, an
// extract) into folders and finds each file readable by its owner only.
func TestOutputsAreOwnerOnly(t *testing.T) {
	db := sampleDB(t)
	dir := t.TempDir()
	if _, err := runCLI(t, "--db", db, "--out", filepath.Join(dir, "report")); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "query", "--db", db, "--format", "xlsx", "--out", filepath.Join(dir, "q.xlsx"), "SELECT * FROM episodes"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "extract", "--db", db, "--out", filepath.Join(dir, "extract"), "--format", "csv"); err != nil {
		t.Fatal(err)
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
	if n < 5 {
		t.Errorf("found %d output files, want the report's three, the query's and the extract's", n)
	}
}
