package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// TestFutureDatesAreRejected loads dates after the day of the load (by the run's
// clock): each is rejected as future_date, and no stored date lies after the load day,
// so one row dated 2062 cannot move the data cutoff. The load day itself is allowed.
func TestFutureDatesAreRejected(t *testing.T) {
	files := fixture()
	files["episodes.csv"] += "E3,MRN-A1,P1,2062-01-05,,,alcohol,false,false,self\n" +
		"E4,MRN-B2,P1,2026-03-01,2026-03-16,completed,alcohol,false,false,self\n"
	files["sessions.csv"] += "S4,E2,MRN-B2,2062-02-02,09:00,group,attended,180,C1\n" +
		"S5,E2,MRN-B2,2026-03-15,09:00,group,attended,180,C1\n"
	files["observations.csv"] += "MRN-B2,E2,2026-03-16,gad7,9,points\n"
	env := newEnv(t)
	// 23:30 in UTC on March 15; the 16th already in much of the world.
	now := time.Date(2026, 3, 15, 23, 30, 0, 0, time.UTC)
	if _, err := Run(context.Background(), store.Config{Path: env.db}, []string{writeExport(t, files)},
		Options{MaxRejectRate: 1, KeyFile: env.key, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	db := env.open(t)
	got := queryStrings(t, db, `SELECT regexp_replace(file, '.*/', '') || ':' || line || ' ' || "column" || ' ' || reason FROM rejects WHERE reason = 'future_date' ORDER BY 1`)
	want := []string{"episodes.csv:4 admit_date future_date", "episodes.csv:5 discharge_date future_date",
		"observations.csv:5 obs_date future_date", "sessions.csv:5 session_date future_date"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("future_date rejects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions WHERE session_id = 'S5'`); n != 1 {
		t.Error("a session on the load day was not loaded")
	}
	latest := queryStrings(t, db, `SELECT strftime(greatest((SELECT max(admit_date) FROM episodes), (SELECT max(discharge_date) FROM episodes),
		(SELECT max(session_date) FROM sessions), (SELECT max(obs_date) FROM observations)), '%Y-%m-%d')`)
	if latest[0] != "2026-03-15" {
		t.Errorf("the latest stored date is %s, want the load day 2026-03-15", latest[0])
	}
	checkBalanced(t, db)
}
