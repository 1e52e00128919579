package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

func TestLedgerOfSampleData(t *testing.T) {
	t.Setenv(pseudo.EnvKey, "")
	dir := t.TempDir()
	db := filepath.Join(dir, "outcomes.duckdb")
	if _, err := ingest.Run(context.Background(), store.Config{Path: db}, []string{"../../sample-data/synthetic"},
		ingest.Options{MaxRejectRate: 0.1, KeyFile: filepath.Join(dir, "site.key")}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"ledger", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("report ledger: %v\n%s", err, errOut.String())
	}
	got := out.String()
	if n := strings.Count(got, " yes\n"); n != 10 {
		t.Errorf("%d files balance, want 10:\n%s", n, got)
	}
	for _, want := range []string{"export-2/programs.csv", "missing_column", "duplicate_key", "failed"} {
		if !strings.Contains(got, want) {
			t.Errorf("ledger lacks %q:\n%s", want, got)
		}
	}
}

func TestLedgerWithoutDatabase(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"ledger", "--db", filepath.Join(t.TempDir(), "none.duckdb")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "load exports first") {
		t.Errorf("error %v, want one that says to load first", err)
	}
	if _, statErr := os.Stat(filepath.Join(t.TempDir(), "none.duckdb")); statErr == nil {
		t.Error("report created a database")
	}
}
