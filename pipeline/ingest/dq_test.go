package ingest

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestDataQualityHistoryByHand checks the view dq_history over two runs worked out
// by hand. Run 1 loads the fixture with a session of a bad date and a PHQ-9 of 99
// (out of range): 13 rows read, 2 rejected, 1 of the 4 sessions and 1 of the 4
// observations. Run 2 loads a sessions file without its status column, refused
// whole: its 2 rows are rejected under missing_column, though the ledger holds one
// reject for it. A file with nothing rejected has one row with no reason.
func TestDataQualityHistoryByHand(t *testing.T) {
	env := newEnv(t)
	files := fixture()
	files["sessions.csv"] += "S4,E1,MRN-A1,2026-13-01,09:00,group,attended,180,C1\n"
	files["observations.csv"] += "MRN-A1,E1,2026-01-19,phq9,99,points\n"
	env.load(t, writeExport(t, files))
	env.load(t, writeExport(t, map[string]string{
		"sessions.csv": "session_id,episode_id,patient_id,session_date,start_time,session_type,minutes,clinician_id\n" +
			"S5,E1,MRN-A1,2026-01-09,09:00,group,60,C1\nS6,E1,MRN-A1,2026-01-10,09:00,group,60,C1\n",
	}))
	db := env.open(t)
	type row struct {
		Level  string
		Run    int
		File   string
		Read   int
		Share  float64
		Reason string
		N      int
		ShareN float64
	}
	rows, err := db.Query(`SELECT level, run_id, coalesce(path, ''), rows_read, share_rejected, coalesce(reason, ''), rows_with_reason, coalesce(share_with_reason, 0)
		FROM dq_history`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []row
	for rows.Next() {
		var r row
		var share sql.NullFloat64
		if err := rows.Scan(&r.Level, &r.Run, &r.File, &r.Read, &share, &r.Reason, &r.N, &r.ShareN); err != nil {
			t.Fatal(err)
		}
		r.File, r.Share = filepath.Base(r.File), share.Float64
		if r.File == "." {
			r.File = ""
		}
		got = append(got, r)
	}
	want := []row{
		{"run", 1, "", 13, 2.0 / 13, "bad_date", 1, 1.0 / 13},
		{"run", 1, "", 13, 2.0 / 13, "out_of_range", 1, 1.0 / 13},
		{"file", 1, "programs.csv", 1, 0, "", 0, 0},
		{"file", 1, "patients.csv", 2, 0, "", 0, 0},
		{"file", 1, "episodes.csv", 2, 0, "", 0, 0},
		{"file", 1, "sessions.csv", 4, 0.25, "bad_date", 1, 0.25},
		{"file", 1, "observations.csv", 4, 0.25, "out_of_range", 1, 0.25},
		{"run", 2, "", 2, 1, "missing_column", 2, 1},
		{"file", 2, "sessions.csv", 2, 1, "missing_column", 2, 1},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("dq_history (-want +got):\n%s", diff)
	}
}
