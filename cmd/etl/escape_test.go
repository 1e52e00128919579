package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileName holds terminal escape sequences: clear the screen, set the window
// title, and a bell.
const hostileName = "week\x1b[2J\x1b]0;owned\x07"

// copyExport copies the sample's first export into a folder of the given name.
func copyExport(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(sampleData, "export-1")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTerminalEscapesAreShownEscaped loads an export from a folder whose name holds
// terminal escape sequences: etl's summary shows the name with its control
// characters escaped, never raw, and so does an error that names it.
func TestTerminalEscapesAreShownEscaped(t *testing.T) {
	c := newCLI(t)
	dir := copyExport(t, hostileName)
	out, errOut, err := c.run("--progress", "never", dir)
	if err != nil {
		t.Fatalf("etl: %v\n%s%s", err, out, errOut)
	}
	if strings.ContainsAny(out+errOut, "\x1b\x07") {
		t.Errorf("the summary holds raw control characters:\n%q", out)
	}
	if !strings.Contains(out, `week\x1b[2J\x1b]0;owned\x07/programs.csv`) {
		t.Errorf("the summary does not show the file name escaped:\n%s", out)
	}
	var b strings.Builder
	printError(&b, "etl", fmt.Errorf("%s: no such file", filepath.Join(dir, "missing.csv")))
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), `\x1b[2J`) {
		t.Errorf("an error shows the name raw: %q", b.String())
	}
}
