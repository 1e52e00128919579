package models

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// loadAndRebuild loads the exports in dir into a new database and rebuilds the
// models with p; it returns the database, opened read-only.
func loadAndRebuild(t testing.TB, dir string, p Params) *store.DB {
	t.Helper()
	tmp := t.TempDir()
	os.Setenv(pseudo.EnvKey, "")
	dbPath := filepath.Join(tmp, "test.duckdb")
	_, err := ingest.Run(context.Background(), store.Config{Path: dbPath}, []string{dir}, ingest.Options{
		MaxRejectRate: 1, KeyFile: filepath.Join(tmp, "site.key"),
		Then: func(ctx context.Context, db *store.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = Rebuild(ctx, conn, p, nil)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Config{Path: dbPath, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEpisodeOutcomesByHand checks the measures of a small export worked out by hand.
func TestEpisodeOutcomesByHand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP1,Test IOP,North,IOP,8,10\n",
		"patients.csv": "patient_id,birth_year,sex\nA,1980,female\nB,1990,male\n",
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication\n" +
			// E1: attends days 0, 10, 20, 30 and 45, drops out, discharged day 60.
			"E1,A,P1,2026-01-01,2026-03-02,dropped_out,alcohol,false,false\n" +
			// E2: A readmitted 20 days after discharge, still active.
			"E2,A,P1,2026-03-22,,,alcohol,false,false\n" +
			// E3: attends days 0 and 7 only, completes day 14.
			"E3,B,P1,2026-01-05,2026-01-19,completed,cannabis,true,true\n",
		"sessions.csv": "session_id,episode_id,patient_id,session_date,session_type,status,minutes\n" +
			"S1,E1,A,2026-01-01,group,attended,180\n" +
			"S2,E1,A,2026-01-11,group,attended,180\n" +
			"S3,E1,A,2026-01-21,group,attended,120\n" +
			"S4,E1,A,2026-01-31,individual,attended,60\n" +
			"S5,E1,A,2026-02-15,individual,attended,60\n" +
			"S6,E1,A,2026-02-20,group,no_show,180\n" +
			"S7,E1,A,2026-02-21,group,cancelled_by_program,180\n" +
			"S8,E3,B,2026-01-05,group,attended,180\n" +
			"S9,E3,B,2026-01-12,group,attended,180\n" +
			"S10,E2,A,2026-03-22,group,attended,180\n",
		"observations.csv": "patient_id,episode_id,obs_date,measure,value\n" +
			"A,E1,2026-01-02,phq9,20\nA,E1,2026-02-20,phq9,12\nA,E1,2026-01-03,gad7,10\nA,E1,2026-02-20,gad7,7\n" +
			"A,E1,2026-01-01,uds_specimen,collected\nA,E1,2026-01-01,uds_alcohol,positive\n" +
			"A,E1,2026-01-08,uds_specimen,missing\n" +
			"A,E1,2026-01-15,uds_specimen,collected\nA,E1,2026-01-15,uds_alcohol,negative\nA,E1,2026-01-15,uds_cocaine,positive\n",
	})
	p := DefaultParams()
	p.Cutoff = "2026-06-30"
	db := loadAndRebuild(t, dir, p)
	type row struct {
		los, last, sched, att       int
		rate, landmark              float64
		initiated, engaged, dropout bool
		retention                   int
		cohort                      bool
		readmit30                   *bool
		phqImproved                 *bool
		band                        string
	}
	get := func(id string) row {
		var r row
		if err := db.QueryRow(`SELECT los_days, last_attended_day, scheduled_sessions, attended_sessions, attendance_rate,
			landmark_sessions_per_week, initiated, engaged, dropout_event, retention_days, in_landmark_cohort, readmit_30,
			phq9_reliable_improvement, dose_band FROM episode_outcomes WHERE episode_id = ?`, id).Scan(
			&r.los, &r.last, &r.sched, &r.att, &r.rate, &r.landmark, &r.initiated, &r.engaged, &r.dropout, &r.retention,
			&r.cohort, &r.readmit30, &r.phqImproved, &r.band); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return r
	}
	e1 := get("E1")
	// 5 attended of 6 expected (the program's cancellation is not the patient's);
	// 3 attended in days 0-27 = 0.75 a week; engaged: 2 further within 34 days of day 0.
	if e1.los != 60 || e1.last != 45 || e1.sched != 7 || e1.att != 5 || math.Abs(e1.rate-5.0/6) > 1e-9 ||
		e1.landmark != 0.75 || !e1.initiated || !e1.engaged || !e1.dropout || e1.retention != 45 || !e1.cohort || e1.band != "<1" {
		t.Errorf("E1: %+v", e1)
	}
	if e1.readmit30 == nil || !*e1.readmit30 {
		t.Errorf("E1 readmitted 20 days after discharge: readmit_30 %v", e1.readmit30)
	}
	if e1.phqImproved == nil || !*e1.phqImproved {
		t.Errorf("E1 PHQ-9 20 to 12 is a reliable improvement: %v", e1.phqImproved)
	}
	e3 := get("E3")
	// Completed at day 14: censored at its last attended session, day 7; not in the
	// day-28 cohort; only 1 further session, so not engaged.
	if e3.dropout || e3.retention != 7 || e3.cohort || e3.engaged || e3.band != "<1" {
		t.Errorf("E3: %+v", e3)
	}
	var symbols string
	if err := db.QueryRow(`SELECT string_agg(uds_symbol, '' ORDER BY week) FROM episode_weeks WHERE episode_id = 'E1'`).Scan(&symbols); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(symbols, "+o+") || len(symbols) != 9 {
		t.Errorf("E1 weekly symbols %q; want +o+ then 6 unscreened weeks (9 weeks to day 60)", symbols)
	}
	var kpi struct{ num, den int }
	if err := db.QueryRow(`SELECT numerator, denominator FROM kpis WHERE program_id = 'ALL' AND period = '2026Q1' AND measure = 'completion_rate'`).Scan(&kpi.num, &kpi.den); err != nil || kpi.num != 1 || kpi.den != 2 {
		t.Errorf("2026Q1 completion: %d of %d (%v); want 1 of 2", kpi.num, kpi.den, err)
	}
}

// TestRebuildTablesAreDocumented rebuilds on generated data and checks that every
// table and column, of the core and of the models, carries a comment, and that every
// model table has rows.
func TestRebuildTablesAreDocumented(t *testing.T) {
	dir := t.TempDir()
	if _, err := generate.Generate(context.Background(), generate.Config{Patients: 400, Seed: 3}, dir); err != nil {
		t.Fatal(err)
	}
	db := loadAndRebuild(t, dir, DefaultParams())
	rows, err := db.Query(`
		WITH t AS (SELECT table_name, comment FROM duckdb_tables()
		           WHERE database_name = current_database() AND schema_name = 'main')
		SELECT table_name FROM t WHERE coalesce(comment, '') = ''
		UNION ALL
		SELECT table_name || '.' || column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main'
		  AND table_name IN (SELECT table_name FROM t) AND coalesce(comment, '') = ''
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		missing = append(missing, s)
	}
	rows.Close()
	if len(missing) > 0 {
		t.Errorf("no comment on: %s", strings.Join(missing, ", "))
	}
	for _, table := range []string{"episode_weeks", "episode_outcomes", "relapse_events", "km_estimates", "logrank_tests", "model_estimates", "kpis", "kpis_by_group", "kpi_control", "analysis_parameters"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n == 0 {
			t.Errorf("%s: %d rows (%v)", table, n, err)
		}
	}
	var episodes, outcomes, relapses int
	db.QueryRow(`SELECT (SELECT count(*) FROM episodes), (SELECT count(*) FROM episode_outcomes), (SELECT count(*) FROM relapse_events)`).Scan(&episodes, &outcomes, &relapses)
	if outcomes != episodes || relapses != episodes*(len(Definitions())*len(Policies())+1) {
		t.Errorf("%d episodes, %d outcomes, %d relapse rows", episodes, outcomes, relapses)
	}
	var naive string
	db.QueryRow(`SELECT definition FROM model_estimates WHERE model = 'naive_cox_dropout'`).Scan(&naive)
	if !strings.Contains(naive, "BIASED") {
		t.Errorf("the naive model is not labelled biased: %q", naive)
	}
}

func TestParams(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("landmark_days: 35\ndose_bands: [0, 2, 4]\nrelapse_definition: consecutive3\ncovariates: [sex, program]\n"), 0o644)
	p, err := LoadParams(good)
	if err != nil || p.LandmarkDays != 35 || p.RelapseDefinition != "consecutive3" || p.MissingPolicy != "positive" || len(p.Covariates) != 2 {
		t.Errorf("params %+v (%v)", p, err)
	}
	if got := strings.Join(bandLabels(p.DoseBands), "|"); got != "<2|2-3|4+" {
		t.Errorf("band labels %s", got)
	}
	for body, want := range map[string]string{
		"landmark_day: 28\n":          "landmark_day",
		"relapse_definition: often\n": "relapse_definition",
		"dose_bands: [1, 3]\n":        "dose_bands",
		"covariates: [shoe_size]\n":   "shoe_size",
		"cutoff: 30/09/2026\n":        "cutoff",
		"landmark_days: [28]\n":       "line 1",
		"outcome_window_weeks: -1\n":  "outcome_window_weeks",
		"outcome_window_weeks: 4\n":   "before the landmark",
	} {
		f := filepath.Join(dir, "bad.yaml")
		os.WriteFile(f, []byte(body), 0o644)
		if _, err := LoadParams(f); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %v; want one naming the file and %s", body, err, want)
		}
	}
}
