package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sessionsProfile is a valid user profile of one mapped table; the error cases below
// each break one thing in it.
const sessionsProfile = `name: clinic
description: a small EHR export
date_format: "%m/%d/%Y"
tables:
  - source: Visits
    entity: sessions
    columns:
      session_id: Visit Number
      episode_id: Admission
      patient_id: Chart No
      session_date: Visit Date
      session_type: Visit Type
      status: Visit Status
      minutes: Minutes
    codes:
      status: {Show: attended, No Show: no_show}
`

// writeProfile writes a profile file into a new folder (with any extra files beside
// it) and returns its path.
func writeProfile(t *testing.T, body string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "clinic.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserProfileLoads checks what a valid mapping becomes: headers and codes read
// without regard to case or surrounding spaces, the profile's date format on every
// table unless a table states its own, unmapped optional columns left out.
func TestUserProfileLoads(t *testing.T) {
	body := sessionsProfile + `
  - source: Scores
    entity: observations
    date_format: "%d.%m.%Y"
    columns:
      patient_id: "  Chart No "
      episode_id: Admission
      obs_date: Score Date
      measure: Instrument
      value: Score
    codes:
      measure: {" PHQ-9 ": phq9}
`
	p, err := Load(writeProfile(t, body, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "clinic" || len(p.Tables) != 2 {
		t.Fatalf("profile %q with %d tables, want clinic with 2", p.Name, len(p.Tables))
	}
	visits, scores := p.Table("visits"), p.Table("SCORES")
	if visits == nil || scores == nil {
		t.Fatalf("tables by name (any case): visits %v, scores %v", visits, scores)
	}
	if visits.Entity.Name != "sessions" || scores.Entity.Name != "observations" {
		t.Errorf("entities %s and %s, want sessions and observations", visits.Entity.Name, scores.Entity.Name)
	}
	if visits.DateFormat != "%m/%d/%Y" || scores.DateFormat != "%d.%m.%Y" {
		t.Errorf("date formats %q and %q, want the profile's on Visits and the table's own on Scores", visits.DateFormat, scores.DateFormat)
	}
	headers := map[string]string{}
	for _, c := range visits.Columns {
		if c.Header != "" { // unmapped optional columns are read as absent
			headers[c.Name] = c.Header
		}
	}
	want := map[string]string{"session_id": "visit number", "episode_id": "admission", "patient_id": "chart no",
		"session_date": "visit date", "session_type": "visit type", "status": "visit status", "minutes": "minutes"}
	if len(headers) != len(want) {
		t.Errorf("Visits reads %v, want exactly %v", headers, want)
	}
	for name, h := range want {
		if headers[name] != h {
			t.Errorf("Visits column %s read from header %q, want %q", name, headers[name], h)
		}
	}
	for _, c := range visits.Columns {
		if c.Name == "patient_id" && c.Pseudonym != "patient" {
			t.Errorf("a mapped patient_id is not keyed as a patient (pseudonym %q)", c.Pseudonym)
		}
	}
	if got := visits.Codes["status"]["no show"]; got != "no_show" {
		t.Errorf("code No Show maps to %q under its lower-case name, want no_show (codes %v)", got, visits.Codes)
	}
	if got := scores.Codes["measure"]["phq-9"]; got != "phq9" {
		t.Errorf("code \" PHQ-9 \" maps to %q under phq-9, want phq9 (codes %v)", got, scores.Codes)
	}
	if scores.Columns[0].Header != "chart no" {
		t.Errorf("header %q, want it trimmed and lower case", scores.Columns[0].Header)
	}
	for _, tb := range p.Tables {
		if tb.Model != "" || tb.Reads() != "raw" || tb.Staging == "" {
			t.Errorf("%s: a mapping must be read as raw through the canonical staging model", tb.Source)
		}
	}
	for file, want := range map[string]string{"visits.csv": "Visits", "Visits_2026-03.csv": "Visits", "scores-week9.csv": "Scores", "visitsx.csv": "", "notes.csv": ""} {
		got := ""
		if tb := p.TableOfFile(file); tb != nil {
			got = tb.Source
		}
		if got != want {
			t.Errorf("TableOfFile(%s) = %q, want %q", file, got, want)
		}
	}
}

func TestDayCountProfileAndStagingModel(t *testing.T) {
	body := `name: trial
date_format: days
anchor: "2019-01-01"
tables:
  - source: visits
    entity: sessions
    read: [Who, Day, Kind]
    pseudonyms: {who: patient}
    staging: visits.sql
    lookups: [people]
  - source: people
    entity: patients
    columns: {patient_id: who, birth_year: born, sex: sex}
    date_format: "%Y-%m-%d"
`
	model := "SELECT line, who AS patient_id FROM source"
	p, err := Load(writeProfile(t, body, map[string]string{"visits.sql": model}))
	if err != nil {
		t.Fatal(err)
	}
	v := p.Table("visits")
	if v.DateFormat != DayCount || !v.Anchor.Equal(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("visits: format %q anchor %v, want days from 2019-01-01", v.DateFormat, v.Anchor)
	}
	if v.Model != model || v.Reads() != "source" {
		t.Errorf("visits: model %q read from %s, want the file beside the profile read from source", v.Model, v.Reads())
	}
	var names []string
	for _, c := range v.Columns {
		names = append(names, c.Name+":"+c.Pseudonym)
	}
	if got := strings.Join(names, ","); got != "who:patient,day:,kind:" {
		t.Errorf("visits reads %s, want who:patient,day:,kind: (lower case, who keyed)", got)
	}
	if pp := p.Table("people"); pp.DateFormat != ISODate || !p.IsLookup(pp) || p.IsLookup(v) {
		t.Errorf("people: format %q, lookup %v; visits lookup %v", pp.DateFormat, p.IsLookup(pp), p.IsLookup(v))
	}
}

// TestProfileErrors checks that each mistake in a profile file is refused with a
// message that names the file and the problem.
func TestProfileErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(sessionsProfile, old) {
			t.Fatalf("the base profile has no %q", old)
		}
		return strings.Replace(sessionsProfile, old, new, 1)
	}
	tests := []struct {
		name  string
		yaml  string
		extra map[string]string
		want  []string // each must appear in the message
	}{
		{name: "unknown top-level key", yaml: replace("date_format:", "date_fromat:"),
			want: []string{"date_fromat", "line 3", "not found"}},
		{name: "unknown key in a table", yaml: replace("    columns:", "    colums:"),
			want: []string{"colums", "not found"}},
		{name: "unknown entity", yaml: replace("entity: sessions", "entity: visits"),
			want: []string{`"visits"`, "not a canonical table", "sessions"}},
		{name: "column the entity does not have", yaml: replace("      minutes: Minutes", "      minutes: Minutes\n      room: Room"),
			want: []string{`"room"`, "not a column of sessions", "session_date"}},
		{name: "required column left unmapped", yaml: replace("      status: Visit Status\n", ""),
			want: []string{"required column status", "not mapped"}},
		{name: "one header for two columns", yaml: replace("minutes: Minutes", "minutes: visit status"),
			want: []string{"mapped to both", "status", "minutes"}},
		{name: "column mapped to an empty header", yaml: replace("minutes: Minutes", `minutes: " "`),
			want: []string{"minutes", "empty header"}},
		{name: "date format without a day", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: "%m/%Y"`),
			want: []string{"date_format", `"%m/%Y"`, "a day, a month and a year"}},
		{name: "date format in another notation", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: "MM/DD/YYYY"`),
			want: []string{"date_format", "MM/DD/YYYY", "strptime"}},
		{name: "date format with an unknown specifier", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: "%m/%d/%Q"`),
			want: []string{"date_format", "%Q", "no strptime specifier"}},
		{name: "date format ending in a percent sign", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: "%m/%d/%Y%"`),
			want: []string{"date_format", "unfinished %"}},
		{name: "empty file", yaml: "  \n# nothing yet\n",
			want: []string{"the profile is empty", "name"}},
		{name: "date format with a quote", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: "%m/%d/%Y'"`),
			want: []string{"date_format", "quote"}},
		{name: "day counts without an anchor", yaml: replace(`date_format: "%m/%d/%Y"`, `date_format: days`),
			want: []string{"days", "anchor", "YYYY-MM-DD"}},
		{name: "day counts with an anchor not in ISO form", yaml: replace(`date_format: "%m/%d/%Y"`, "date_format: days\nanchor: 01/01/2019"),
			want: []string{"anchor", "01/01/2019"}},
		{name: "lookups naming an unknown table", yaml: replace("    codes:", "    lookups: [Rooms]\n    codes:"),
			want: []string{"lookups", "Rooms", "not a source table"}},
		{name: "codes for a column not read", yaml: replace("      status: {Show", "      start_time: {AM: '09:00'}\n      status: {Show"),
			want: []string{"codes", "start_time", "not a column this table reads"}},
		{name: "table listed twice", yaml: sessionsProfile + strings.Join(strings.Split(sessionsProfile, "\n")[4:], "\n"),
			want: []string{"Visits", "listed twice"}},
		{name: "no name", yaml: replace("name: clinic\n", ""),
			want: []string{"give the profile a name"}},
		{name: "no tables", yaml: "name: clinic\ntables: []\n",
			want: []string{"list the source tables"}},
		{name: "table without a source", yaml: replace("  - source: Visits\n    entity", "  - entity"),
			want: []string{"tables[0]", "source"}},
		{name: "read without a staging model", yaml: replace("    codes:", "    read: [a, b]\n    codes:"),
			want: []string{"read", "staging"}},
		{name: "staging model that is not there", yaml: "name: clinic\ntables:\n  - source: v\n    entity: sessions\n    read: [a]\n    staging: nowhere.sql\n",
			want: []string{"staging model nowhere.sql"}},
		{name: "staging model and columns", yaml: "name: clinic\ntables:\n  - source: v\n    entity: sessions\n    read: [a]\n    columns: {session_id: a}\n    staging: m.sql\n",
			extra: map[string]string{"m.sql": "SELECT 1"}, want: []string{"read:", "not columns:"}},
		{name: "read column that is not a plain name", yaml: "name: clinic\ntables:\n  - source: v\n    entity: sessions\n    read: [a, \"b; DROP\"]\n    staging: m.sql\n",
			extra: map[string]string{"m.sql": "SELECT 1"}, want: []string{"b; DROP", "plain name"}},
		{name: "pseudonym of an unknown kind", yaml: "name: clinic\ntables:\n  - source: v\n    entity: sessions\n    read: [a]\n    pseudonyms: {a: nurse}\n    staging: m.sql\n",
			extra: map[string]string{"m.sql": "SELECT 1"}, want: []string{"nurse", "patient or clinician"}},
		{name: "pseudonym on a mapping", yaml: replace("    codes:", "    pseudonyms: {Chart No: patient}\n    codes:"),
			want: []string{"pseudonyms", "staging model"}},
		{name: "not YAML", yaml: "name: [clinic\n",
			want: []string{"line 1"}},
	}
	if _, err := Load(writeProfile(t, sessionsProfile, nil)); err != nil {
		t.Fatalf("the base profile does not load: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeProfile(t, tc.yaml, tc.extra)
			p, err := Load(path)
			if err == nil {
				t.Fatalf("loaded %+v; want an error", p)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("message does not start with the file's path: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadByName(t *testing.T) {
	names := BuiltIn()
	if len(names) < 3 || names[0] != Canonical {
		t.Fatalf("built-in profiles %v; want canonical first, then ctn0094 and ehr-example", names)
	}
	for _, n := range names {
		p, err := Load(n)
		if err != nil {
			t.Errorf("built-in profile %s: %v", n, err)
			continue
		}
		if p.Name != n || p.Source == "" || len(p.Tables) == 0 {
			t.Errorf("built-in profile %s read as %q from %q with %d tables", n, p.Name, p.Source, len(p.Tables))
		}
	}
	for _, n := range []string{"", Canonical} {
		if p, err := Load(n); err != nil || p.Name != Canonical || len(p.Tables) != 5 {
			t.Errorf("Load(%q): %v, %v; want the canonical profile of 5 tables", n, p, err)
		}
	}
	_, err := Load("epic")
	if err == nil || !strings.Contains(err.Error(), `"epic"`) || !strings.Contains(err.Error(), "ehr-example") {
		t.Errorf("Load(epic): %v; want an error naming it and the built-in profiles", err)
	}
	missing := filepath.Join(t.TempDir(), "gone.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load of a missing file: %v; want an error naming it", err)
	}
}
