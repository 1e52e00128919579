package models

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// censoringExport writes an export of five episodes admitted on 2026-01-05, each
// with an attended session and a drug screen on day 7(w-1)+1 of every week w of its
// stay; a screen is positive for opioids in the weeks listed, negative otherwise.
//
//	R1  completed day 69 (weeks 1-10), no relapse
//	R2  completed day 69 (weeks 1-10), positive in weeks 6-9: relapse in week 6 (day 35)
//	R3  completed day 40 (weeks 1-6), no relapse
//	L1  completed day 139 (weeks 1-20), no relapse
//	D1  dropped out day 40 (weeks 1-6), no relapse
func censoringExport(t *testing.T) string {
	t.Helper()
	admit := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	day := func(d int) string { return admit.AddDate(0, 0, d).Format(time.DateOnly) }
	episodes := []struct {
		id, reason string
		los        int
		positive   map[int]bool
	}{
		{"R1", "completed", 69, nil},
		{"R2", "completed", 69, map[int]bool{6: true, 7: true, 8: true, 9: true}},
		{"R3", "completed", 40, nil},
		{"L1", "completed", 139, nil},
		{"D1", "dropped_out", 40, nil},
	}
	var eps, patients, sessions, obs strings.Builder
	patients.WriteString("patient_id,birth_year,sex\n")
	eps.WriteString("episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication\n")
	sessions.WriteString("session_id,episode_id,patient_id,session_date,session_type,status,minutes\n")
	obs.WriteString("patient_id,episode_id,obs_date,measure,value\n")
	for i, e := range episodes {
		pt := fmt.Sprintf("P%d", i)
		fmt.Fprintf(&patients, "%s,1980,female\n", pt)
		fmt.Fprintf(&eps, "%s,%s,P1,%s,%s,%s,opioids,false,%v\n", e.id, pt, day(0), day(e.los), e.reason, i%2 == 0)
		for w := 1; 7*(w-1)+1 <= e.los; w++ {
			d := day(7*(w-1) + 1)
			fmt.Fprintf(&sessions, "%s-%d,%s,%s,%s,group,attended,180\n", e.id, w, e.id, pt, d)
			fmt.Fprintf(&obs, "%s,%s,%s,uds_specimen,collected\n", pt, e.id, d)
			if e.positive[w] {
				fmt.Fprintf(&obs, "%s,%s,%s,uds_opioids,positive\n", pt, e.id, d)
			}
		}
	}
	return writeFiles(t, map[string]string{
		"programs.csv":     "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP1,Test IOP,North,IOP,10,10\n",
		"patients.csv":     patients.String(),
		"episodes.csv":     eps.String(),
		"sessions.csv":     sessions.String(),
		"observations.csv": obs.String(),
	})
}

