package query

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

func memDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestWorkbookSplitsPastTheRowLimit writes 7 rows with a limit of 3 rows a sheet
// (header included) and reads them back from the sheets in order.
func TestWorkbookSplitsPastTheRowLimit(t *testing.T) {
	db := memDB(t)
	rows, err := db.Query(`SELECT i, '=A' || i AS text FROM range(7) t(i) ORDER BY i`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := columnsOf(rows)
	out := filepath.Join(t.TempDir(), "r.xlsx")
	n, err := toWriter(Options{Out: out}, func(w io.Writer) (int64, error) { return writeXLSXLimit(rows, cols, w, 3) })
	if err != nil || n != 7 {
		t.Fatalf("wrote %d rows (%v)", n, err)
	}
	f, err := excelize.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "Result,Result 2,Result 3,Result 4" {
		t.Fatalf("sheets %s", got)
	}
	var values []string
	for _, sheet := range f.GetSheetList() {
		rs, _ := f.GetRows(sheet)
		if rs[0][0] != "i" {
			t.Errorf("%s has no header row", sheet)
		}
		for _, r := range rs[1:] {
			values = append(values, r[1])
			if formula, _ := f.GetCellFormula(sheet, "B2"); formula != "" {
				t.Errorf("%s: text became the formula %q", sheet, formula)
			}
		}
	}
	if got := strings.Join(values, " "); got != "=A0 =A1 =A2 =A3 =A4 =A5 =A6" {
		t.Errorf("values read back %q", got)
	}
}

func TestTableFitsTheWidth(t *testing.T) {
	db := memDB(t)
	var buf bytes.Buffer
	n, err := Run(context.Background(), db, `SELECT repeat('x', 200) AS long_text, 42 AS n, 'short' AS s FROM range(3)`, Options{Format: "table", W: &buf, Width: 60})
	if err != nil || n != 3 {
		t.Fatalf("%d rows (%v)", n, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for _, l := range lines[:len(lines)-1] {
		if w := utf8.RuneCountInString(l); w > 60 {
			t.Errorf("line of %d characters in a 60-wide table: %q", w, l)
		}
	}
	if !strings.Contains(buf.String(), "…") || !strings.HasSuffix(strings.TrimSpace(buf.String()), "(3 rows)") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// TestTypesKeepTheirMeaning checks that sums (HUGEINT), decimals, lists, structs,
// UUIDs, intervals and time zones come out as a researcher would read them.
func TestTypesKeepTheirMeaning(t *testing.T) {
	db := memDB(t)
	q := `SELECT sum(i) AS total, 0.5 AS half, [1, 2, NULL] AS list, {'x': 1, 'y': 'z'} AS rec,
	             '00112233-4455-6677-8899-aabbccddeeff'::UUID AS id, INTERVAL 1 DAY AS one_day,
	             TIMESTAMPTZ '2024-01-01 12:00:00+05' AS at
	      FROM range(10) t(i)`
	var buf bytes.Buffer
	if _, err := Run(context.Background(), db, q, Options{Format: "json", W: &buf}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	r := got[0]
	if r["total"] != 45.0 || r["half"] != 0.5 {
		t.Errorf("numbers came out as %#v and %#v", r["total"], r["half"])
	}
	if l, ok := r["list"].([]any); !ok || len(l) != 3 || l[2] != nil {
		t.Errorf("list came out as %#v", r["list"])
	}
	if m, ok := r["rec"].(map[string]any); !ok || m["y"] != "z" {
		t.Errorf("struct came out as %#v", r["rec"])
	}
	if r["id"] != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("uuid came out as %#v", r["id"])
	}
	if r["at"] != "2024-01-01T07:00:00Z" {
		t.Errorf("time with zone came out as %#v", r["at"])
	}
	buf.Reset()
	if _, err := Run(context.Background(), db, q, Options{Format: "csv", W: &buf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"[1,2,null]"`) || !strings.Contains(buf.String(), "P0M1DT0S") {
		t.Errorf("csv: %s", buf.String())
	}
}

// TestCSVNeutralizesFormulas writes text that a spreadsheet would run as a formula
// (=, +, -, @, tab, carriage return first) and finds each kept as text behind a single
// quote, while numbers, negative ones included, a sign alone, a signed plain number and
// other text are written as they are.
func TestCSVNeutralizesFormulas(t *testing.T) {
	db := memDB(t)
	rows, err := db.Query(`SELECT * FROM (VALUES
		('=HYPERLINK("http://example.invalid","x")', -5, 'plain'),
		('+1+1', 3, 'a=b'),
		('-2+3', -1, ''),
		('@SUM(A1:A9)', 0, 'x'),
		(chr(9) || '=1', 1, 'y'),
		(chr(13) || '=1', 2, 'z'),
		('+', 4, '-'),
		('-5', 5, '+2.5')) t("=cmd", n, other)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := columnsOf(rows)
	var b bytes.Buffer
	if _, err := writeCSV(rows, cols, &b, true); err != nil {
		t.Fatal(err)
	}
	want := "'=cmd,n,other\n" +
		`"'=HYPERLINK(""http://example.invalid"",""x"")",-5,plain` + "\n" +
		"'+1+1,3,a=b\n" +
		"'-2+3,-1,\n" +
		"'@SUM(A1:A9),0,x\n" +
		"'\t=1,1,y\n" +
		"\"'\r=1\",2,z\n" +
		"+,4,-\n" +
		"-5,5,+2.5\n"
	if got := b.String(); got != want {
		t.Errorf("csv:\n%q\nwant\n%q", got, want)
	}
}
