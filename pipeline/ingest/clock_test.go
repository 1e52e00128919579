package ingest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// TestMain lets the test binary load exports as a separate process, so that a test
// can run a load under another time zone (TZ is read once, when a process starts).
func TestMain(m *testing.M) {
	if os.Getenv("INGEST_TEST_LOAD") == "1" {
		now, err := time.Parse(time.RFC3339, os.Getenv("INGEST_TEST_NOW"))
		if err == nil {
			_, err = Run(context.Background(), store.Config{Path: os.Getenv("INGEST_TEST_DB")}, []string{os.Getenv("INGEST_TEST_EXPORT")},
				Options{MaxRejectRate: 1, KeyFile: os.Getenv("INGEST_TEST_KEY"), Now: func() time.Time { return now }})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLoadDayIsUTC loads the same patients, with the same clock, in processes whose
// time zones are 26 hours apart (Pacific/Kiritimati, UTC+14, and Etc/GMT+12, UTC-12),
// on either side of a new year in UTC. What is stored (the birth year of a person
// about 90, top-coded by the load's year) follows the clock's date in UTC alone.
func TestLoadDayIsUTC(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/Pacific/Kiritimati"); err != nil {
		t.Skip("no time zone database")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := fixture()
	files["patients.csv"] += "MRN-OLD,1936,male,white,not_hispanic,medicare\n"
	export := writeExport(t, files)
	for _, tc := range []struct {
		now  string
		want string // the stored birth year
	}{
		{"2026-12-31T20:00:00Z", "1936"}, // 2027 in Kiritimati, 2026 in UTC and GMT+12: aged 90 by 2026
		{"2027-01-01T02:00:00Z", "1937"}, // 2026 in GMT+12, 2027 in UTC: aged 91, top-coded to 2027-90
	} {
		for _, zone := range []string{"Pacific/Kiritimati", "Etc/GMT+12"} {
			t.Run(tc.now+" "+zone, func(t *testing.T) {
				env := newEnv(t)
				cmd := exec.Command(self)
				cmd.Env = append(os.Environ(), "TZ="+zone, "INGEST_TEST_LOAD=1", "INGEST_TEST_NOW="+tc.now,
					"INGEST_TEST_DB="+env.db, "INGEST_TEST_KEY="+env.key, "INGEST_TEST_EXPORT="+export)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("load: %v\n%s", err, out)
				}
				db := env.open(t)
				// MRN-OLD is the one patient born before 1975.
				got := queryStrings(t, db, `SELECT CAST(birth_year AS VARCHAR) FROM patients WHERE birth_year < 1975`)
				if len(got) != 1 || got[0] != tc.want {
					t.Errorf("birth year stored as %v, want %s", got, tc.want)
				}
				when := queryStrings(t, db, `SELECT strftime(started_at, '%Y-%m-%dT%H:%M:%SZ') FROM load_runs`)
				if len(when) != 1 || when[0] != tc.now {
					t.Errorf("run stamped %v, want %s (UTC)", when, tc.now)
				}
			})
		}
	}
}
