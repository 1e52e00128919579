package models

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/queries"
)

// groupRow is a row of kpis_by_group; nil for NULL.
type groupRow struct {
	Num               float64
	Den, Rate, Lo, Hi *float64
}

func f(v float64) *float64 { return &v }

// TestKpisByGroupByHand checks kpis_by_group on three episodes worked out by hand,
// with groups of size 0 (sex other, payer medicare), a group whose values were not
// recorded (B has no payer: unknown), and Kaplan-Meier retention by group.
func TestKpisByGroupByHand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP1,Test IOP,North,IOP,8,10\n",
		"patients.csv": "patient_id,birth_year,sex,race,ethnicity,payer\n" +
			"A,1980,female,white,not_hispanic,medicaid\n" +
			"B,2003,male,,,\n" +
			"C,1985,female,white,hispanic,commercial\n",
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication\n" +
			// E1: completed, last attended day 49. E2: dropped out, last attended day 10.
			// E3: completed, last attended day 42. All admitted and discharged in 2026Q1.
			"E1,A,P1,2026-01-05,2026-03-02,completed,alcohol,false,false\n" +
			"E2,B,P1,2026-01-06,2026-02-03,dropped_out,alcohol,false,false\n" +
			"E3,C,P1,2026-01-07,2026-03-02,completed,alcohol,false,false\n",
		"sessions.csv": "session_id,episode_id,patient_id,session_date,session_type,status,minutes\n" +
			"S1,E1,A,2026-01-05,group,attended,180\nS2,E1,A,2026-02-23,group,attended,180\n" +
			"S3,E2,B,2026-01-06,group,attended,180\nS4,E2,B,2026-01-16,group,attended,180\n" +
			"S5,E3,C,2026-01-07,group,attended,180\nS6,E3,C,2026-02-18,group,attended,180\n",
	})
	p := DefaultParams()
	p.Cutoff = "2026-06-30"
	db := loadAndRebuild(t, dir, p)
	get := func(attribute, value, measure string) groupRow {
		t.Helper()
		var r groupRow
		var den, rate, lo, hi sql.NullFloat64
		if err := db.QueryRow(`SELECT numerator, denominator, rate, lower, upper FROM kpis_by_group
			WHERE program_id = 'ALL' AND period = '2026Q1' AND attribute = ? AND value = ? AND measure = ?`,
			attribute, value, measure).Scan(&r.Num, &den, &rate, &lo, &hi); err != nil {
			t.Fatalf("%s %s %s: %v", attribute, value, measure, err)
		}
		for _, x := range []struct {
			v   sql.NullFloat64
			ptr **float64
		}{{den, &r.Den}, {rate, &r.Rate}, {lo, &r.Lo}, {hi, &r.Hi}} {
			if x.v.Valid {
				*x.ptr = f(x.v.Float64)
			}
		}
		return r
	}
	// Wilson 95% lower limit of 2 of 2: 1 / (1 + z^2/2), z = 1.959964.
	wilson22 := 0.3423802275066531
	for _, tc := range []struct {
		attribute, value, measure string
		want                      groupRow
	}{
		{"sex", "female", "completion_rate", groupRow{2, f(2), f(1), f(wilson22), f(1)}},
		{"sex", "male", "completion_rate", groupRow{0, f(1), f(0), f(0), f(0.7934506)}},
		// A group of size 0: a row, nothing to divide.
		{"sex", "other", "completion_rate", groupRow{0, f(0), nil, nil, nil}},
		{"payer", "medicare", "completion_rate", groupRow{0, f(0), nil, nil, nil}},
		{"payer", "unknown", "completion_rate", groupRow{0, f(1), f(0), f(0), f(0.7934506)}},
		{"payer", "medicaid", "completion_rate", groupRow{1, f(1), f(1), f(0.2065494), f(1)}},
		{"age_band", "18-25", "completion_rate", groupRow{0, f(1), f(0), f(0), f(0.7934506)}},
		{"age_band", "35-49", "completion_rate", groupRow{2, f(2), f(1), f(wilson22), f(1)}},
		{"age_band", "65+", "completion_rate", groupRow{0, f(0), nil, nil, nil}},
		// Counts have no denominator; a group of size 0 counts 0.
		{"sex", "female", "admissions", groupRow{2, nil, nil, nil, nil}},
		{"race", "asian", "admissions", groupRow{0, nil, nil, nil, nil}},
		{"ethnicity", "unknown", "census", groupRow{1, nil, nil, nil, nil}},
		// Retention: the Kaplan-Meier estimate of the group. The women were followed past
		// day 30 without dropout: 1, with Wilson's limits of 2 of 2 (the log-log band has
		// no width at 1). E2 dropped out on day 10 and nobody of the men was followed to
		// day 30: no estimate. Race unknown is B alone too.
		{"sex", "female", "retention_30", groupRow{2, f(2), f(1), f(wilson22), f(1)}},
		{"sex", "male", "retention_30", groupRow{0, f(1), nil, nil, nil}},
		{"sex", "other", "retention_30", groupRow{0, f(0), nil, nil, nil}},
	} {
		t.Run(tc.attribute+"_"+tc.value+"_"+tc.measure, func(t *testing.T) {
			got := get(tc.attribute, tc.value, tc.measure)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// The groups of each attribute add up to kpis, measure by measure (retention: the
	// numerator and denominator; its rate is an estimate, not a sum).
	var bad int
	if err := db.QueryRow(`
		SELECT count(*) FROM (
		    SELECT g.program_id, g.period, g.measure, g.attribute, sum(g.numerator) AS num, sum(g.denominator) AS den
		    FROM kpis_by_group g GROUP BY ALL) g
		JOIN kpis k USING (program_id, period, measure)
		WHERE g.num <> k.numerator OR g.den IS DISTINCT FROM k.denominator`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("%d groups of an attribute do not add up to kpis (%v)", bad, err)
	}
	// Every code of every attribute has its row (sex has 4 codes, race 8, payer 8 with
	// unknown, ethnicity 3, age 7 bands with unknown), for each measure of kpis.
	var missing int
	if err := db.QueryRow(`
		SELECT count(*) FROM kpis k, (SELECT domain, code FROM codes WHERE domain IN ('sex', 'race', 'ethnicity', 'payer')) c
		WHERE NOT EXISTS (SELECT 1 FROM kpis_by_group g WHERE g.program_id = k.program_id AND g.period = k.period
		                  AND g.measure = k.measure AND g.attribute = c.domain AND g.value = c.code)`).Scan(&missing); err != nil || missing != 0 {
		t.Errorf("%d rows of a code missing from kpis_by_group (%v)", missing, err)
	}
}

// TestControlLimitsByHand checks the p-charts of kpi_control on a table of kpis
// worked out by hand: 8 quarters of 50 of 100 and one of 360 of 400 give the centre
// 760 / 1200; the limits of n = 100 are 0.633333 -+ 3 sqrt(0.633333 x 0.366667 / 100)
// = 0.488765 and 0.777902, of n = 400 0.561049 and 0.705617. The 8 quarters at 0.5
// are inside their limits and below the centre: the 8th completes a run of 8. The last
// quarter, 0.9, is outside its limits. A rare measure (0 of 10, 1 of 10: centre 0.05)
// has its lower limit clamped to 0. A count (no denominator) has no chart.
func TestControlLimitsByHand(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kpis (program_id VARCHAR, period VARCHAR, measure VARCHAR, numerator DOUBLE, denominator DOUBLE)`); err != nil {
		t.Fatal(err)
	}
	for i, q := range []string{"2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"} {
		if _, err := db.Exec(`INSERT INTO kpis VALUES ('ALL', ?, 'completion_rate', 50, 100), ('ALL', ?, 'admissions', ?, NULL)`, q, q, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO kpis VALUES ('ALL', '2026Q1', 'completion_rate', 360, 400),
		('ALL', '2026Q1', 'rare', 0, 10), ('ALL', '2026Q2', 'rare', 1, 10)`); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(queries.FS, "models/0050_kpi_control.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(b)); err != nil {
		t.Fatal(err)
	}
	type point struct {
		Measure, Period       string
		Share, Centre, Lo, Hi float64
		Outside               bool
		Run                   int
		RunOf8                bool
	}
	rows, err := db.Query(`SELECT measure, period, share, centre, lower_limit, upper_limit, outside_limits, run_length, run_of_8
		FROM kpi_control ORDER BY measure, period`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []point
	for rows.Next() {
		var p point
		if err := rows.Scan(&p.Measure, &p.Period, &p.Share, &p.Centre, &p.Lo, &p.Hi, &p.Outside, &p.Run, &p.RunOf8); err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	c := 0.6333333
	var want []point
	for i, q := range []string{"2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"} {
		want = append(want, point{"completion_rate", q, 0.5, c, 0.4887650, 0.7779017, false, i + 1, i == 7})
	}
	want = append(want, point{"completion_rate", "2026Q1", 0.9, c, 0.5610492, 0.7056175, true, 1, false},
		point{"rare", "2026Q1", 0, 0.05, 0, 0.2567607, false, 1, false},
		point{"rare", "2026Q2", 0.1, 0.05, 0, 0.2567607, false, 1, false})
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
		t.Errorf("kpi_control (-want +got):\n%s", diff)
	}
}