// TestRelapseCensoredAtLastDetectableWeek: under consecutive4 (a run of 4 weeks
// dated to its first week) an episode without relapse is censored at its last
// observed week - 3, not at discharge, in relapse_events, in the relapse
// Kaplan-Meier curve of the landmark cohort and in the logistic model; an episode
// with no such week after the landmark has no time at risk and is left out.
func TestRelapseCensoredAtLastDetectableWeek(t *testing.T) {
	p := DefaultParams()
	p.Cutoff = "2026-12-31"
	db := loadAndRebuild(t, censoringExport(t), p)

	got := map[string]string{}
	rows, err := db.Query(`SELECT episode_id, event, coalesce(week, 0), coalesce(censor_week, 0) FROM relapse_events
		WHERE definition = 'consecutive4' AND missing_policy = 'positive' ORDER BY episode_id`)
	if err != nil {
		t.Errorf("relapse_events: %v", err) // and go on to the models
	}
	for err == nil && rows.Next() {
		var id string
		var event bool
		var week, censor int
		if err := rows.Scan(&id, &event, &week, &censor); err != nil {
			t.Fatal(err)
		}
		got[id] = fmt.Sprintf("event %v week %d censor %d", event, week, censor)
	}
	if err == nil {
		rows.Close()
	}
	want := map[string]string{
		"R1": "event false week 0 censor 7",  // 10 weeks: a run could start in weeks 1-7
		"R2": "event true week 6 censor 0",   // the relapse week; no censoring
		"R3": "event false week 0 censor 3",  // 6 weeks
		"L1": "event false week 0 censor 17", // 20 weeks
		"D1": "event false week 0 censor 3",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("relapse_events %s: %s, want %s", id, got[id], w)
		}
	}

	// The landmark cohort's relapse curve: R2's relapse on day 35 among R1 (censored
	// day 42, the first day of week 7), R2 and L1 (censored day 112); R3 and D1 could
	// show no relapse after day 28 (their last detectable week, 3, begins on day 14).
	var curve []string
	rows, err = db.Query(`SELECT day, n_risk, n_event, n_censor FROM km_estimates
		WHERE analysis = 'relapse_landmark' AND stratum = 'ALL' ORDER BY day`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d float64
		var risk, event, censor int
		if err := rows.Scan(&d, &risk, &event, &censor); err != nil {
			t.Fatal(err)
		}
		curve = append(curve, fmt.Sprintf("day %g: %d at risk, %d events, %d censored", d, risk, event, censor))
	}
	rows.Close()
	wantCurve := []string{"day 35: 3 at risk, 1 events, 0 censored", "day 42: 2 at risk, 0 events, 1 censored", "day 112: 1 at risk, 0 events, 1 censored"}
	if strings.Join(curve, "; ") != strings.Join(wantCurve, "; ") {
		t.Errorf("relapse_landmark curve:\n got %s\nwant %s", strings.Join(curve, "; "), strings.Join(wantCurve, "; "))
	}

	// Relapse by day 90: R2 relapsed; D1 dropped out before it, a relapse when
	// missing screens count as positive; L1 was seen through day 112, no relapse.
	// R1's last detectable week began on day 42, so a relapse in weeks 8-13 could not
	// have been seen: not evaluable, like R3.
	var n, events int
	if err := db.QueryRow(`SELECT max(n), max(events) FROM model_estimates WHERE model = 'landmark_logistic_relapse'`).Scan(&n, &events); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("landmark_logistic_relapse: n = %d, want 3 (R2, D1 and L1; R1 and R3 not evaluable)", n)
	}
}

// TestOutcomeWindow: with outcome_window_weeks the relapse definitions and dropout
// by screens read only weeks 1..W; the weekly table keeps every week, and the
// window is stored with the other parameters.
func TestOutcomeWindow(t *testing.T) {
	file := filepath.Join(t.TempDir(), "window.yaml")
	if err := os.WriteFile(file, []byte("cutoff: \"2026-12-31\"\noutcome_window_weeks: 8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadParams(file)
	if err != nil {
		t.Fatal(err)
	}
	db := loadAndRebuild(t, censoringExport(t), p)
	tests := []struct {
		episode, definition, policy, want string
	}{
		// R2's run of weeks 6-9 ends after week 8: no relapse within the window, and a
		// run could be seen to start up to week 5.
		{"R2", "consecutive4", "positive", "false 0 5"},
		{"R2", "consecutive3", "positive", "true 6 0"},
		{"L1", "consecutive4", "positive", "false 0 5"},
		{"L1", "dropout_4_missing", "not_applicable", "false 0 5"},
		{"R3", "consecutive4", "positive", "false 0 3"}, // shorter than the window
	}
	for _, tc := range tests {
		var event bool
		var week, censor int
		if err := db.QueryRow(`SELECT event, coalesce(week, 0), coalesce(censor_week, 0) FROM relapse_events
			WHERE episode_id = ? AND definition = ? AND missing_policy = ?`, tc.episode, tc.definition, tc.policy).Scan(&event, &week, &censor); err != nil {
			t.Fatalf("%s %s: %v", tc.episode, tc.definition, err)
		}
		if got := fmt.Sprintf("%v %d %d", event, week, censor); got != tc.want {
			t.Errorf("%s %s/%s in weeks 1-8: event, week, censor week %s; want %s", tc.episode, tc.definition, tc.policy, got, tc.want)
		}
	}
	var weeks int
	var stored string
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM episode_weeks WHERE episode_id = 'L1'),
		(SELECT value FROM analysis_parameters WHERE name = 'outcome_window_weeks')`).Scan(&weeks, &stored); err != nil {
		t.Fatal(err)
	}
	if weeks != 20 || stored != "8" {
		t.Errorf("L1 has %d weeks in episode_weeks (want all 20) and outcome_window_weeks is stored as %q (want 8)", weeks, stored)
	}
}
