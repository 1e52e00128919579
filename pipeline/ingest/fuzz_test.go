package ingest

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/queries"
)

// The fuzz targets feed every reader of user-supplied input with mutated data: a run
// must end with a balanced ledger or an error that names the file, never a panic.
// CI runs each for a few seconds (.ci/run); `go test ./pipeline/ingest -run '^$'
// -fuzz '^FuzzCSVLoad$' -fuzztime 10m` runs one longer.

// fuzzLoad loads an export folder into a new database and checks the outcome.
func fuzzLoad(t *testing.T, dir, profile, file string) {
	t.Helper()
	env := testEnv{db: filepath.Join(dir, "f.duckdb"), key: filepath.Join(dir, "site.key")}
	res, err := Run(context.Background(), store.Config{Path: env.db}, []string{filepath.Join(dir, "export")},
		Options{MaxRejectRate: 1, KeyFile: env.key, Profile: profile})
	if err != nil {
		if !strings.Contains(err.Error(), file) {
			t.Fatalf("error does not name the file %s: %v", file, err)
		}
		return
	}
	for _, f := range res.Files {
		if f.Status != StatusSkipped && f.Read != f.Loaded+f.Rejected+f.Duplicate {
			t.Fatalf("%s does not balance: %+v", f.Path, f)
		}
	}
}

// FuzzCSVLoad mutates a sessions file of a small canonical export.
func FuzzCSVLoad(f *testing.F) {
	fx := fixture()
	f.Add([]byte(fx["sessions.csv"]))
	f.Add([]byte("session_id,episode_id,patient_id,session_date,session_type,status,minutes\n\"S1\",E1,\"MRN-A1\n\",2026-01-05,group,attended,60\r\nS2,E1,,2026-01-06,group,no_show,\n"))
	f.Add([]byte("\ufeffsession_id,episode_id,patient_id,session_date,session_type,status,minutes\r\nS1,E1,MRN-A1,01/05/2026,Group,ATTENDED,60,extra\r\n\x00\xff\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		exp := filepath.Join(dir, "export")
		os.MkdirAll(exp, 0o755)
		for name, body := range fx {
			if name != "sessions.csv" {
				os.WriteFile(filepath.Join(exp, name), []byte(body), 0o644)
			}
		}
		os.WriteFile(filepath.Join(exp, "sessions.csv"), data, 0o644)
		fuzzLoad(t, dir, "", "sessions.csv")
	})
}

// smallWorkbook is a workbook with a Clients sheet of the ehr-example profile.
func smallWorkbook(tb testing.TB, rows [][]any) []byte {
	tb.Helper()
	return bookBytes(tb, newBook(tb, bookSheet{"Clients", rowsFrom(rows...)}))
}

// FuzzXLSXLoad mutates a workbook read through the ehr-example mapping.
func FuzzXLSXLoad(f *testing.F) {
	header := []any{"MRN", "Birth Year", "Gender", "Race", "Ethnicity", "Primary Insurance"}
	f.Add(smallWorkbook(f, [][]any{header, {"MRN1", 1980, "F", "white", "Unknown", "Medicaid"}, {"MRN2", "19x0", "Q", "", "", ""}}))
	f.Add(smallWorkbook(f, [][]any{{}, header, {"MRN1", 1980.5, "M", "black", "Hispanic or Latino", "Self Pay", "beyond"}}))
	// The workbook reader sets aside as much memory as a part of the zip says it
	// unpacks to, and a mutated header can say gigabytes: under the product's limit
	// that alone outlasts the fuzzer's 10 seconds an input ("deadlocked!"). The
	// fuzzer reads workbooks under a limit of 64 MiB, as the hostile-file test does.
	old := unzipLimit
	unzipLimit = 64 << 20
	f.Cleanup(func() { unzipLimit = old })
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		exp := filepath.Join(dir, "export")
		os.MkdirAll(exp, 0o755)
		os.WriteFile(filepath.Join(exp, "book.xlsx"), data, 0o644)
		fuzzLoad(t, dir, "ehr-example", "book.xlsx")
	})
}

