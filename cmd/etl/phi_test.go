package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
)

// TestOutputAndLogsHoldNoPHI runs etl on a messy export in every way it can talk
// (the ledger table, JSON, step logs, the progress bar, a failed run, a models
// rebuild) and searches all it printed for the original identifiers and values: every
// patient id, name and phone number of the export, and a patient id and an
// observation value planted in rejected rows.
func TestOutputAndLogsHoldNoPHI(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := generate.Generate(context.Background(), generate.Config{Patients: 300, Seed: 11, Messy: true}, dir); err != nil {
		t.Fatal(err)
	}
	// Rows that are rejected carry their values into the rejects table; they must
	// never reach the terminal or the logs.
	const plantedID, plantedValue = "MRN-PLANTED-4471", "PLANTED-VALUE-9307"
	extra := "patient_id,episode_id,obs_date,measure,value\n" +
		plantedID + ",,2026-01-05,phq9,7\n"
	var secrets []string
	for _, name := range []string{"export-1/patients.csv", "export-2/patients.csv"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			secrets = append(secrets, r[0], r[len(r)-2], r[len(r)-1]) // id, name, phone
		}
		if strings.HasSuffix(name, "1/patients.csv") {
			extra += recs[1][0] + ",,2026-01-05,phq9," + plantedValue + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "export-2", "observations_late.csv"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, plantedID, plantedValue)

	var said strings.Builder
	record := func(args ...string) {
		out, errOut, err := c.run(args...)
		said.WriteString(out + errOut)
		if err != nil {
			said.WriteString(err.Error())
		}
	}
	record("--max-reject-rate", "0", "--verbose", dir) // fails: the limit's message
	record("--verbose", "--progress", "always", dir)
	record("--json", dir)
	record("models", "--db", c.db, "--verbose")
	text := said.String()
	if !strings.Contains(text, "committed") || !strings.Contains(text, "reject rate above the limit") {
		t.Fatalf("the runs did not go as planned:\n%s", text)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("output or logs show %q", s)
		}
	}
}
