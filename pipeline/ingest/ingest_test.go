package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// fixture is a small valid export in the canonical layout, file name to content.
func fixture() map[string]string {
	return map[string]string{
		"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n" +
			"P1,Test IOP,North,IOP,8,10\n",
		"patients.csv": "patient_id,birth_year,sex,race,ethnicity,payer\n" +
			"MRN-A1,1980,female,white,not_hispanic,medicaid\n" +
			"MRN-B2,1975,male,black,hispanic,commercial\n",
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication,referral_source\n" +
			"E1,MRN-A1,P1,2026-01-05,2026-03-01,completed,alcohol,true,false,self\n" +
			"E2,MRN-B2,P1,2026-02-02,,,opioids,false,true,court\n",
		"sessions.csv": "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n" +
			"S1,E1,MRN-A1,2026-01-05,09:00,individual,attended,60,C1\n" +
			"S2,E1,MRN-A1,2026-01-07,09:00,group,no_show,180,C2\n" +
			"S3,E2,MRN-B2,2026-02-02,09:00,group,attended,180,C1\n",
		"observations.csv": "patient_id,episode_id,obs_date,measure,value,unit\n" +
			"MRN-A1,E1,2026-01-05,phq9,14,points\n" +
			"MRN-A1,E1,2026-01-12,uds_alcohol,negative,\n" +
			"MRN-B2,E2,2026-02-02,gad7,9,points\n",
	}
}

