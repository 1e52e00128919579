package models

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// accessExport is a small export for the follow-up, symptom, access and satisfaction
// measures, worked out by hand in TestIssue16MeasuresByHand. Cutoff 2026-06-30; the
// follow-up window is 14 days.
//
//   - E1 (P1): referred 4 days before admission; first attended session day 3 (day 0
//     was a no-show); PHQ-9 12 -> 4 (response, remission); GAD-7 10 -> 6 (neither);
//     CSQ-8 26 six days after discharge; reached at 30 days (abstinent), not reached
//     at 90 days; its 180-day window (to day 194) is still open at the cutoff.
//   - E2 (P2, the only episode of P2): no referral date; first attended session day
//     11; PHQ-9 0 -> 0 (a baseline of 0 has no response), no GAD-7 at all, no CSQ-8;
//     a 30-day follow-up exported without an episode (reached, not abstinent), no
//     contact in the 90-day window: nobody is reached at 90 days.
//   - E3 (P1): referred 19 days before admission, no session attended, died: out of
//     the follow-up and the satisfaction measures.
//   - E4 (P1): referred 2 days before admission, attended day 0, still active,
//     admitted fewer than 7 days before the cutoff.
//   - E5: a referral after admission, and two CSQ-8 scores outside 8-32: rejected.
var accessExport = map[string]string{
	"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n" +
		"P1,Test IOP,North,IOP,8,10\nP2,Other IOP,South,IOP,8,10\n",
	"patients.csv": "patient_id,birth_year,sex\nA,1980,female\nB,1990,male\nC,1970,male\nD,2000,female\n",
	"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication,referral_source,referral_date\n" +
		"E1,A,P1,2026-01-05,2026-02-04,completed,alcohol,false,false,self,2026-01-01\n" +
		"E2,B,P2,2026-02-01,2026-03-01,dropped_out,alcohol,false,false,,\n" +
		"E3,C,P1,2026-03-20,2026-04-10,died,opioids,false,false,court,2026-03-01\n" +
		"E4,D,P1,2026-06-27,,,cannabis,false,false,,2026-06-25\n" +
		"E5,D,P1,2026-01-10,2026-01-20,completed,cannabis,false,false,,2026-01-15\n",
	"sessions.csv": "session_id,episode_id,patient_id,session_date,session_type,status,minutes\n" +
		"S1,E1,A,2026-01-05,group,no_show,180\n" +
		"S2,E1,A,2026-01-08,group,attended,180\n" +
		"S3,E2,B,2026-02-12,group,attended,180\n" +
		"S4,E3,C,2026-03-21,group,no_show,180\n" +
		"S5,E4,D,2026-06-27,individual,attended,60\n",
	"observations.csv": "patient_id,episode_id,obs_date,measure,value\n" +
		"A,E1,2026-01-06,phq9,12\nA,E1,2026-02-01,phq9,4\nA,E1,2026-01-06,gad7,10\nA,E1,2026-02-01,gad7,6\n" +
		"A,E1,2026-02-10,csq8,26\n" +
		"A,E1,2026-03-06,followup_contact,reached\nA,E1,2026-03-06,followup_abstinent,yes\n" +
		"A,E1,2026-05-05,followup_contact,not_reached\n" +
		"B,,2026-02-02,phq9,0\nB,,2026-02-20,phq9,0\n" +
		"B,,2026-03-31,followup_contact,reached\nB,,2026-03-31,followup_abstinent,no\n" +
		"C,E3,2026-03-25,csq8,33\n" +
		"D,E4,2026-06-28,csq8,7\n",
}

func loadAccessExport(t *testing.T) *store.DB {
	t.Helper()
	p := DefaultParams()
	p.Cutoff = "2026-06-30"
	return loadAndRebuild(t, writeFiles(t, accessExport), p)
}