// FuzzDates runs the date reader of the staging models (macros.sql: parse_date and
// date_problem) on any text in every kind of format: the query never fails, a date it
// reads is the one the text says, and text it cannot read gets a problem.
func FuzzDates(f *testing.F) {
	conn := macroConn(f)
	for _, s := range []string{"2026-03-04", "03/04/2026", "3/4/2026", "13/04/2026", "2026-02-30", "45000", "45000.75", "-12", "9999999",
		"04.03.2026", "2026-03-04 10:00", " 2026-03-04", "0x10", "1e3", "２０２６-03-04"} {
		for k := 0; k < 4; k++ {
			f.Add(s, uint8(k), k%2 == 0)
		}
	}
	formats := []string{"%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "days"}
	layouts := map[string]string{"%Y-%m-%d": "2006-01-02", "%m/%d/%Y": "1/2/2006", "%d.%m.%Y": "2.1.2006"}
	anchor := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string, k uint8, serials bool) {
		if !utf8.ValidString(v) {
			return // the loader never passes text that is not UTF-8 (the CSV reader rejects the row)
		}
		format := formats[int(k)%len(formats)]
		var got sql.NullTime
		var problem sql.NullString
		err := conn.QueryRowContext(context.Background(),
			`SELECT parse_date($1, $2, DATE '2019-01-01', CASE WHEN $3 THEN DATE '1899-12-30' END), CASE WHEN parse_date($1, $2, DATE '2019-01-01', CASE WHEN $3 THEN DATE '1899-12-30' END) IS NULL THEN date_problem('d', $1, $2) END`,
			v, format, serials).Scan(&got, &problem)
		if err != nil {
			t.Fatalf("parse_date(%q, %s): %v", v, format, err)
		}
		if !got.Valid {
			if !problem.Valid {
				t.Fatalf("parse_date(%q, %s) is null but no problem is given", v, format)
			}
			return
		}
		d := got.Time.UTC()
		if d.Year() < 1900 || d.Year() > 2100 {
			t.Fatalf("parse_date(%q, %s) = %s, outside 1900-2100", v, format, d.Format(time.DateOnly))
		}
		// A plain number in a sheet is a date serial unless the stated format reads it:
		// a day count always does; the other formats here need separators.
		if n, err := strconv.ParseFloat(v, 64); serials && format != "days" && err == nil && !strings.ContainsAny(v, "+-eE") {
			want := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n))
			if !d.Equal(want) {
				t.Fatalf("serial %q read as %s, want %s", v, d.Format(time.DateOnly), want.Format(time.DateOnly))
			}
			return
		}
		switch format {
		case "days":
			n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
			if err != nil || !d.Equal(anchor.AddDate(0, 0, n)) {
				t.Fatalf("day count %q read as %s", v, d.Format(time.DateOnly))
			}
		case "%Y-%m-%d":
			if d.Format(time.DateOnly) != v {
				t.Fatalf("%q read as %s", v, d.Format(time.DateOnly))
			}
		default:
			if want, err := time.Parse(layouts[format], v); err == nil && !want.Equal(d) {
				t.Fatalf("%q in %s read as %s, want %s", v, format, d.Format(time.DateOnly), want.Format(time.DateOnly))
			}
		}
	})
}

// TestStatedDateFormatBeforeSerials: in a sheet a plain number is a date serial only
// when the profile's format does not read it; a day count or a digits-only pattern is
// read as stated.
func TestStatedDateFormatBeforeSerials(t *testing.T) {
	conn := macroConn(t)
	for _, c := range []struct {
		v, format string
		serials   bool
		want      string // YYYY-MM-DD, or "" for no date
	}{
		{"400", "days", true, "2020-02-05"},       // 400 days after the anchor, not 1901-02-03
		{"46085", "days", true, ""},               // a day count past 2100: refused, never a serial
		{"040326", "%d%m%y", true, "2026-03-04"},  // the pattern reads it
		{"46085", "%m/%d/%Y", true, "2026-03-04"}, // a date cell in a text-date column
		{"46085", "%Y-%m-%d", true, "2026-03-04"},
		{"46085", "%Y-%m-%d", false, ""}, // a CSV has no serials
		{"2026-03-04", "%Y-%m-%d", true, "2026-03-04"},
	} {
		var got sql.NullString
		if err := conn.QueryRowContext(context.Background(), `SELECT strftime(parse_date($1, $2, DATE '2019-01-01', CASE WHEN $3 THEN DATE '1899-12-30' END), '%Y-%m-%d')`,
			c.v, c.format, c.serials).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got.String != c.want {
			t.Errorf("parse_date(%q, %s, serials %v) = %q, want %q", c.v, c.format, c.serials, got.String, c.want)
		}
	}
}

// macroConn is a connection to an in-memory database with the staging macros.
func macroConn(tb testing.TB) *sql.Conn {
	tb.Helper()
	db, err := store.Open(context.Background(), store.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(); db.Close() })
	macros, err := fs.ReadFile(queries.FS, "staging/macros.sql")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), string(macros)); err != nil {
		tb.Fatal(err)
	}
	return conn
}