// writeExport writes files into a new folder and returns it.
func writeExport(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testEnv is a database path and a site key file in a temp folder.
type testEnv struct {
	db, key string
}

func newEnv(t *testing.T) testEnv {
	t.Helper()
	t.Setenv(pseudo.EnvKey, "")
	dir := t.TempDir()
	return testEnv{db: filepath.Join(dir, "test.duckdb"), key: filepath.Join(dir, "site.key")}
}

func (e testEnv) load(t *testing.T, paths ...string) *Result {
	t.Helper()
	res, err := e.tryLoad(paths...)
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return res
}

func (e testEnv) tryLoad(paths ...string) (*Result, error) {
	return Run(context.Background(), store.Config{Path: e.db}, paths, Options{MaxRejectRate: 1, KeyFile: e.key})
}

// open opens the database read-only for checks.
func (e testEnv) open(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: e.db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// reject is the part of a rejects row a test compares.
type reject struct {
	File   string
	Line   int64
	Column string
	Reason string
}

func rejects(t *testing.T, db *store.DB) []reject {
	t.Helper()
	rows, err := db.Query(`SELECT file, line, coalesce("column", ''), reason FROM rejects ORDER BY file, line, reason`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []reject
	for rows.Next() {
		var r reject
		if err := rows.Scan(&r.File, &r.Line, &r.Column, &r.Reason); err != nil {
			t.Fatal(err)
		}
		r.File = filepath.Base(r.File)
		out = append(out, r)
	}
	return out
}

// checkBalanced fails unless every ledger row balances.
func checkBalanced(t *testing.T, db *store.DB) {
	t.Helper()
	if n := queryInt(t, db, `SELECT count(*) FROM load_files WHERE rows_read <> rows_loaded + rows_rejected + rows_duplicate`); n != 0 {
		t.Errorf("%d ledger rows do not balance", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM load_files`); n == 0 {
		t.Error("ledger is empty")
	}
}

func TestLoadFixture(t *testing.T) {
	env := newEnv(t)
	res := env.load(t, writeExport(t, fixture()))
	if !res.Committed || res.Rejected != 0 || res.Read != 11 {
		t.Fatalf("committed %v, read %d, rejected %d; want committed, 11 read, 0 rejected", res.Committed, res.Read, res.Rejected)
	}
	db := env.open(t)
	checkBalanced(t, db)
	for table, want := range map[string]int64{"programs": 1, "patients": 2, "episodes": 2, "sessions": 3, "observations": 3} {
		if got := queryInt(t, db, "SELECT count(*) FROM "+table); got != want {
			t.Errorf("%s has %d rows, want %d", table, got, want)
		}
	}
	// Codes are matched without regard to case and stored as in the codes table.
	if got := queryInt(t, db, `SELECT count(*) FROM programs WHERE level_of_care = 'IOP'`); got != 1 {
		t.Errorf("level_of_care not stored as IOP")
	}
	if got := queryInt(t, db, `SELECT count(*) FROM sessions s JOIN episodes e USING (episode_id) WHERE s.patient_key = e.patient_key`); got != 3 {
		t.Errorf("sessions linked to their patients' episodes: %d, want 3", got)
	}
}

func TestEveryTableAndColumnHasAComment(t *testing.T) {
	env := newEnv(t)
	env.load(t, writeExport(t, fixture()))
	db := env.open(t)
	rows, err := db.Query(`
		WITH t AS (SELECT table_name, comment FROM duckdb_tables()
		           WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal)
		SELECT table_name FROM t WHERE coalesce(comment, '') = ''
		UNION ALL
		SELECT table_name || '.' || column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main'
		  AND table_name IN (SELECT table_name FROM t) AND coalesce(comment, '') = ''
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		missing = append(missing, s)
	}
	if len(missing) > 0 {
		t.Errorf("no comment on: %s", strings.Join(missing, ", "))
	}
	if n := queryInt(t, db, `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`); n < 10 {
		t.Errorf("only %d tables; the schema did not load", n)
	}
}

func TestRejectsEachKindOfBadRow(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		row    string // appended to the file
		want   []reject
		loaded map[string]int64 // rows expected in core tables afterwards, where it matters
	}{
		{name: "missing required value", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,,09:00,group,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "session_date", "missing_value"}}},
		{name: "bad type", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09,09:00,group,attended,ninety,C1",
			want: []reject{{"sessions.csv", 5, "minutes", "bad_type"}}},
		{name: "decimal where a whole number belongs", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09,09:00,group,attended,59.5,C1",
			want: []reject{{"sessions.csv", 5, "minutes", "bad_type"}}},
		{name: "hexadecimal number", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09,09:00,group,attended,0x3C,C1",
			want: []reject{{"sessions.csv", 5, "minutes", "bad_type"}}},
		{name: "decimal birth year", file: "patients.csv",
			row:  "MRN-C3,1990.6,female,white,not_hispanic,medicaid",
			want: []reject{{"patients.csv", 4, "birth_year", "bad_type"}}},
		{name: "date with a note after it", file: "episodes.csv",
			row:  "E9,MRN-A1,P1,2026-01-01 see note 03/02,,,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "admit_date", "bad_date"}}},
		{name: "impossible date", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-02-30,09:00,group,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "session_date", "bad_date"}}},
		{name: "date that could be month/day or day/month", file: "episodes.csv",
			row:  "E9,MRN-A1,P1,05/01/2026,,,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "admit_date", "ambiguous_date"}}},
		{name: "day/month date not in ISO form", file: "episodes.csv",
			row:  "E9,MRN-A1,P1,25/01/2026,,,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "admit_date", "bad_date"}}},
		{name: "unknown code", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09,09:00,group,Show,180,C1",
			want: []reject{{"sessions.csv", 5, "status", "unknown_code"}}},
		{name: "unknown measure", file: "observations.csv",
			row:  "MRN-A1,E1,2026-01-19,phq-9,4,",
			want: []reject{{"observations.csv", 5, "measure", "unknown_code"}}},
		{name: "score out of range", file: "observations.csv",
			row:  "MRN-A1,E1,2026-01-19,phq9,28,points",
			want: []reject{{"observations.csv", 5, "value", "out_of_range"}}},
		{name: "category not allowed for measure", file: "observations.csv",
			row:  "MRN-A1,E1,2026-01-19,uds_alcohol,maybe,",
			want: []reject{{"observations.csv", 5, "value", "out_of_range"}}},
		{name: "discharge before admission", file: "episodes.csv",
			row:  "E9,MRN-A1,P1,2026-03-05,2026-03-02,completed,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "discharge_date", "discharge_before_admission"}}},
		{name: "session outside its episode", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-03-10,09:00,group,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "session_date", "session_outside_episode"}}},
		{name: "unknown episode", file: "sessions.csv",
			row:  "S9,E404,MRN-A1,2026-01-09,09:00,group,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "episode_id", "unknown_episode"}}},
		{name: "unknown patient", file: "episodes.csv",
			row:  "E9,MRN-ZZ9,P1,2026-01-05,,,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "patient_id", "unknown_patient"}}},
		{name: "unknown program", file: "episodes.csv",
			row:  "E9,MRN-A1,P404,2026-04-05,,,alcohol,true,false,self",
			want: []reject{{"episodes.csv", 4, "program_id", "unknown_program"}}},
		{name: "patient differs from the episode's", file: "sessions.csv",
			row:  "S9,E1,MRN-B2,2026-01-09,09:00,group,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "patient_id", "patient_mismatch"}}},
		{name: "duplicate key with different values", file: "sessions.csv",
			row:    "S2,E1,MRN-A1,2026-01-07,09:00,group,attended,180,C2",
			want:   []reject{{"sessions.csv", 3, "session_id", "duplicate_key"}, {"sessions.csv", 5, "session_id", "duplicate_key"}},
			loaded: map[string]int64{"sessions": 2}},
		{name: "identical repeat is a duplicate, not a reject", file: "sessions.csv",
			row:    "S2,E1,MRN-A1,2026-01-07,09:00,group,no_show,180,C2",
			want:   nil,
			loaded: map[string]int64{"sessions": 3}},
		{name: "row with too few fields", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09",
			want: []reject{{"sessions.csv", 5, "", "malformed_row"}}},
		{name: "two problems in one row", file: "sessions.csv",
			row:  "S9,E1,MRN-A1,2026-01-09,25:99,yoga,attended,180,C1",
			want: []reject{{"sessions.csv", 5, "start_time", "bad_type"}, {"sessions.csv", 5, "session_type", "unknown_code"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := fixture()
			files[tc.file] += tc.row + "\n"
			env := newEnv(t)
			res := env.load(t, writeExport(t, files))
			db := env.open(t)
			checkBalanced(t, db)
			got := rejects(t, db)
			sortRejects(got)
			sortRejects(tc.want)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rejects (-want +got):\n%s", diff)
			}
			lines := map[int64]bool{}
			for _, r := range tc.want {
				lines[r.Line] = true
			}
			if res.Rejected != int64(len(lines)) {
				t.Errorf("rows rejected %d, want %d", res.Rejected, len(lines))
			}
			for table, want := range tc.loaded {
				if got := queryInt(t, db, "SELECT count(*) FROM "+table); got != want {
					t.Errorf("%s has %d rows, want %d", table, got, want)
				}
			}
			// A reject names what to do, and never holds an original identifier.
			if n := queryInt(t, db, `SELECT count(*) FROM rejects WHERE message = '' OR coalesce(value, '') LIKE 'MRN%'`); n != 0 {
				t.Errorf("%d rejects with no message or with an original patient id", n)
			}
		})
	}
}

func sortRejects(rs []reject) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

func TestLineNumbersAfterMalformedRows(t *testing.T) {
	files := fixture()
	files["sessions.csv"] = "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n" +
		"S1,E1,MRN-A1,2026-01-05,09:00,individual,attended,60,C1\n" +
		"S2,E1,MRN-A1,2026-01-07\n" + // line 3: too few fields
		"S3,E1,MRN-A1,2026-01-08,09:00,group,attended,180,C1,extra\n" + // line 4: too many
		"S4,E1,MRN-A1,2026-01-09,09:00,group,Show,180,C1\n" + // line 5: unknown code
		"S5,E1,MRN-A1,2026-01-10,09:00,group,attended,180,C1\n" +
		"S6,E1,MRN-A1,2026-01-11\n" + // line 7
		"S7,E1,MRN-A1,2026-02-30,09:00,group,attended,180,C1\n" // line 8: bad date
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	got := rejects(t, db)
	want := []reject{
		{"sessions.csv", 3, "", "malformed_row"},
		{"sessions.csv", 4, "", "malformed_row"},
		{"sessions.csv", 5, "status", "unknown_code"},
		{"sessions.csv", 7, "", "malformed_row"},
		{"sessions.csv", 8, "session_date", "bad_date"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if n := queryInt(t, db, `SELECT source_line FROM sessions WHERE session_id = 'S5'`); n != 6 {
		t.Errorf("S5 recorded at line %d, want 6", n)
	}
	checkBalanced(t, db)
}

// TestLineNumbersAroundEmptyLines checks line numbers when the file has empty lines
// before its header and between rows, which DuckDB's reader skips.
func TestLineNumbersAroundEmptyLines(t *testing.T) {
	files := fixture()
	files["sessions.csv"] = "\n\n" + // lines 1-2: empty
		"session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n" + // 3
		"S1,E1,MRN-A1,2026-01-05,09:00,individual,attended,60,C1\n" + // 4
		"\n\n" + // 5-6
		"S2,E1,MRN-A1,2026-01-07,09:00,group,Show,180,C2\n" + // 7: unknown code
		"S3,E1,MRN-A1,2026-01-08\n" + // 8: too few fields
		"\n" + // 9
		"S4,E1,MRN-A1,2026-01-09,09:00,group,attended,ninety,C1\n" + // 10: bad type
		"S5,E1,MRN-A1,2026-01-10,09:00,group,attended,180,C1\n" // 11
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	got := rejects(t, db)
	want := []reject{
		{"sessions.csv", 7, "status", "unknown_code"},
		{"sessions.csv", 8, "", "malformed_row"},
		{"sessions.csv", 10, "minutes", "bad_type"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if n := queryInt(t, db, `SELECT source_line FROM sessions WHERE session_id = 'S5'`); n != 11 {
		t.Errorf("S5 recorded at line %d, want 11", n)
	}
	checkBalanced(t, db)
}

func TestMixedLineEndingsAreNotReadAsEmpty(t *testing.T) {
	files := fixture()
	files["programs.csv"] = "\r\n" + files["programs.csv"]
	env := newEnv(t)
	res := env.load(t, writeExport(t, files))
	for _, f := range res.Files {
		if f.Entity == "programs" && f.Status == StatusLoaded && f.Loaded == 0 {
			t.Errorf("programs file with mixed line endings reported as loaded with no rows: %+v", f)
		}
	}
}

func TestMissingRequiredColumnFailsTheFile(t *testing.T) {
	files := fixture()
	files["sessions.csv"] = strings.Replace(files["sessions.csv"], ",status,", ",state,", 1)
	env := newEnv(t)
	res := env.load(t, writeExport(t, files))
	var fr *FileResult
	for i := range res.Files {
		if res.Files[i].Entity == "sessions" {
			fr = &res.Files[i]
		}
	}
	if fr == nil || fr.Status != StatusFailed || !strings.Contains(fr.Message, "status") || fr.Read != 3 || fr.Rejected != 3 {
		t.Fatalf("sessions file result %+v; want failed naming column status, 3 read and 3 rejected", fr)
	}
	db := env.open(t)
	checkBalanced(t, db)
	if got := rejects(t, db); !cmp.Equal(got, []reject{{"sessions.csv", 1, "", "missing_column"}}) {
		t.Errorf("rejects %v", got)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions loaded from a refused file", n)
	}
}

func TestBinaryFileIsRefused(t *testing.T) {
	files := fixture()
	files["sessions.csv"] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xfe binary"
	env := newEnv(t)
	res := env.load(t, writeExport(t, files))
	for _, f := range res.Files {
		if f.Entity == "sessions" && (f.Status != StatusFailed || !strings.Contains(f.Message, "not UTF-8 text")) {
			t.Errorf("binary sessions file: %s, %q", f.Status, f.Message)
		}
	}
	db := env.open(t)
	checkBalanced(t, db)
}

// TestUnreadableHeaderCountsItsRows checks that a file refused for its header (here
// UTF-16 text) still counts its rows as read and rejected, so the reject-rate limit
// sees them.
func TestUnreadableHeaderCountsItsRows(t *testing.T) {
	files := fixture()
	var utf16 []byte
	for _, r := range files["patients.csv"] {
		utf16 = append(utf16, byte(r), 0)
	}
	files["patients.csv"] = string(utf16)
	env := newEnv(t)
	res := env.load(t, writeExport(t, files))
	for _, f := range res.Files {
		if f.Entity == "patients" && (f.Status != StatusFailed || f.Read != 2 || f.Rejected != 2) {
			t.Errorf("UTF-16 patients file: %s, read %d, rejected %d; want failed with its 2 rows rejected", f.Status, f.Read, f.Rejected)
		}
	}
}

func TestUnmappedColumnsAreNeverLoaded(t *testing.T) {
	files := fixture()
	files["patients.csv"] = "patient_id,full_name,birth_year,sex,phone,race,ethnicity,payer\n" +
		"MRN-A1,Rosalind Quartermaine,1980,female,555-867-5309,white,not_hispanic,medicaid\n" +
		"MRN-B2,Bartholomew Eckersley,1975,male,555-123-9876,black,hispanic,commercial\n"
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	b, err := os.ReadFile(env.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Quartermaine", "Eckersley", "867-5309", "123-9876", "MRN-A1", "MRN-B2"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("database file contains %q", s)
		}
	}
}

func TestSecondRunChangesNothing(t *testing.T) {
	env := newEnv(t)
	dir := writeExport(t, fixture())
	env.load(t, dir)
	before := fileSum(t, env.db)
	res := env.load(t, dir)
	if res.Committed {
		t.Error("second run committed")
	}
	for _, f := range res.Files {
		if f.Status != StatusSkipped {
			t.Errorf("%s: status %s, want skipped", f.Path, f.Status)
		}
	}
	if after := fileSum(t, env.db); after != before {
		t.Error("the database file changed on a second run of the same files")
	}
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	s, _, err := hashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOverlappingExportUpdatesWithoutDuplicating(t *testing.T) {
	env := newEnv(t)
	env.load(t, writeExport(t, fixture()))
	// A week later: S2 corrected from no_show to attended, S3 unchanged, S4 new; E2
	// discharged; one observation unchanged.
	later := map[string]string{
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication,referral_source\n" +
			"E2,MRN-B2,P1,2026-02-02,2026-02-20,dropped_out,opioids,false,true,court\n",
		"sessions.csv": "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n" +
			"S2,E1,MRN-A1,2026-01-07,09:00,group,attended,180,C2\n" +
			"S3,E2,MRN-B2,2026-02-02,09:00,group,attended,180,C1\n" +
			"S4,E2,MRN-B2,2026-02-04,09:00,group,no_show,180,C1\n",
		"observations.csv": "patient_id,episode_id,obs_date,measure,value,unit\n" +
			"MRN-B2,E2,2026-02-02,gad7,9,points\n",
	}
	res := env.load(t, writeExport(t, later))
	got := map[string][4]int64{}
	for _, f := range res.Files {
		got[f.Entity] = [4]int64{f.Inserted, f.Updated, f.Duplicate, f.Rejected}
	}
	want := map[string][4]int64{"episodes": {0, 1, 0, 0}, "sessions": {1, 1, 1, 0}, "observations": {0, 0, 1, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inserted, updated, duplicate, rejected by table (-want +got):\n%s", diff)
	}
	db := env.open(t)
	checkBalanced(t, db)
	if n := queryInt(t, db, `SELECT count(*) FROM sessions`); n != 4 {
		t.Errorf("%d sessions, want 4", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM (SELECT session_id FROM sessions GROUP BY 1 HAVING count(*) > 1)`); n != 0 {
		t.Errorf("%d duplicated session ids", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions WHERE session_id = 'S2' AND status = 'attended'`); n != 1 {
		t.Error("S2 was not corrected to attended")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM episodes WHERE episode_id = 'E2' AND discharge_reason = 'dropped_out'`); n != 1 {
		t.Error("E2 was not discharged by the later export")
	}
}

// TestReexportedEpisodeCarriesItsRows checks that when a later export gives an
// episode to another patient and moves its dates, its sessions and observations follow
// it, a session now outside its dates is counted, and an observation loaded before
// its episode existed is linked once the episode arrives.
func TestReexportedEpisodeCarriesItsRows(t *testing.T) {
	env := newEnv(t)
	files := fixture()
	files["observations.csv"] += "MRN-B2,,2026-01-20,phq9,7,points\n" // no episode of B2 contains it yet
	env.load(t, writeExport(t, files))
	later := map[string]string{
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication,referral_source\n" +
			"E1,MRN-B2,P1,2026-01-06,2026-03-01,completed,alcohol,true,false,self\n",
	}
	res := env.load(t, writeExport(t, later))
	if res.Moved != 4 || res.Outside != 1 || res.Linked != 1 {
		t.Errorf("moved %d, outside %d, linked %d; want 4 (2 sessions, 2 observations of E1), 1 (S1 on 01-05) and 1", res.Moved, res.Outside, res.Linked)
	}
	db := env.open(t)
	if n := queryInt(t, db, `SELECT count(*) FROM sessions s JOIN episodes e USING (episode_id) WHERE s.patient_key <> e.patient_key`); n != 0 {
		t.Errorf("%d sessions belong to another patient than their episode", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM observations WHERE obs_date = DATE '2026-01-20' AND episode_id = 'E1'`); n != 1 {
		t.Error("the observation was not linked to the episode that arrived later")
	}
}

func TestOlderExportLoadedLaterIsReported(t *testing.T) {
	env := newEnv(t)
	root := t.TempDir()
	for name, program := range map[string]string{"2026-10-01": "Old name", "2026-10-08": "New name"} {
		os.MkdirAll(filepath.Join(root, name), 0o755)
		os.WriteFile(filepath.Join(root, name, "programs.csv"),
			[]byte("program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP1,"+program+",North,IOP,8,10\n"), 0o644)
	}
	env.load(t, filepath.Join(root, "2026-10-08"))
	res := env.load(t, root)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "2026-10-01") {
		t.Errorf("warnings %q; want one about the older export loaded after the newer", res.Warnings)
	}
}

func TestSessionWithoutEpisodeIsLinkedByPatientAndDate(t *testing.T) {
	files := fixture()
	files["sessions.csv"] += "S9,,MRN-A1,2026-01-20,09:00,group,attended,180,C1\n" +
		"S10,,MRN-A1,2026-04-20,09:00,group,attended,180,C1\n"
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	if n := queryInt(t, db, `SELECT count(*) FROM sessions WHERE session_id = 'S9' AND episode_id = 'E1'`); n != 1 {
		t.Error("S9 was not linked to E1")
	}
	if got := rejects(t, db); !cmp.Equal(got, []reject{{"sessions.csv", 6, "episode_id", "unknown_episode"}}) {
		t.Errorf("rejects %v; want S10 (no episode of the patient on that date) rejected", got)
	}
}

func TestAgesOver89AreTopCoded(t *testing.T) {
	files := fixture()
	files["patients.csv"] += "MRN-OLD,1920,male,white,not_hispanic,medicare\n"
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	if n := queryInt(t, db, `SELECT count(*) FROM patients WHERE birth_year = 1920`); n != 0 {
		t.Error("a birth year 106 years ago is stored as it was")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM patients WHERE birth_year = year(current_date) - 90`); n != 1 {
		t.Error("the birth year was not top-coded to 90 years before the load")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM patients WHERE birth_year = 1980`); n != 1 {
		t.Error("an ordinary birth year changed")
	}
}

func TestBOMAndCRLF(t *testing.T) {
	files := fixture()
	for name, body := range files {
		files[name] = "\ufeff" + strings.ReplaceAll(body, "\n", "\r\n")
	}
	env := newEnv(t)
	res := env.load(t, writeExport(t, files))
	if res.Rejected != 0 || res.Read != 11 {
		t.Errorf("read %d, rejected %d; want 11 and 0", res.Read, res.Rejected)
	}
}

func TestRejectRateLimitLoadsNothing(t *testing.T) {
	files := fixture()
	files["sessions.csv"] += "S9,E1,MRN-A1,2026-02-30,09:00,group,attended,180,C1\n"
	env := newEnv(t)
	_, err := Run(context.Background(), store.Config{Path: env.db}, []string{writeExport(t, files)}, Options{MaxRejectRate: 0.01, KeyFile: env.key})
	if !errors.Is(err, ErrRejectRate) {
		t.Fatalf("error %v, want ErrRejectRate", err)
	}
	if _, err := os.Stat(env.db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed first run left a database file (%v)", err)
	}
}

func TestSiteKey(t *testing.T) {
	env := newEnv(t)
	env.load(t, writeExport(t, fixture()))
	info, err := os.Stat(env.key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	if info, err := os.Stat(env.db); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	more := map[string]string{"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP2,Other IOP,South,IOP,8,10\n"}
	dir := writeExport(t, more)

	// Without the key: a clear error that says where it is expected.
	missing := env
	missing.key = filepath.Join(t.TempDir(), "nowhere.key")
	_, err = missing.tryLoad(dir)
	if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), missing.key) {
		t.Errorf("load without the key: %v; want ErrKey naming %s", err, missing.key)
	}
	// With another key: refused.
	other := env
	other.key = filepath.Join(t.TempDir(), "other.key")
	if _, err := pseudo.Create(other.key); err != nil {
		t.Fatal(err)
	}
	if _, err := other.tryLoad(dir); !errors.Is(err, ErrKey) {
		t.Errorf("load with another key: %v; want ErrKey", err)
	}
	// With the right key: loads.
	env.load(t, dir)
}

// TestGeneratedExports loads generated data, clean and messy, and checks the core
// tables and the rejects against the generator's ground truth.
func TestGeneratedExports(t *testing.T) {
	for _, messy := range []bool{false, true} {
		t.Run(fmt.Sprintf("messy=%v", messy), func(t *testing.T) {
			dir := t.TempDir()
			truth, err := generate.Generate(context.Background(), generate.Config{Patients: 1500, Seed: 7, Messy: messy}, dir)
			if err != nil {
				t.Fatal(err)
			}
			env := newEnv(t)
			var log bytes.Buffer
			res, err := Run(context.Background(), store.Config{Path: env.db}, []string{dir}, Options{MaxRejectRate: 1, KeyFile: env.key,
				Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			db := env.open(t)
			checkBalanced(t, db)
			if messy {
				checkStagedAsRead(t, env, dir, log.String())
			}
			for table, want := range truth.Core {
				if got := queryInt(t, db, "SELECT count(*) FROM "+table); got != want {
					t.Errorf("%s: %d rows, want %d", table, got, want)
				}
			}
			if got := queryInt(t, db, `SELECT count(*) FROM sessions WHERE status = 'attended'`); got != truth.AttendedSessions {
				t.Errorf("attended sessions %d, want %d", got, truth.AttendedSessions)
			}
			got := map[string]int64{}
			rows, err := db.Query(`SELECT reason, count(*) FROM rejects GROUP BY reason`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k string
				var n int64
				rows.Scan(&k, &n)
				got[k] = n
			}
			rows.Close()
			want := truth.Injected
			if want == nil {
				want = map[string]int64{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rejects by reason (-injected +got):\n%s", diff)
			}
			var dup int64
			for _, f := range res.Files {
				dup += f.Duplicate
			}
			if messy && dup < truth.Repeats {
				t.Errorf("%d duplicate rows, want at least the %d repeated ones", dup, truth.Repeats)
			}
			for _, q := range []string{
				`SELECT count(*) FROM (SELECT session_id FROM sessions GROUP BY 1 HAVING count(*) > 1)`,
				`SELECT count(*) FROM (SELECT episode_id FROM episodes GROUP BY 1 HAVING count(*) > 1)`,
				`SELECT count(*) FROM (SELECT patient_key, obs_date, measure FROM observations GROUP BY ALL HAVING count(*) > 1)`,
				`SELECT count(*) FROM sessions s JOIN episodes e USING (episode_id) WHERE s.session_date NOT BETWEEN e.admit_date AND coalesce(e.discharge_date, DATE '9999-12-31')`,
			} {
				if n := queryInt(t, db, q); n != 0 {
					t.Errorf("%s: %d", q, n)
				}
			}
			// No original patient id or stray name anywhere in the database file.
			b, err := os.ReadFile(env.db)
			if err != nil {
				t.Fatal(err)
			}
			if m := regexp.MustCompile(`MR[NX][0-9]{7}`).Find(b); m != nil {
				t.Errorf("database file contains the original id %s", m)
			}
			for _, name := range []string{"Okafor", "Quartermaine", "555-"} {
				if bytes.Contains(b, []byte(name)) {
					t.Errorf("database file contains %q", name)
				}
			}
		})
	}
}

// checkStagedAsRead loads the files of dir again, each read whole before it is
// staged, and compares every table with the load of env, in which each file, having
// no quotes, was staged as it was read (its log says so): the same records, rejects
// (with their lines) and ledger.
func checkStagedAsRead(t *testing.T, env testEnv, dir, log string) {
	t.Helper()
	a := env.open(t)
	files := dumpRows(t, a, `SELECT path FROM load_files WHERE status = 'loaded' ORDER BY path`)
	if len(files) < 9 {
		t.Fatalf("%d files loaded; want the 10 files of two exports but a refused one", len(files))
	}
	for _, f := range files {
		if !strings.Contains(log, `msg="read and stage `+f+`"`) {
			t.Errorf("%s was not staged as it was read", f)
		}
	}
	other := testEnv{db: filepath.Join(t.TempDir(), "read-then-stage.duckdb"), key: env.key}
	var otherLog bytes.Buffer
	if _, err := Run(context.Background(), store.Config{Path: other.db}, []string{dir},
		Options{MaxRejectRate: 1, KeyFile: other.key, readThenStage: true,
			Log: slog.New(slog.NewTextHandler(&otherLog, &slog.HandlerOptions{Level: slog.LevelDebug}))}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(otherLog.String(), "read and stage") {
		t.Error("with readThenStage, a file was staged as it was read")
	}
	b := other.open(t)
	for _, q := range []string{
		`SELECT * FROM programs ORDER BY ALL`,
		`SELECT * FROM patients ORDER BY ALL`,
		`SELECT * FROM episodes ORDER BY ALL`,
		`SELECT * FROM sessions ORDER BY ALL`,
		`SELECT * FROM observations ORDER BY ALL`,
		`SELECT * FROM rejects ORDER BY ALL`,
		`SELECT * FROM load_files ORDER BY ALL`,
	} {
		if diff := cmp.Diff(dumpRows(t, a, q), dumpRows(t, b, q)); diff != "" {
			t.Errorf("%s (-staged as read +read then staged):\n%s", q, diff)
		}
	}
}

// dumpRows returns the rows of a query as text, a row's values joined by | (NULL
// for a null), in the query's order.
func dumpRows(t *testing.T, db *store.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		text := make([]string, len(vals))
		for i, v := range vals {
			text[i] = "NULL"
			if v != nil {
				text[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(text, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRowsWithoutEpisodeAreLinkedByTheEpisodesContainingTheirDate links sessions and
// observations that name no episode around two overlapping episodes of one patient,
// one of them open: a date inside one episode alone is linked to it, a date inside
// both (the first episode's discharge day included) is refused as ambiguous, and a
// date inside none is refused for a session and loaded without an episode for an
// observation.
func TestRowsWithoutEpisodeAreLinkedByTheEpisodesContainingTheirDate(t *testing.T) {
	files := fixture()
	files["episodes.csv"] += "E3,MRN-A1,P1,2026-02-15,,,alcohol,true,false,self\n"
	files["sessions.csv"] += "S4,,MRN-A1,2026-01-20,09:00,group,attended,180,C1\n" + // line 5: E1
		"S5,,MRN-A1,2026-02-20,09:00,group,attended,180,C1\n" + // line 6: E1 and E3
		"S6,,MRN-A1,2026-03-01,09:00,group,attended,180,C1\n" + // line 7: E1's last day, E3
		"S7,,MRN-A1,2026-03-02,09:00,group,attended,180,C1\n" + // line 8: E3
		"S8,,MRN-A1,2026-01-04,09:00,group,attended,180,C1\n" + // line 9: none
		"S9,,MRN-B2,2026-02-02,09:00,group,attended,180,C1\n" // line 10: E2 (its first day)
	files["observations.csv"] += "MRN-A1,,2026-02-14,phq9,7,points\n" + // line 5: E1
		"MRN-A1,,2026-02-15,phq9,7,points\n" + // line 6: E1 and E3
		"MRN-A1,,2026-06-01,phq9,7,points\n" + // line 7: E3
		"MRN-B2,,2026-01-10,phq9,7,points\n" // line 8: none (before E2)
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	links := func(q string) map[int64]string {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int64]string{}
		for rows.Next() {
			var line int64
			var ep sql.NullString
			if err := rows.Scan(&line, &ep); err != nil {
				t.Fatal(err)
			}
			got[line] = ep.String
		}
		return got
	}
	if got, want := links(`SELECT source_line, episode_id FROM sessions WHERE source_line > 4`),
		map[int64]string{5: "E1", 8: "E3", 10: "E2"}; !cmp.Equal(got, want) {
		t.Errorf("sessions linked (line: episode) %v; want %v", got, want)
	}
	if got, want := links(`SELECT source_line, episode_id FROM observations WHERE source_line > 4`),
		map[int64]string{5: "E1", 7: "E3", 8: ""}; !cmp.Equal(got, want) {
		t.Errorf("observations linked (line: episode) %v; want %v", got, want)
	}
	want := []reject{
		{"observations.csv", 6, "episode_id", "ambiguous_episode"},
		{"sessions.csv", 6, "episode_id", "ambiguous_episode"},
		{"sessions.csv", 7, "episode_id", "ambiguous_episode"},
		{"sessions.csv", 9, "episode_id", "unknown_episode"},
	}
	if got := rejects(t, db); !cmp.Equal(got, want) {
		t.Errorf("rejects %v; want %v", got, want)
	}
}
