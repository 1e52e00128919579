package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// TestTerminalEscapesAreShownEscaped loads an export from a folder whose name holds
// terminal escape sequences, with a rejected row: report ledger shows the name
// escaped in the files and in the rejects, a query's table escapes values from the
// data, and an error naming the folder escapes it too.
func TestTerminalEscapesAreShownEscaped(t *testing.T) {
	t.Setenv(pseudo.EnvKey, "")
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "week\x1b[2J\x1b]0;owned\x07")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	programs := "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n" +
		"P1,IOP \x1b[31mred\x1b[0m,North,IOP,8,10\nP2,Bad,North,IOP,999,10\n"
	if err := os.WriteFile(filepath.Join(dir, "programs.csv"), []byte(programs), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(tmp, "outcomes.duckdb")
	if _, err := ingest.Run(context.Background(), store.Config{Path: db}, []string{dir},
		ingest.Options{MaxRejectRate: 1, KeyFile: filepath.Join(tmp, "site.key")}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"ledger", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("report ledger: %v\n%s", err, errOut.String())
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("the ledger holds raw control characters:\n%q", out.String())
	}
	if n := strings.Count(out.String(), `week\x1b[2J\x1b]0;owned\x07/programs.csv`); n != 2 {
		t.Errorf("the escaped file name appears %d times, want in the files and in the rejects:\n%s", n, out.String())
	}
	table, err := runCLI(t, "query", "--db", db, "SELECT name FROM programs ORDER BY program_id")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(table, "\x1b\x07") || !strings.Contains(table, `IOP \x1b[31mred\x1b[0m`) {
		t.Errorf("the query's table does not escape the value:\n%q", table)
	}
	var b strings.Builder
	printError(&b, "report", fmt.Errorf("%s: no such file", dir))
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("an error shows the name raw: %q", b.String())
	}
}
