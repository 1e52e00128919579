package ingest

import (
	"context"
	"errors"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// TestLineEndingsChangingPartWayFailThatFileOnly loads a sessions file whose line
// endings change part-way (which DuckDB's reader cannot read): that file alone is
// refused, its two rows counted as rejected with the reason mixed_line_endings, and
// the rest of the export loads, within --max-reject-rate; above it the run fails as
// for any other bad file.
func TestLineEndingsChangingPartWayFailThatFileOnly(t *testing.T) {
	const header = "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id"
	const s1 = "S1,E1,MRN-A1,2026-01-05,09:00,individual,attended,60,C1"
	const s2 = "S2,E1,MRN-A1,2026-01-07,09:00,group,no_show,180,C2"
	for name, body := range map[string]string{
		"LF then CRLF": header + "\n" + s1 + "\r\n" + s2 + "\r\n",
		"CRLF then LF": header + "\r\n" + s1 + "\r\n" + s2 + "\n",
		"LF then CR":   header + "\n" + s1 + "\r" + s2 + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			files := fixture()
			files["sessions.csv"] = body
			dir := writeExport(t, files)
			env := newEnv(t)
			res, err := Run(context.Background(), store.Config{Path: env.db}, []string{dir}, Options{MaxRejectRate: 0.5, KeyFile: env.key})
			if err != nil {
				t.Fatalf("the run stopped: %v", err)
			}
			for _, f := range res.Files {
				switch {
				case f.Entity == "sessions":
					if f.Status != StatusFailed || f.Reasons[ReasonMixedLineEndings] != 1 || f.Rejected != f.Read || f.Read < 1 {
						t.Errorf("sessions: %+v, want failed with %s and its rows rejected", f, ReasonMixedLineEndings)
					}
				case f.Status != StatusLoaded:
					t.Errorf("%s: %s, want loaded", f.Path, f.Status)
				}
			}
			checkBalanced(t, env.open(t))
		})
	}
	files := fixture()
	files["sessions.csv"] = header + "\n" + s1 + "\r\n" + s2 + "\r\n"
	env := newEnv(t)
	if _, err := Run(context.Background(), store.Config{Path: env.db}, []string{writeExport(t, files)}, Options{MaxRejectRate: 0.1, KeyFile: env.key}); !errors.Is(err, ErrRejectRate) {
		t.Errorf("above the reject rate: %v, want %v", err, ErrRejectRate)
	}
}
