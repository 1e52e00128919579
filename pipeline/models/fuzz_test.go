package models

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParamsYAML reads mutated parameter files: parameters that validate, or an
// error that names the file, never a panic.
func FuzzParamsYAML(f *testing.F) {
	f.Add([]byte("landmark_days: 28\ndose_bands: [0, 1, 3, 5]\nrelapse_definition: consecutive4_from_week3\nmissing_policy: positive\nrelapse_substances: [uds_opioids]\nscreens_expected: weekly\n"))
	f.Add([]byte("covariates: [age_band, program]\ncutoff: 2026-09-30\nhorizon_days: 29\nlandmark_days: 28\n"))
	f.Add([]byte("outcome_window_weeks: 24\nrelapse_definition: consecutive4_from_week3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "params.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadParams(p)
		if err != nil {
			return
		}
		if verr := got.Validate(); verr != nil {
			t.Fatalf("parameters accepted that do not validate: %v", verr)
		}
	})
}
