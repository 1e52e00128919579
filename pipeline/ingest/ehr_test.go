package ingest

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// coreRows returns every row of a core table as text, sorted, without the columns
// that say which file a row came from.
func coreRows(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	out := dumpRows(t, db, "SELECT CAST(COLUMNS(* EXCLUDE (load_file_id)) AS VARCHAR) FROM "+table)
	slices.Sort(out)
	return out
}

// TestEHRWorkbookMatchesItsCanonicalTwin generates one export twice from the same
// seed, as canonical CSV files and as an EHR-style workbook (other sheet and column
// names, codes, month/day/year dates, numbers as numbers), loads each under the same
// site key (the workbook's profile detected from its sheet names), and finds the same
// core tables.
func TestEHRWorkbookMatchesItsCanonicalTwin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	canon, ehr := filepath.Join(dir, "canonical"), filepath.Join(dir, "ehr")
	if _, err := generate.Generate(ctx, generate.Config{Patients: 150, Seed: 7}, canon); err != nil {
		t.Fatal(err)
	}
	truth, err := generate.Generate(ctx, generate.Config{Patients: 150, Seed: 7, Layout: generate.LayoutEHR}, ehr)
	if err != nil {
		t.Fatal(err)
	}
	a := newEnv(t)
	b := testEnv{db: filepath.Join(dir, "ehr.duckdb"), key: a.key}
	ra := a.load(t, canon)
	rb := b.load(t, ehr)
	if ra.Profile != "canonical" || rb.Profile != "ehr-example" {
		t.Fatalf("profiles detected: %s and %s, want canonical and ehr-example", ra.Profile, rb.Profile)
	}
	if rb.Rejected != 0 || ra.Rejected != 0 {
		t.Fatalf("rejected: canonical %d, workbook %d; want none", ra.Rejected, rb.Rejected)
	}
	da, db := a.open(t), b.open(t)
	for _, e := range pipeline.Layout() {
		got, want := coreRows(t, db, e.Name), coreRows(t, da, e.Name)
		if int64(len(want)) != truth.Core[e.Name] {
			t.Errorf("%s: canonical twin has %d rows, ground truth %d", e.Name, len(want), truth.Core[e.Name])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: workbook load differs from the canonical twin (-canonical +workbook):\n%s", e.Name, diff)
		}
	}
	// The workbook's sheets are in the ledger one by one, under the profile.
	if n := queryInt(t, db, `SELECT count(*) FROM load_files WHERE profile = 'ehr-example' AND path LIKE '%ehr-export.xlsx#%' AND status = 'loaded'`); n != 5 {
		t.Errorf("ledger has %d loaded sheets of the workbook, want 5", n)
	}
}
