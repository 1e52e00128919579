package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEachProgram writes every program's report and the network's in one run: a
// folder each (the network's in ALL/), each a whole set whose manifest names its
// program and the hashes of the other files, and each program's page with the
// network's figures beside its own.
func TestEachProgram(t *testing.T) {
	db := sampleDB(t)
	out := filepath.Join(t.TempDir(), "reports")
	stdout, err := runCLI(t, "--db", db, "--out", out, "--each-program", "--sections", "board")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"ALL", "P01", "P02", "P03", "P04", "P05", "P06"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("folders (-want +got):\n%s", diff)
	}
	for _, dir := range want {
		sums := folderSums(t, filepath.Join(out, dir))
		var m struct {
			Program, Sections string
			Files             map[string]string
		}
		b, err := os.ReadFile(filepath.Join(out, dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Program != dir || m.Sections != "board" {
			t.Errorf("%s/manifest.json: program %q, sections %q", dir, m.Program, m.Sections)
		}
		delete(sums, "manifest.json")
		if diff := cmp.Diff(sums, m.Files); diff != "" {
			t.Errorf("%s: files against the manifest (-on disk +manifest):\n%s", dir, diff)
		}
		page, err := os.ReadFile(filepath.Join(out, dir, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(page), "Network (all programs)"); has != (dir != "ALL") {
			t.Errorf("%s: the page has the network's column: %v", dir, has)
		}
		if strings.Contains(string(page), "<h1>Appendix</h1>") {
			t.Errorf("%s: --sections board, but the page has the appendix", dir)
		}
	}
	if n := strings.Count(stdout, "Wrote "); n != len(want) {
		t.Errorf("%d reports said written, want %d:\n%s", n, len(want), stdout)
	}
	if _, err := runCLI(t, "--db", db, "--out", out, "--each-program", "--program", "P01"); err == nil {
		t.Error("--each-program with --program: no error")
	}
}

// TestProgramFolders checks that a program id from an export names a folder of its
// own inside --out and no other.
func TestProgramFolders(t *testing.T) {
	got, err := programFolders([]string{"P01", "../up", "a/b", "", ".hidden", "All-2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"P01": "P01", "../up": "___up", "a/b": "a_b", "": "_", ".hidden": "_hidden", "All-2": "All-2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("folders (-want +got):\n%s", diff)
	}
	for _, ids := range [][]string{{"a/b", "a_b"}, {"all"}, {"p1", "P1"}} {
		if _, err := programFolders(ids); err == nil {
			t.Errorf("%q: no error for ids that share a folder", ids)
		}
	}
}
