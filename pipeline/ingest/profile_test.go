package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// loadProfile loads paths under the named profile (a built-in name or a file).
func (e testEnv) loadProfile(t *testing.T, prof string, paths ...string) *Result {
	t.Helper()
	res, err := Run(context.Background(), store.Config{Path: e.db}, paths, Options{MaxRejectRate: 1, KeyFile: e.key, Profile: prof})
	if err != nil {
		t.Fatalf("load %v under profile %s: %v", paths, prof, err)
	}
	return res
}

// fullReject is a rejects row with its value and message.
type fullReject struct {
	reject
	Value, Message string
}

func fullRejects(t *testing.T, db *store.DB) []fullReject {
	t.Helper()
	rows, err := db.Query(`SELECT file, line, coalesce("column", ''), reason, coalesce(value, ''), message FROM rejects ORDER BY file, line, coalesce("column", ''), reason`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []fullReject
	for rows.Next() {
		var r fullReject
		if err := rows.Scan(&r.File, &r.Line, &r.Column, &r.Reason, &r.Value, &r.Message); err != nil {
			t.Fatal(err)
		}
		r.File = filepath.Base(r.File)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func onlyReject(rs []fullReject) []reject {
	var out []reject
	for _, r := range rs {
		out = append(out, r.reject)
	}
	return out
}

// queryStrings returns the first column of a query's rows as text.
func queryStrings(t *testing.T, db *store.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// clinicProfile is a user-written mapping of a clinic's EHR export: its own file
// names, headers and codes, and dates written month/day/year.
const clinicProfile = `name: clinic-ehr
description: a clinic's EHR export, mapped by hand
date_format: "%m/%d/%Y"
tables:
  - source: program_list
    entity: programs
    columns:
      program_id: Program
      name: Program Name
      site: Site
      level_of_care: Level
      planned_weeks: Weeks
      planned_hours_per_week: Hours
    codes:
      level_of_care: {Intensive Outpatient: IOP, Partial Hospitalization: PHP}
  - source: client_list
    entity: patients
    columns: {patient_id: Chart No, birth_year: Year of Birth, sex: Sex at Birth, race: Race, ethnicity: Ethnicity, payer: Insurance}
    codes:
      sex: {F: female, M: male}
      payer: {MCD: medicaid}
  - source: admissions
    entity: episodes
    columns:
      episode_id: Admission No
      patient_id: Chart No
      program_id: Program
      admit_date: Admitted
      discharge_date: Discharged
      discharge_reason: Disposition
      primary_substance: Substance
      co_occurring: Dual Dx
      on_medication: MAT
      referral_source: Referred By
    codes:
      discharge_reason: {Completed Treatment: completed, AMA: dropped_out}
      primary_substance: {Alcohol Use Disorder: alcohol, Opioid Use Disorder: opioids}
  - source: visits
    entity: sessions
    columns:
      session_id: Visit No
      episode_id: Admission No
      patient_id: Chart No
      session_date: Visit Date
      start_time: Time
      session_type: Visit Type
      status: Visit Status
      minutes: Minutes
      clinician_id: Clinician
    codes:
      session_type: {Group Therapy: group, Individual Therapy: individual}
      status: {Show: attended, No Show: no_show}
  - source: scores
    entity: observations
    columns: {patient_id: Chart No, episode_id: Admission No, obs_date: Score Date, measure: Instrument, value: Score, unit: Units}
    codes:
      measure: {PHQ-9: phq9}
`

// TestUserProfileMapsHeadersCodesAndDates loads an export in a clinic's own layout
// through a profile file written for it: the core tables hold canonical codes and
// dates, and a row whose date is not in the profile's format, or whose code the
// profile does not map and the canonical codes do not know, is rejected saying so.
func TestUserProfileMapsHeadersCodesAndDates(t *testing.T) {
	// Each visit row, in file order from line 2, and what it must become: the
	// session's date|type|status, or the reject it gets.
	visits := []struct {
		row    string
		loaded string // date|type|status when the row loads
		reject reject // when the row is rejected (File and Line filled in below)
		msg    []string
	}{
		{row: "V1,A1,C-100,03/04/2026,09:00,Group Therapy,Show,180,DR1", loaded: "2026-03-04|group|attended"},
		{row: "V2,A1,C-100,3/5/2026,09:00,individual therapy,NO SHOW,60,DR1", loaded: "2026-03-05|individual|no_show"},
		{row: "V3,A1,C-100,04/03/2026,09:00,group,excused,180,DR1", loaded: "2026-04-03|group|excused"}, // month first; canonical codes pass through
		{row: "V4,A1,C-100,2026-03-04,09:00,Group Therapy,Show,180,DR1", reject: reject{Column: "session_date", Reason: "bad_date"},
			msg: []string{"session_date", "%m/%d/%Y"}},
		{row: "V5,A1,C-100,13/45/2026,09:00,Group Therapy,Show,180,DR1", reject: reject{Column: "session_date", Reason: "bad_date"},
			msg: []string{"session_date", "%m/%d/%Y"}},
		{row: "V6,A1,C-100,02/30/2026,09:00,Group Therapy,Show,180,DR1", reject: reject{Column: "session_date", Reason: "bad_date"},
			msg: []string{"%m/%d/%Y"}},
		{row: "V7,A1,C-100,03/07/2026,09:00,Group Therapy,Walked Out,180,DR1", reject: reject{Column: "status", Reason: "unknown_code"},
			msg: []string{"status", "not a known code", "attended"}},
	}
	var visitsCSV strings.Builder
	visitsCSV.WriteString("Visit No,Admission No,Chart No,Visit Date,Time,Visit Type,Visit Status,Minutes,Clinician\n")
	wantSessions := map[string]string{}
	var wantRejects []reject
	wantMsg := map[int64][]string{}
	for i, v := range visits {
		visitsCSV.WriteString(v.row + "\n")
		line := int64(i + 2)
		if v.loaded != "" {
			wantSessions[strings.SplitN(v.row, ",", 2)[0]] = v.loaded
			continue
		}
		r := v.reject
		r.File, r.Line = "visits.csv", line
		wantRejects = append(wantRejects, r)
		wantMsg[line] = v.msg
	}
	files := map[string]string{
		"program_list.csv": "Program,Program Name,Site,Level,Weeks,Hours\n" +
			"PRG1,Evening IOP,North,Intensive Outpatient,8,10\n",
		"client_list.csv": "Chart No,Year of Birth,Sex at Birth,Race,Ethnicity,Insurance\n" +
			"C-100,1980,F,white,not_hispanic,MCD\n" +
			"C-200,1975,m,,,\n",
		"admissions.csv": "Admission No,Chart No,Program,Admitted,Discharged,Disposition,Substance,Dual Dx,MAT,Referred By\n" +
			"A1,C-100,PRG1,03/01/2026,,,Alcohol Use Disorder,Y,N,self\n" +
			"A2,C-200,PRG1,3/2/2026,03/20/2026,AMA,opioids,N,Y,\n" +
			"A3,C-200,PRG1,2026-03-02,,,Opioid Use Disorder,N,N,court\n", // line 4: ISO date, not the profile's format
		"visits.csv": visitsCSV.String(),
		"scores.csv": "Chart No,Admission No,Score Date,Instrument,Score,Units\n" +
			"C-100,A1,03/05/2026,PHQ-9,12,points\n" +
			"C-100,A1,03/12/2026,BDI-II,30,points\n", // line 3: a measure neither mapped nor canonical
	}
	wantRejects = append(wantRejects,
		reject{"admissions.csv", 4, "admit_date", "bad_date"},
		reject{"scores.csv", 3, "measure", "unknown_code"})
	sortRejects(wantRejects)

	profPath := filepath.Join(t.TempDir(), "clinic-ehr.yaml")
	if err := os.WriteFile(profPath, []byte(clinicProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	res := env.loadProfile(t, profPath, writeExport(t, files))
	if res.Profile != "clinic-ehr" || len(res.Files) != 5 {
		t.Fatalf("profile %q, %d files; want clinic-ehr and 5 files", res.Profile, len(res.Files))
	}
	db := env.open(t)
	checkBalanced(t, db)
	if n := queryInt(t, db, `SELECT count(*) FROM load_files WHERE profile <> 'clinic-ehr' OR status <> 'loaded'`); n != 0 {
		t.Errorf("%d ledger rows not loaded under clinic-ehr", n)
	}

	got := fullRejects(t, db)
	if diff := cmp.Diff(wantRejects, onlyReject(got)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	for _, r := range got {
		if r.File == "visits.csv" {
			for _, w := range wantMsg[r.Line] {
				if !strings.Contains(r.Message, w) {
					t.Errorf("visits.csv line %d: message %q does not contain %q", r.Line, r.Message, w)
				}
			}
		}
		if r.Reason == "bad_date" && !strings.Contains(r.Message, "%m/%d/%Y") {
			t.Errorf("%s line %d: bad_date message %q does not name the profile's format", r.File, r.Line, r.Message)
		}
	}
	// The reject shows the date as the export wrote it.
	if v := queryStrings(t, db, `SELECT value FROM rejects WHERE file LIKE '%admissions.csv' AND line = 4`); !cmp.Equal(v, []string{"2026-03-02"}) {
		t.Errorf("admissions line 4 reject value %v, want the text 2026-03-02", v)
	}

	gotSessions := map[string]string{}
	for _, s := range queryStrings(t, db, `SELECT session_id || ' ' || strftime(session_date, '%Y-%m-%d') || '|' || session_type || '|' || status FROM sessions`) {
		id, rest, _ := strings.Cut(s, " ")
		gotSessions[id] = rest
	}
	if diff := cmp.Diff(wantSessions, gotSessions); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	for q, want := range map[string][]string{
		`SELECT program_id || '|' || name || '|' || level_of_care || '|' || planned_weeks FROM programs`:   {"PRG1|Evening IOP|IOP|8"},
		`SELECT concat_ws('|', birth_year, sex, race, ethnicity, payer) FROM patients ORDER BY birth_year`: {"1975|male", "1980|female|white|not_hispanic|medicaid"},
		`SELECT episode_id || '|' || CAST(admit_date AS VARCHAR) || '|' || coalesce(CAST(discharge_date AS VARCHAR), '-') || '|' ||
		        coalesce(discharge_reason, '-') || '|' || primary_substance || '|' || co_occurring || '|' || on_medication
		 FROM episodes ORDER BY episode_id`: {"A1|2026-03-01|-|-|alcohol|true|false", "A2|2026-03-02|2026-03-20|dropped_out|opioids|false|true"},
		`SELECT CAST(obs_date AS VARCHAR) || '|' || measure || '|' || value || '|' || episode_id FROM observations`: {"2026-03-05|phq9|12|A1"},
	} {
		if got := queryStrings(t, db, q); !cmp.Equal(want, got) {
			t.Errorf("%s\n got %q\nwant %q", q, got, want)
		}
	}
	// The patients' chart numbers are keyed, as under the canonical layout.
	if n := queryInt(t, db, `SELECT count(*) FROM patients WHERE patient_key LIKE 'C-%'`); n != 0 {
		t.Errorf("%d patients stored under their chart number", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions s JOIN episodes e USING (episode_id) WHERE s.patient_key = e.patient_key`); n != int64(len(wantSessions)) {
		t.Errorf("%d sessions share their episode's patient key, want %d", n, len(wantSessions))
	}
}

// TestUserProfileMayLeaveOptionalColumnsUnmapped loads a mapping that names only the
// required columns of patients: the optional ones (race, ethnicity, payer) must load
// as NULL, as they do when a canonical file leaves them out.
//
// It is skipped because of a defect: profile.parse leaves unmapped optional columns
// out of Table.Columns, so the view raw lacks them and the canonical staging model
// (queries/staging/canonical/patients.sql) fails to bind r.race, failing the whole run
// with a DuckDB Binder Error. Remove the skip once that is fixed.
func TestUserProfileMayLeaveOptionalColumnsUnmapped(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "people.yaml")
	body := "name: people\ntables:\n  - source: people\n    entity: patients\n    columns: {patient_id: Chart No, birth_year: Born, sex: Sex}\n"
	if err := os.WriteFile(prof, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	env.loadProfile(t, prof, writeExport(t, map[string]string{"people.csv": "Chart No,Born,Sex\nC-1,1980,female\n"}))
	db := env.open(t)
	checkBalanced(t, db)
	if n := queryInt(t, db, `SELECT count(*) FROM patients WHERE birth_year = 1980 AND race IS NULL AND payer IS NULL`); n != 1 {
		t.Errorf("%d patients loaded with the optional columns empty, want 1", n)
	}
}

// TestAmbiguousDatesUnderCanonicalProfile checks that the canonical profile, which
// states no date format other than YYYY-MM-DD, never guesses what 03/04/2026 means:
// it refuses it as ambiguous and asks for the format in a profile, while a date that
// can only be day/month or month/day is a plain bad date.
func TestAmbiguousDatesUnderCanonicalProfile(t *testing.T) {
	tests := []struct {
		date   string
		reason string // "" when the row loads
		msg    []string
	}{
		{date: "2026-04-03"},
		{date: "03/04/2026", reason: "ambiguous_date", msg: []string{"admit_date", "month/day or day/month", "date_format", "profile"}},
		{date: "3/4/26", reason: "ambiguous_date", msg: []string{"date_format", "profile"}},
		{date: "03.04.2026", reason: "ambiguous_date", msg: []string{"date_format"}},
		{date: "12-11-2026", reason: "ambiguous_date", msg: []string{"date_format"}},
		{date: "25/04/2026", reason: "bad_date", msg: []string{"admit_date", "YYYY-MM-DD", "date_format"}},
		{date: "04/25/2026", reason: "bad_date", msg: []string{"YYYY-MM-DD", "date_format"}},
		{date: "2026-04-31", reason: "bad_date", msg: []string{"YYYY-MM-DD"}},
	}
	files := fixture()
	var want []reject
	wantMsg := map[int64][]string{}
	for i, tc := range tests {
		files["episodes.csv"] += "E" + string(rune('a'+i)) + ",MRN-A1,P1," + tc.date + ",,,alcohol,true,false,self\n"
		line := int64(4 + i) // the fixture's episodes file has a header and 2 rows
		if tc.reason != "" {
			want = append(want, reject{"episodes.csv", line, "admit_date", tc.reason})
			wantMsg[line] = tc.msg
		}
	}
	env := newEnv(t)
	res := env.load(t, writeExport(t, files)) // no profile named: detected
	if res.Profile != "canonical" {
		t.Fatalf("profile %s, want canonical", res.Profile)
	}
	db := env.open(t)
	checkBalanced(t, db)
	got := fullRejects(t, db)
	if diff := cmp.Diff(want, onlyReject(got)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	for _, r := range got {
		for _, w := range wantMsg[r.Line] {
			if !strings.Contains(r.Message, w) {
				t.Errorf("line %d (%s): message %q does not contain %q", r.Line, r.Value, r.Message, w)
			}
		}
	}
	if n := queryInt(t, db, `SELECT count(*) FROM episodes WHERE episode_id = 'Ea' AND admit_date = DATE '2026-04-03'`); n != 1 {
		t.Error("the ISO date 2026-04-03 did not load as itself")
	}
}

// ehrHeaders are the headers of the ehr-example profile's sheets
// (profiles/ehr-example.yaml), in canonical column order.
var ehrHeaders = map[string][]any{
	"Programs":     {"Program Code", "Program Name", "Location", "Service Level", "Length (weeks)", "Hours per Week"},
	"Clients":      {"MRN", "Birth Year", "Gender", "Race", "Ethnicity", "Primary Insurance"},
	"Encounters":   {"Encounter Number", "MRN", "Program Code", "Admission Date", "Discharge Date", "Discharge Disposition", "Primary Substance", "Dual Diagnosis", "MAT", "Referral Source"},
	"Appointments": {"Appointment ID", "Encounter Number", "MRN", "Appointment Date", "Start Time", "Service", "Appointment Status", "Duration (min)", "Provider ID"},
	"Results":      {"MRN", "Encounter Number", "Result Date", "Test", "Result", "Units"},
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestXLSXWorkbookUnderEHRProfile loads a workbook with a sheet per table of the
// ehr-example profile: rows are numbered as the spreadsheet numbers them (an empty
// row in the middle, a header below an empty first row), real date cells load as
// their dates, a row with a value beyond the header is malformed, every sheet's
// ledger row balances, and the same workbook loaded again is skipped sheet by sheet.
func TestXLSXWorkbookUnderEHRProfile(t *testing.T) {
	sheets := []bookSheet{
		{"Programs", map[int][]any{1: ehrHeaders["Programs"],
			2: {"P1", "Evening IOP", "North", "Intensive Outpatient", 12, 9}}},
		{"Clients", map[int][]any{1: ehrHeaders["Clients"],
			2: {"MRN1", 1980, "F", "white", "Not Hispanic or Latino", "Medicaid"},
			3: {"MRN2", 1975, "M", "black", "Unknown", "Self Pay"}}},
		{"Encounters", map[int][]any{1: ehrHeaders["Encounters"],
			2: {"E1", "MRN1", "P1", day(2026, 3, 2), nil, nil, "alcohol", "Y", "N", "self"}, // a date cell
			3: {"E2", "MRN2", "P1", "03/10/2026", nil, nil, "opioids", "N", "Y", "court"}}}, // a date as text
		{"Appointments", map[int][]any{1: ehrHeaders["Appointments"],
			2: {"A1", "E1", "MRN1", time.Date(2026, 3, 4, 14, 30, 0, 0, time.UTC), "09:00", "Group Therapy", "Show", 180, "C1"}, // a date-time cell
			// row 3 is empty
			4: {"A2", "E1", "MRN1", "03/05/2026", "09:00", "Individual Therapy", "No Show", 60, "C2"},
			5: {"A3", "E1", "MRN1", "03/06/2026", "09:00", "Group Therapy", "Show", 180, "C1", "stray note"}, // beyond the header
			6: {"A4", "E1", "MRN1", "03/07/2026", "09:00", "Group Therapy", "Walked Out", 180, "C1"},         // unmapped code
			7: {"A5", "E1", "MRN1", "2026-03-08", "09:00", "Group Therapy", "Show", 180, "C1"},               // not the profile's date format
			8: {"A6", "E2", "MRN2", day(2026, 3, 11), "10:00", "Group Therapy", "Show", 180, "C1"}}},
		{"Results", map[int][]any{ // row 1 is empty: the header is the first row with text
			2: ehrHeaders["Results"],
			3: {"MRN1", "E1", day(2026, 3, 5), "PHQ-9", 14, "points"},
			4: {"MRN1", "E1", day(2026, 3, 5), "PHQ-9", 14, "points"}, // an identical repeat
			5: {"MRN1", "E1", "03/12/2026", "PHQ-9", 30, "points"}}},  // out of range
		{"Notes", map[int][]any{1: {"anything"}}}, // named after no table: ignored
	}
	dateCells := map[string]string{"Encounters!D2": "46083", "Appointments!D2": "46085", "Appointments!D8": "46092", "Results!C3": "46086"}

	x := newBook(t, sheets...)
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	book := filepath.Join(dir, "clinic.xlsx")
	if err := x.SaveAs(book); err != nil {
		t.Fatal(err)
	}

	// The date cells are numbers in the file (what the loader reads), shown as dates.
	rx, err := excelize.OpenFile(book, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	for at, serial := range dateCells {
		s, c, _ := strings.Cut(at, "!")
		raw, _ := rx.GetCellValue(s, c)
		if !strings.HasPrefix(raw, serial) {
			t.Fatalf("setup: %s holds %q, want the date serial %s", at, raw, serial)
		}
	}
	rx.Close()

	env := newEnv(t)
	res := env.loadProfile(t, filepath.Join("..", "..", "profiles", "ehr-example.yaml"), dir)
	if res.Profile != "ehr-example" || !res.Committed {
		t.Fatalf("profile %s, committed %v", res.Profile, res.Committed)
	}
	if len(res.Ignored) != 1 || !strings.HasSuffix(res.Ignored[0], "clinic.xlsx#Notes") {
		t.Errorf("ignored %v, want the sheet Notes", res.Ignored)
	}
	db := env.open(t)
	checkBalanced(t, db)

	// The ledger, sheet by sheet: read = loaded + rejected + duplicate.
	type counts struct{ Read, Loaded, Rejected, Duplicate int64 }
	want := map[string]counts{
		"Programs":     {1, 1, 0, 0},
		"Clients":      {2, 2, 0, 0},
		"Encounters":   {2, 2, 0, 0},
		"Appointments": {6, 3, 3, 0}, // the empty row 3 is no row
		"Results":      {3, 1, 1, 1},
	}
	rows, err := db.Query(`SELECT path, rows_read, rows_loaded, rows_rejected, rows_duplicate, status FROM load_files`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]counts{}
	for rows.Next() {
		var p, status string
		var c counts
		if err := rows.Scan(&p, &c.Read, &c.Loaded, &c.Rejected, &c.Duplicate, &status); err != nil {
			t.Fatal(err)
		}
		b, s, ok := strings.Cut(filepath.Base(p), "#")
		if !ok || b != "clinic.xlsx" || status != StatusLoaded {
			t.Errorf("ledger row %s: %s; want a loaded sheet of clinic.xlsx", p, status)
		}
		if c.Read != c.Loaded+c.Rejected+c.Duplicate {
			t.Errorf("%s: read %d <> loaded %d + rejected %d + duplicate %d", s, c.Read, c.Loaded, c.Rejected, c.Duplicate)
		}
		got[s] = c
	}
	rows.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger by sheet (-want +got):\n%s", diff)
	}

	wantRejects := []reject{
		{"clinic.xlsx#Appointments", 5, "", "malformed_row"},
		{"clinic.xlsx#Appointments", 6, "status", "unknown_code"},
		{"clinic.xlsx#Appointments", 7, "session_date", "bad_date"},
		{"clinic.xlsx#Results", 5, "value", "out_of_range"},
	}
	gotRejects := fullRejects(t, db)
	if diff := cmp.Diff(wantRejects, onlyReject(gotRejects)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	for _, r := range gotRejects {
		if r.Reason == "bad_date" && !strings.Contains(r.Message, "%m/%d/%Y") {
			t.Errorf("bad_date message %q does not name the profile's format", r.Message)
		}
		if r.Reason == "malformed_row" && !strings.Contains(r.Message, "right of the header's last column") {
			t.Errorf("the wide sheet row's message %q does not say where the stray text is", r.Message)
		}
	}

	// Dates from date cells and from text, and the spreadsheet row of each record.
	for q, want := range map[string][]string{
		`SELECT episode_id || ' ' || CAST(admit_date AS VARCHAR) || ' row ' || source_line FROM episodes ORDER BY 1`: {
			"E1 2026-03-02 row 2", "E2 2026-03-10 row 3"},
		`SELECT session_id || ' ' || CAST(session_date AS VARCHAR) || ' ' || status || ' row ' || source_line FROM sessions ORDER BY 1`: {
			"A1 2026-03-04 attended row 2", "A2 2026-03-05 no_show row 4", "A6 2026-03-11 attended row 8"},
		`SELECT CAST(obs_date AS VARCHAR) || ' ' || measure || ' ' || value FROM observations`: {"2026-03-05 phq9 14"},
		`SELECT level_of_care || ' ' || planned_weeks FROM programs`:                           {"IOP 12"},
	} {
		if got := queryStrings(t, db, q); !cmp.Equal(want, got) {
			t.Errorf("%s\n got %q\nwant %q", q, got, want)
		}
	}

	// The same workbook again: every sheet is skipped and nothing changes.
	before := fileSum(t, env.db)
	again := env.loadProfile(t, "ehr-example", dir)
	if again.Committed {
		t.Error("loading the same workbook again committed")
	}
	if len(again.Files) != len(want) {
		t.Errorf("%d sheets in the second run, want %d", len(again.Files), len(want))
	}
	for _, f := range again.Files {
		if f.Status != StatusSkipped || !strings.Contains(f.Path, "clinic.xlsx#") {
			t.Errorf("second run: %s %s, want each sheet skipped", f.Path, f.Status)
		}
	}
	if after := fileSum(t, env.db); after != before {
		t.Error("the database file changed when the same workbook was loaded again")
	}
}

// tinyCSV is a header and one row of values a, b, c, ...
func tinyCSV(header string) string {
	n := strings.Count(header, ",") + 1
	vals := make([]string, n)
	for i := range vals {
		vals[i] = string(rune('a' + i))
	}
	return header + "\n" + strings.Join(vals, ",") + "\n"
}

// oneSheetBook writes a workbook with one sheet of a header row and returns its bytes.
func oneSheetBook(t *testing.T, sheet string, header []any) []byte {
	t.Helper()
	return bookBytes(t, newBook(t, bookSheet{sheet, rowsFrom(header)}))
}

func TestDetectProfile(t *testing.T) {
	ctn := map[string]string{
		"meta_study_length.csv":    tinyCSV("project,treatment,phase,stage,weeks,description"),
		"demographics.csv":         tinyCSV("who,age,is_hispanic,race,is_male"),
		"randomization.csv":        tinyCSV("who,treatment,which,when"),
		"derived_visitImputed.csv": tinyCSV("who,when,visitImputed"),
		"treatment.csv":            tinyCSV("who,amount,when"),
		"uds_temp.csv":             tinyCSV("who,was_temp_ok,when"),
		"uds.csv":                  tinyCSV("who,what,when"),
		"tlfb.csv":                 tinyCSV("who,what,when"),
	}
	ehrCSV := func(sheet string) string {
		var h []string
		for _, v := range ehrHeaders[sheet] {
			h = append(h, v.(string))
		}
		return tinyCSV(strings.Join(h, ","))
	}
	ctnHeader := []any{"who", "age", "is_hispanic", "race", "is_male"}
	tests := []struct {
		name  string
		files func(t *testing.T) map[string][]byte
		want  string // the profile, or "error: " and a part of the message
	}{
		{"ctn0094 tables", func(t *testing.T) map[string][]byte { return asBytes(ctn) }, "ctn0094"},
		{"a few ctn0094 tables", func(t *testing.T) map[string][]byte {
			return asBytes(map[string]string{"demographics.csv": ctn["demographics.csv"], "uds_temp.csv": ctn["uds_temp.csv"], "tlfb-2019.csv": ctn["tlfb.csv"]})
		}, "ctn0094"},
		{"canonical export", func(t *testing.T) map[string][]byte { return asBytes(fixture()) }, "canonical"},
		{"EHR tables as CSV", func(t *testing.T) map[string][]byte {
			return asBytes(map[string]string{"Clients.csv": ehrCSV("Clients"), "appointments_2026.csv": ehrCSV("Appointments")})
		}, "ehr-example"},
		// A one-sheet workbook named after a ctn0094 table whose sheet is named after
		// an ehr-example table fits both by name: the headers decide.
		{"one-sheet workbook with ctn0094 headers", func(t *testing.T) map[string][]byte {
			return map[string][]byte{"demographics.xlsx": oneSheetBook(t, "Clients", ctnHeader)}
		}, "ctn0094"},
		{"one-sheet workbook with EHR headers", func(t *testing.T) map[string][]byte {
			return map[string][]byte{"demographics.xlsx": oneSheetBook(t, "Clients", ehrHeaders["Clients"])}
		}, "ehr-example"},
		{"canonical and ctn0094 files mixed", func(t *testing.T) map[string][]byte {
			return asBytes(map[string]string{"patients.csv": fixture()["patients.csv"], "demographics.csv": ctn["demographics.csv"]})
		}, "error: --profile"},
		{"workbook with a sheet named after no table", func(t *testing.T) map[string][]byte {
			return map[string][]byte{"book.xlsx": oneSheetBook(t, "Summary", ctnHeader)}
		}, "error: --profile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files(t) {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Detect([]string{dir})
			var got string
			switch {
			case err != nil:
				got = "error: " + err.Error()
			default:
				got = p.Name
			}
			if wantErr, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Errorf("detected %q; want an error containing %q", got, wantErr)
				}
				return
			}
			if got != tc.want {
				t.Errorf("detected %q, want %s", got, tc.want)
			}
		})
	}
}

func asBytes(m map[string]string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

// TestDetectedCtn0094Loads runs a load without naming a profile on a folder of
// ctn0094 tables: the run is recorded under ctn0094.
func TestDetectedCtn0094Loads(t *testing.T) {
	dir := writeExport(t, map[string]string{
		"demographics.csv": "who,age,is_hispanic,race,is_male\n1,30,No,White,Yes\n2,41,Yes,Black,No\n",
	})
	env := newEnv(t)
	res := env.load(t, dir)
	if res.Profile != "ctn0094" {
		t.Fatalf("profile %s, want ctn0094", res.Profile)
	}
	db := env.open(t)
	checkBalanced(t, db)
	if got := queryStrings(t, db, `SELECT DISTINCT profile FROM load_files`); !cmp.Equal(got, []string{"ctn0094"}) {
		t.Errorf("ledger profiles %v, want ctn0094", got)
	}
	if got := queryStrings(t, db, `SELECT sex || ' ' || ethnicity FROM patients ORDER BY 1`); !cmp.Equal(got, []string{"female hispanic", "male not_hispanic"}) {
		t.Errorf("patients %v", got)
	}
}

// TestWorkbookIn1904DateSystem loads date cells of a workbook saved in the 1904 date
// system (older Mac spreadsheets), whose serials count from 1904-01-01, 1,462 days
// later than the usual system's, and a time cell (a fraction of a day).
func TestWorkbookIn1904DateSystem(t *testing.T) {
	x := newBook(t,
		bookSheet{"Programs", rowsFrom(ehrHeaders["Programs"], []any{"P1", "Evening IOP", "North", "Intensive Outpatient", 12, 9})},
		bookSheet{"Clients", rowsFrom(ehrHeaders["Clients"], []any{"MRN1", 1980, "F", "white", "Not Hispanic or Latino", "Medicaid"})},
		bookSheet{"Encounters", rowsFrom(ehrHeaders["Encounters"], []any{"E1", "MRN1", "P1", 44623, nil, nil, "alcohol", "Y", "N", "self"})},
		bookSheet{"Appointments", rowsFrom(ehrHeaders["Appointments"], []any{"A1", "E1", "MRN1", 44624, 0.375, "Group Therapy", "Show", 180, "C1"})})
	yes := true
	if err := x.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &yes}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := x.SaveAs(filepath.Join(dir, "mac.xlsx")); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	if res := env.loadProfile(t, filepath.Join("..", "..", "profiles", "ehr-example.yaml"), dir); !res.Committed {
		t.Fatalf("not committed: %+v", res)
	}
	db := env.open(t)
	var admit string
	if err := db.QueryRow(`SELECT strftime(admit_date, '%Y-%m-%d') FROM episodes WHERE episode_id = 'E1'`).Scan(&admit); err != nil {
		t.Fatal(err)
	}
	if admit != "2026-03-04" {
		t.Errorf("1904-system serial 44623 read as %s, want 2026-03-04", admit)
	}
	var when string
	if err := db.QueryRow(`SELECT strftime(session_date, '%Y-%m-%d') || ' ' || CAST(start_time AS VARCHAR) FROM sessions WHERE session_id = 'A1'`).Scan(&when); err != nil {
		t.Fatal(err)
	}
	if when != "2026-03-05 09:00:00" {
		t.Errorf("session read as %s, want 2026-03-05 09:00:00 (serial 44624 in the 1904 system, time cell 0.375)", when)
	}
}

// bookSheet is a sheet of a test workbook, its rows by spreadsheet row number (rows
// not listed stay empty).
type bookSheet struct {
	name string
	rows map[int][]any
}

// rowsFrom numbers rows from 1.
func rowsFrom(rows ...[]any) map[int][]any {
	m := map[int][]any{}
	for i, r := range rows {
		m[i+1] = r
	}
	return m
}

// newBook makes a workbook of the sheets, in order. A time.Time cell is given a date
// format (m/d/yyyy), as a spreadsheet shows a date; the file holds its serial.
func newBook(tb testing.TB, sheets ...bookSheet) *excelize.File {
	tb.Helper()
	x := excelize.NewFile()
	tb.Cleanup(func() { x.Close() })
	dateStyle, err := x.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		tb.Fatal(err)
	}
	for i, s := range sheets {
		if i == 0 {
			if err := x.SetSheetName("Sheet1", s.name); err != nil {
				tb.Fatal(err)
			}
		} else if _, err := x.NewSheet(s.name); err != nil {
			tb.Fatal(err)
		}
		for n, row := range s.rows {
			cell, _ := excelize.CoordinatesToCellName(1, n)
			if err := x.SetSheetRow(s.name, cell, &row); err != nil {
				tb.Fatal(err)
			}
			for j, v := range row {
				if _, ok := v.(time.Time); ok {
					c, _ := excelize.CoordinatesToCellName(j+1, n)
					if err := x.SetCellStyle(s.name, c, c, dateStyle); err != nil {
						tb.Fatal(err)
					}
				}
			}
		}
	}
	return x
}

// bookBytes is a workbook as the bytes of its file.
func bookBytes(tb testing.TB, x *excelize.File) []byte {
	tb.Helper()
	b, err := x.WriteToBuffer()
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