// rows reads a query's rows as text (DuckDB's casts: 3.0 for a double), NULL as
// "null", for cmp.Diff.
func rows(t *testing.T, db *store.DB, q string) [][]string {
	t.Helper()
	rs, err := db.Query(`SELECT COLUMNS(*)::VARCHAR FROM (` + q + `)`)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		v := make([]sql.NullString, len(cols))
		ptr := make([]any, len(cols))
		for i := range v {
			ptr[i] = &v[i]
		}
		if err := rs.Scan(ptr...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, x := range v {
			r[i] = "null"
			if x.Valid {
				r[i] = x.String
			}
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIssue16MeasuresByHand checks the follow-up, symptom, access and satisfaction
// measures of accessExport against counts worked out by hand, with their edge cases:
// nobody due (180 days), nobody reached (90 days), no baseline and a baseline of 0,
// no referral date, no attended session, a program with nobody scored (a group of
// size 0), a death, and values rejected at load.
func TestIssue16MeasuresByHand(t *testing.T) {
	db := loadAccessExport(t)

	t.Run("rejects", func(t *testing.T) {
		got := rows(t, db, `SELECT regexp_extract(file, '[a-z]+\.csv$'), line, "column", reason,
			message LIKE '%range of csq8, 8 to 32%' OR message LIKE '%after admit_date%' FROM rejects ORDER BY file, line`)
		want := [][]string{
			{"episodes.csv", "6", "referral_date", "referral_after_admission", "true"},
			{"observations.csv", "14", "value", "out_of_range", "true"},
			{"observations.csv", "15", "value", "out_of_range", "true"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rejects (-want +got):\n%s", diff)
		}
	})

	t.Run("episode_outcomes", func(t *testing.T) {
		got := rows(t, db, `SELECT episode_id, days_referral_to_admission, first_attended_day, phq9_scores, gad7_scores,
			phq9_response, phq9_remission, gad7_response, gad7_remission, csq8_score
			FROM episode_outcomes ORDER BY episode_id`)
		want := [][]string{
			{"E1", "4", "3", "2", "2", "true", "true", "false", "false", "26.0"},
			{"E2", "null", "11", "2", "0", "null", "null", "null", "null", "null"},
			{"E3", "19", "null", "0", "0", "null", "null", "null", "null", "null"},
			{"E4", "2", "0", "0", "0", "null", "null", "null", "null", "null"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("episode_outcomes (-want +got):\n%s", diff)
		}
	})

	t.Run("episode_followups", func(t *testing.T) {
		got := rows(t, db, `SELECT episode_id, horizon_days, window_from, window_to, due, attempts, reached, abstinent
			FROM episode_followups ORDER BY episode_id, horizon_days`)
		want := [][]string{
			{"E1", "30", "2026-02-20", "2026-03-20", "true", "1", "true", "true"},
			{"E1", "90", "2026-04-21", "2026-05-19", "true", "1", "false", "null"},
			{"E1", "180", "2026-07-20", "2026-08-17", "false", "0", "false", "null"},
			{"E2", "30", "2026-03-17", "2026-04-14", "true", "1", "true", "false"},
			{"E2", "90", "2026-05-16", "2026-06-13", "true", "0", "false", "null"},
			{"E2", "180", "2026-08-14", "2026-09-11", "false", "0", "false", "null"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("episode_followups (-want +got):\n%s", diff)
		}
	})

	t.Run("kpis", func(t *testing.T) {
		got := rows(t, db, `SELECT program_id, period, measure, numerator, denominator FROM kpis
			WHERE measure IN ('phq9_response', 'phq9_remission', 'gad7_response', 'gad7_remission', 'phq9_measured', 'gad7_measured',
			                  'referral_within_target', 'first_session_within_target', 'satisfaction_response', 'satisfied')
			   OR measure LIKE 'followup%'
			ORDER BY program_id, period, measure`)
		want := [][]string{
			{"ALL", "2026Q1", "first_session_within_target", "1", "3"}, // E1 day 3; E2 day 11; E3 none
			{"ALL", "2026Q1", "followup_abstinent_30", "1", "2"},
			{"ALL", "2026Q1", "followup_contact_30", "2", "2"},
			{"ALL", "2026Q1", "followup_contact_90", "0", "2"}, // nobody reached; no abstinence row
			{"ALL", "2026Q1", "gad7_measured", "1", "2"},
			{"ALL", "2026Q1", "gad7_remission", "0", "1"},
			{"ALL", "2026Q1", "gad7_response", "0", "1"},
			{"ALL", "2026Q1", "phq9_measured", "2", "2"},
			{"ALL", "2026Q1", "phq9_remission", "1", "1"},
			{"ALL", "2026Q1", "phq9_response", "1", "1"}, // E2's baseline of 0 is left out
			{"ALL", "2026Q1", "referral_within_target", "1", "2"},
			{"ALL", "2026Q1", "satisfaction_response", "1", "2"},
			{"ALL", "2026Q1", "satisfied", "1", "1"},
			{"ALL", "2026Q2", "gad7_measured", "0", "1"}, // E3 died: measured counts it, follow-up and satisfaction do not
			{"ALL", "2026Q2", "phq9_measured", "0", "1"},
			{"ALL", "2026Q2", "referral_within_target", "1", "1"}, // E4; its first session is not yet due
			{"P1", "2026Q1", "first_session_within_target", "1", "2"},
			{"P1", "2026Q1", "followup_abstinent_30", "1", "1"},
			{"P1", "2026Q1", "followup_contact_30", "1", "1"},
			{"P1", "2026Q1", "followup_contact_90", "0", "1"},
			{"P1", "2026Q1", "gad7_measured", "1", "1"},
			{"P1", "2026Q1", "gad7_remission", "0", "1"},
			{"P1", "2026Q1", "gad7_response", "0", "1"},
			{"P1", "2026Q1", "phq9_measured", "1", "1"},
			{"P1", "2026Q1", "phq9_remission", "1", "1"},
			{"P1", "2026Q1", "phq9_response", "1", "1"},
			{"P1", "2026Q1", "referral_within_target", "1", "2"},
			{"P1", "2026Q1", "satisfaction_response", "1", "1"},
			{"P1", "2026Q1", "satisfied", "1", "1"},
			{"P1", "2026Q2", "gad7_measured", "0", "1"},
			{"P1", "2026Q2", "phq9_measured", "0", "1"},
			{"P1", "2026Q2", "referral_within_target", "1", "1"},
			{"P2", "2026Q1", "first_session_within_target", "0", "1"},
			{"P2", "2026Q1", "followup_abstinent_30", "0", "1"},
			{"P2", "2026Q1", "followup_contact_30", "1", "1"},
			{"P2", "2026Q1", "followup_contact_90", "0", "1"},
			{"P2", "2026Q1", "gad7_measured", "0", "1"},
			{"P2", "2026Q1", "phq9_measured", "1", "1"},
			{"P2", "2026Q1", "satisfaction_response", "0", "1"}, // nobody scored: no satisfied row
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kpis (-want +got):\n%s", diff)
		}
	})

	t.Run("kpi_distributions", func(t *testing.T) {
		got := rows(t, db, `SELECT program_id, period, measure, n, n_missing, mean, sd IS NULL, p25, median, p75
			FROM kpi_distributions ORDER BY program_id, period, measure`)
		want := [][]string{
			// Quartiles of 4 and 19 interpolated (R type 7): 7.75, 11.5, 15.25.
			{"ALL", "2026Q1", "csq8_score", "1", "1", "26.0", "true", "26.0", "26.0", "26.0"},
			{"ALL", "2026Q1", "days_referral_to_admission", "2", "1", "11.5", "false", "7.75", "11.5", "15.25"},
			{"ALL", "2026Q1", "days_to_first_session", "2", "1", "7.0", "false", "5.0", "7.0", "9.0"},
			{"ALL", "2026Q2", "days_referral_to_admission", "1", "0", "2.0", "true", "2.0", "2.0", "2.0"},
			{"ALL", "2026Q2", "days_to_first_session", "1", "0", "0.0", "true", "0.0", "0.0", "0.0"},
			{"P1", "2026Q1", "csq8_score", "1", "0", "26.0", "true", "26.0", "26.0", "26.0"},
			{"P1", "2026Q1", "days_referral_to_admission", "2", "0", "11.5", "false", "7.75", "11.5", "15.25"},
			{"P1", "2026Q1", "days_to_first_session", "1", "1", "3.0", "true", "3.0", "3.0", "3.0"},
			{"P1", "2026Q2", "days_referral_to_admission", "1", "0", "2.0", "true", "2.0", "2.0", "2.0"},
			{"P1", "2026Q2", "days_to_first_session", "1", "0", "0.0", "true", "0.0", "0.0", "0.0"},
			// A group of size 0: P2's one discharge has no score.
			{"P2", "2026Q1", "csq8_score", "0", "1", "null", "true", "null", "null", "null"},
			{"P2", "2026Q1", "days_referral_to_admission", "0", "1", "null", "true", "null", "null", "null"},
			{"P2", "2026Q1", "days_to_first_session", "1", "0", "11.0", "true", "11.0", "11.0", "11.0"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kpi_distributions (-want +got):\n%s", diff)
		}
	})
}

// TestAnalysisParametersOfIssue16 checks that the follow-up window, the access target
// and the satisfaction threshold reach the models, and that wrong values are refused.
func TestAnalysisParametersOfIssue16(t *testing.T) {
	p := DefaultParams()
	p.Cutoff = "2026-06-30"
	p.FollowUpWindowDays = 3 // E2's contact on day 30 still counts; E1's on day 30 too
	p.AccessTargetDays = 2   // E1 (4 days), E3 (19) are late; E4 (2) is in time
	p.SatisfiedMinScore = 27 // E1's 26 is not satisfied
	db := loadAndRebuild(t, writeFiles(t, accessExport), p)
	got := rows(t, db, `SELECT measure, numerator, denominator FROM kpis WHERE program_id = 'ALL' AND period = '2026Q1'
		AND measure IN ('referral_within_target', 'first_session_within_target', 'satisfied', 'followup_contact_30')
		ORDER BY measure`)
	want := [][]string{
		{"first_session_within_target", "0", "3"},
		{"followup_contact_30", "2", "2"},
		{"referral_within_target", "0", "2"},
		{"satisfied", "0", "1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kpis with other parameters (-want +got):\n%s", diff)
	}
	var from, to string
	if err := db.QueryRow(`SELECT window_from::VARCHAR, window_to::VARCHAR FROM episode_followups WHERE episode_id = 'E1' AND horizon_days = 30`).Scan(&from, &to); err != nil {
		t.Fatal(err)
	}
	if from != "2026-03-03" || to != "2026-03-09" {
		t.Errorf("E1's 30-day window from %s to %s; want 2026-03-03 to 2026-03-09", from, to)
	}
	for _, bad := range []func(*Params){
		func(p *Params) { p.FollowUpWindowDays = 30 },
		func(p *Params) { p.AccessTargetDays = -1 },
		func(p *Params) { p.SatisfiedMinScore = 33 },
	} {
		q := DefaultParams()
		bad(&q)
		if err := q.Validate(); err == nil || !strings.Contains(err.Error(), "give") {
			t.Errorf("%+v: error %v; want one saying what to give", q, err)
		}
	}
}

// TestPlantedIssue16EffectsAreRecovered generates one export of 3000 patients (loaded
// once per test binary) and recovers from the models what the generator planted
// (generate.Effects): the follow-up response at 30, 90 and 180 days by discharge
// reason, the median delay from referral to admission of each program, and the rise
// of the CSQ-8 score with attendance. Each check states the planted value and the
// tolerance; the tolerances are about 3 standard errors or more at this size.
func TestPlantedIssue16EffectsAreRecovered(t *testing.T) {
	fx := generate.Config{}.Effects()
	db, _ := rebuildCopy(t, loadOnce(t, "generated-3000-16", func(dir string) error {
		_, err := generate.Generate(context.Background(), generate.Config{Patients: 3000, Seed: 16}, dir)
		return err
	}), DefaultParams())

	t.Run("followup response", func(t *testing.T) {
		const tolerance = 0.05
		for _, f := range fx.FollowUps {
			for _, c := range []struct {
				completed bool
				planted   float64
			}{{true, f.ReachCompleted}, {false, f.ReachOther}} {
				var reached, due float64
				if err := db.QueryRow(`SELECT count(*) FILTER (WHERE f.reached), count(*) FROM episode_followups f
					JOIN episode_outcomes o USING (episode_id)
					WHERE f.horizon_days = ? AND f.due AND (o.discharge_reason = 'completed') = ?`, f.Days, c.completed).Scan(&reached, &due); err != nil {
					t.Fatal(err)
				}
				got := reached / due
				t.Logf("%d days, completed %v: reached %.0f of %.0f due = %.3f; planted %.2f", f.Days, c.completed, reached, due, got, c.planted)
				if due < 100 || math.Abs(got-c.planted) > tolerance {
					t.Errorf("%d-day follow-up, completed %v: response %.3f (%.0f of %.0f); planted %.2f +- %.2f",
						f.Days, c.completed, got, reached, due, c.planted, tolerance)
				}
			}
		}
	})

	t.Run("referral delay by program", func(t *testing.T) {
		const tolerance = 1.0 // days
		rs := rows(t, db, `SELECT program_id, median(value), count(value), count(*) FROM kpi_values
			WHERE measure = 'days_referral_to_admission' GROUP BY program_id ORDER BY program_id`)
		if len(rs) != len(fx.ReferralDelayMedianDays) {
			t.Fatalf("medians of %d programs; want %d", len(rs), len(fx.ReferralDelayMedianDays))
		}
		for _, r := range rs {
			median, _ := strconv.ParseFloat(r[1], 64)
			n, _ := strconv.ParseFloat(r[2], 64)
			all, _ := strconv.ParseFloat(r[3], 64)
			planted := float64(fx.ReferralDelayMedianDays[r[0]])
			t.Logf("%s: median %.1f days over %.0f episodes; planted %.0f", r[0], median, n, planted)
			if math.Abs(median-planted) > tolerance {
				t.Errorf("%s: median delay %.1f days; planted %.0f +- %.0f", r[0], median, planted, tolerance)
			}
			if share := n / all; math.Abs(share-fx.ReferralDateShare) > 0.05 {
				t.Errorf("%s: %.3f of episodes carry a referral date; planted %.2f +- 0.05", r[0], share, fx.ReferralDateShare)
			}
		}
	})

	t.Run("satisfaction rises with attendance", func(t *testing.T) {
		const tolerance = 2.5 // CSQ-8 points per unit of attendance rate
		var slope, n float64
		if err := db.QueryRow(`SELECT regr_slope(csq8_score, attendance_rate), regr_count(csq8_score, attendance_rate)
			FROM episode_outcomes`).Scan(&slope, &n); err != nil {
			t.Fatal(err)
		}
		planted := fx.Satisfaction.PerAttendance
		t.Logf("CSQ-8 per unit attendance rate: %.2f over %.0f scored episodes; planted %.1f", slope, n, planted)
		if n < 500 || math.Abs(slope-planted) > tolerance {
			t.Errorf("CSQ-8 slope on attendance %.2f (n %.0f); planted %.1f +- %.1f", slope, n, planted, tolerance)
		}
		for _, c := range []struct {
			completed bool
			planted   float64
		}{{true, fx.Satisfaction.ResponseCompleted}, {false, fx.Satisfaction.ResponseOther}} {
			var got float64
			if err := db.QueryRow(`SELECT avg((csq8_score IS NOT NULL)::INTEGER) FROM episode_outcomes
				WHERE discharge_date IS NOT NULL AND discharge_reason <> 'died' AND (discharge_reason = 'completed') = ?`, c.completed).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.planted) > 0.05 {
				t.Errorf("satisfaction response, completed %v: %.3f; planted %.2f +- 0.05", c.completed, got, c.planted)
			}
		}
	})
}
