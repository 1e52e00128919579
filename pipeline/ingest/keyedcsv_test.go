package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// The copy DuckDB reads (keyedcsv.go) must be the file as DuckDB's reader sees it,
// with identifiers keyed and unread columns masked: the same rows, the same
// malformed rows at the same lines, the same values in the columns read. These tests
// read each file twice with DuckDB, as it is and as copied, and compare.

var keyedRules = []colRule{keyCol, keepCol, maskCol, keyCol}
var keyedKinds = []string{"patient", "", "", "clinician"}

type duckView struct {
	failed bool // the reader gave up on the file
	rows   [][4]sql.NullString
	errs   []string // line and error type of each malformed row
	lines  []int64  // each row's line, as a numbered copy gives it
}

func readWithDuckDB(t *testing.T, conn *sql.Conn, path string) duckView {
	return readCopyWithDuckDB(t, conn, path, false)
}

// readCopyWithDuckDB reads a file, or with numbered a numbered copy (its rows in
// the order of their lines).
func readCopyWithDuckDB(t *testing.T, conn *sql.Conn, path string, numbered bool) duckView {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{"DROP TABLE IF EXISTS temp.src", "DROP TABLE IF EXISTS temp.csv_errors", "DROP TABLE IF EXISTS temp.csv_scans"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var v duckView
	read, args, line := "CREATE TEMP TABLE src AS SELECT * FROM "+csvSource(4, 0), []any{path}, "rowid"
	if numbered {
		read, args, line = "CREATE TEMP TABLE src AS SELECT * FROM "+numberedSource(path, 4, 0), nil, "line"
	}
	if _, err := conn.ExecContext(ctx, read, args...); err != nil {
		v.failed = true
		return v
	}
	rows, err := conn.QueryContext(ctx, `SELECT `+line+`, c0, c1, c2, c3 FROM src ORDER BY `+line)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r [4]sql.NullString
		var line int64
		if err := rows.Scan(&line, &r[0], &r[1], &r[2], &r[3]); err != nil {
			t.Fatal(err)
		}
		v.rows = append(v.rows, r)
		if numbered {
			v.lines = append(v.lines, line)
		}
	}
	rows.Close()
	rows, err = conn.QueryContext(ctx, `SELECT line, error_type FROM csv_errors ORDER BY line, error_type`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line int64
		var typ string
		if err := rows.Scan(&line, &typ); err != nil {
			t.Fatal(err)
		}
		v.errs = append(v.errs, fmt.Sprint(line, " ", typ))
	}
	rows.Close()
	return v
}

func testKeyer(t testing.TB) *keyer {
	t.Helper()
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(7*i + 3)
	}
	key, err := pseudo.New(secret, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &keyer{key: key}
}

// checkKeyedCopy compares DuckDB's reading of data with its reading of the copy, and
// returns the copy.
func checkKeyedCopy(t *testing.T, conn *sql.Conn, k *keyer, dir, name string, data []byte) []byte {
	t.Helper()
	var copied bytes.Buffer
	kc := newKeyedCSV(keyedRules, keyedKinds, k, 0)
	if err := kc.copyKeyed(bytes.NewReader(data), &copied); err != nil {
		t.Fatal(err)
	}
	// Read a byte at a time, the copy is the same.
	var bytewise bytes.Buffer
	kb := newKeyedCSV(keyedRules, keyedKinds, k, 0)
	if err := kb.copyKeyed(iotest.OneByteReader(bytes.NewReader(data)), &bytewise); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytewise.Bytes(), copied.Bytes()) {
		t.Errorf("%s: read a byte at a time, the copy is\n%q\nnot\n%q", name, bytewise.Bytes(), copied.Bytes())
	}
	raw := filepath.Join(dir, name+".raw.csv")
	cp := filepath.Join(dir, name+".copy.csv")
	if err := os.WriteFile(raw, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, copied.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	want, got := readWithDuckDB(t, conn, raw), readWithDuckDB(t, conn, cp)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\nfile:\n%q\ncopy:\n%q", append(append([]any{name}, args...), data, copied.Bytes())...)
	}
	if want.failed != got.failed {
		fail("DuckDB gave up on the file: %v; on the copy: %v", want.failed, got.failed)
		return copied.Bytes()
	}
	if strings.Join(want.errs, "; ") != strings.Join(got.errs, "; ") {
		fail("malformed rows %v, in the copy %v", want.errs, got.errs)
	}
	if len(want.rows) != len(got.rows) {
		fail("%d rows, in the copy %d", len(want.rows), len(got.rows))
		return copied.Bytes()
	}
	for i, g := range got.rows {
		if refused(g) && kc.broken == 0 && kc.nquoted == 0 && kc.masked == 0 {
			fail("row %d holds an identifier that is not a pseudonym, %q or %q, where the copy is sure of every one (so rawView would not check it)", i, g[0].String, g[3].String)
		}
	}
	for i, w := range want.rows {
		g := got.rows[i]
		if kc.broken > 0 && refused(g) {
			// After text following a closing quote DuckDB may take up the rows again
			// elsewhere than the copy did; the copy masked the rest of that record,
			// and a row read from masked text is refused (rawView), never loaded.
			continue
		}
		for _, c := range []int{0, 3} {
			switch {
			case !w[c].Valid || string(trimZs([]byte(w[c].String))) == "":
				if g[c].Valid && string(trimZs([]byte(g[c].String))) != "" {
					fail("row %d, column %d: %q is blank, the copy holds %q", i, c, w[c].String, g[c].String)
				}
			case strings.ContainsAny(w[c].String, "\",\r\n") || !utf8.ValidString(w[c].String):
				if isPseudonym(g[c].String) {
					fail("row %d, column %d: %q cannot be keyed, the copy holds %q", i, c, w[c].String, g[c].String)
				}
			default:
				if p := k.keyed(keyedKinds[c], w[c].String).(string); g[c].String != p {
					fail("row %d, column %d: %q keys to %q, the copy holds %q", i, c, w[c].String, p, g[c].String)
				}
			}
		}
		if g[1] != w[1] {
			fail("row %d: read column %q, in the copy %q", i, w[1].String, g[1].String)
		}
		if g[2].Valid != w[2].Valid || len(g[2].String) != len(w[2].String) || strings.Trim(g[2].String, "x\",\r\n é€𝑥\x00") != "" {
			fail("row %d: unread column %q, in the copy %q (want it masked)", i, w[2].String, g[2].String)
		}
	}
	if !bytes.ContainsRune(data, '"') {
		checkNumberedCopy(t, conn, k, dir, name, data, got)
	}
	return copied.Bytes()
}

// checkNumberedCopy holds the numbered copy of a file without quotes (stageCSV) to
// the copy readCSV reads: DuckDB finds the same rows and malformed rows in both,
// and the line each row carries in the numbered copy is the one readCSV gives it
// (its position after the header, counting malformed rows and empty lines).
func checkNumberedCopy(t *testing.T, conn *sql.Conn, k *keyer, dir, name string, data []byte, plain duckView) {
	t.Helper()
	var numbered bytes.Buffer
	kn := newKeyedCSV(keyedRules, keyedKinds, k, 0)
	kn.number = true
	if err := kn.copyKeyed(bytes.NewReader(data), &numbered); err != nil {
		t.Fatal(err)
	}
	var bytewise bytes.Buffer
	kb := newKeyedCSV(keyedRules, keyedKinds, k, 0)
	kb.number = true
	if err := kb.copyKeyed(iotest.OneByteReader(bytes.NewReader(data)), &bytewise); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytewise.Bytes(), numbered.Bytes()) {
		t.Errorf("%s: read a byte at a time, the numbered copy is\n%q\nnot\n%q", name, bytewise.Bytes(), numbered.Bytes())
	}
	cp := filepath.Join(dir, name+".numbered.csv")
	if err := os.WriteFile(cp, numbered.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got := readCopyWithDuckDB(t, conn, cp, true)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\nfile:\n%q\nnumbered copy:\n%q", append(append([]any{name}, args...), data, numbered.Bytes())...)
	}
	if plain.failed || kn.mixed {
		if !got.failed && !kn.mixed {
			fail("DuckDB gave up on the copy, not on the numbered copy")
		}
		return
	}
	if got.failed {
		fail("DuckDB gave up on the numbered copy")
		return
	}
	if strings.Join(got.errs, "; ") != strings.Join(plain.errs, "; ") {
		fail("malformed rows %v, in the numbered copy %v", plain.errs, got.errs)
	}
	if !cmp.Equal(got.rows, plain.rows) {
		fail("rows %q, in the numbered copy %q", plain.rows, got.rows)
		return
	}
	if int64(len(got.rows)+len(got.errs)) != kn.numbered && len(got.errs) == countDistinctLines(got.errs) {
		fail("%d rows and %d malformed rows, %d records numbered", len(got.rows), len(got.errs), kn.numbered)
	}
	// readCSV's lines: the data lines in order, less the malformed and empty ones.
	_, _, blanks, err := scanFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	skip := map[int64]bool{}
	for _, l := range blanks.After {
		skip[l] = true
	}
	for _, e := range plain.errs {
		var l int64
		fmt.Sscan(e, &l)
		skip[l] = true
	}
	line := int64(blanks.Leading + 2)
	for i, l := range got.lines {
		for skip[line] {
			line++
		}
		if l != line {
			fail("row %d is numbered %d; readCSV gives it line %d", i, l, line)
			return
		}
		line++
	}
}

// countDistinctLines counts the lines of malformed rows (a row may have several).
func countDistinctLines(errs []string) int {
	seen := map[string]bool{}
	for _, e := range errs {
		seen[strings.Fields(e)[0]] = true
	}
	return len(seen)
}

// TestKeyedCopyReadsAsTheFile covers the ways a CSV field can be written, well and
// badly, in an identifier column, a read column and an unread one.
func TestKeyedCopyReadsAsTheFile(t *testing.T) {
	conn := macroConn(t)
	k := testKeyer(t)
	dir := t.TempDir()
	cases := map[string]string{
		"plain":            "a,b,c,d\nP1,1,x,C1\nP2,2,y,C2\n",
		"quoted":           "a,b,c,d\n\"P1\",\"1\",\"x\",\"C1\"\n",
		"escaped":          "a,b,c,d\n\"a\"\"b\",\"c\"\"d\",\"e\"\"f\",C1\n",
		"spaces":           "a,b,c,d\n P1 ,  1 , x ,\u00a0C1\u3000\n\" P2 \",2,y,\"\u2003\"\n",
		"space after":      "a,b,c,d\n\"P1\" ,\"1\"  ,\"x\" ,\"C1\" \n",
		"empty":            "a,b,c,d\n,,,\n\"\",\"\",\"\",\"\"\n",
		"newline inside":   "a,b,c,d\n\"P\n1\",\"a\nb\",\"c\nd\",C1\nP2,2,y,C2\n",
		"crlf inside":      "a,b,c,d\r\n\"P\r\n1\",1,x,C1\r\nP2,2,y,C2\r\n",
		"cr endings":       "a,b,c,d\rP1,1,x,C1\rP2,2,y,C2\r",
		"crlf endings":     "a,b,c,d\r\nP1,1,x,C1\r\nP2,2,y,C2\r\n",
		"no last newline":  "a,b,c,d\nP1,1,x,C1\nP2,2,y,\"C2\"",
		"mid quote":        "a,b,c,d\nab\"c,b\"c,x\"y,C\"1\nP2,2,y,C2\n",
		"text after quote": "a,b,c,d\n\"P1\"x,1,x,C1\nP2,2,\"y\"z,C2\nP3,3,z,\"C3\"w\nP4,4,w,C4\n",
		"unclosed id":      "a,b,c,d\nP1,1,x,C1\n\"P2,2,y,C2\nP3,3,z,C3\n",
		"unclosed read":    "a,b,c,d\nP1,1,x,C1\nP2,\"2,y,C2\nP3,3,z,C3\n",
		"unclosed later":   "a,b,c,d\nP1,1,x,C1\n\"P2,2,y\nP3,3,z\"q,C3\nP4,4,w,C4\n",
		"bad quote then":   "a,b,c,d\n\"P1\"x,\"1\n2\",x,C1\nP2,2,y,C2\n",
		"not utf8":         "a,b,c,d\nP\xff1,1,x,C1\nP2,\xfe,y,C2\nP3,3,\xfd,C3\nP4,4,w,C4\n",
		"cut utf8":         "a,b,c,d\nZo\xc3,1,x,C1\nP2,2,\xc3,C2\n",
		"unicode":          "a,b,c,d\nZoë,Ünï,çödé,日本\n",
		"nul":              "a,b,c,d\nP\x001,1,x,C1\nP2,\x00,y,C2\nP3,3,\x00,C3\n",
		"too few":          "a,b,c,d\nP1,1\nP2,2,y,C2\n",
		"too many":         "a,b,c,d\nP1,1,x,C1,extra,more\nP2,2,y,C2\n",
		"empty lines":      "a,b,c,d\n\nP1,1,x,C1\n\n\nP2,2,y,C2\n\n",
		"quoted header":    "\"a\",\"b\",c,d\nP1,1,x,C1\n",
		"bom":              "\ufeffa,b,c,d\nP1,1,x,C1\n",
		"tab after quote":  "a,b,c,d\n\"P1\"\t,1,x,C1\nP2,2,y,C2\n",
		"only header":      "a,b,c,d\n",
		"long id":          "a,b,c,d\n" + strings.Repeat("P", 70000) + ",1,x,C1\nP2,2,y,C2\n",
		"long quoted":      "a,b,c,d\n\"" + strings.Repeat("Q", 70000) + "\",1,\"" + strings.Repeat("é", 40000) + "\",C1\n",
		// One space and then a quote opens a quoted field; two spaces do not.
		"space quote":       "a,b,c,d\nP1, \"a,b\",y,C1\n \"P2\",2, \"y\nSECRET,z\", \"C2\"\nP3,  \"a,b\",z,C3\n",
		"space quote inner": "a,b,c,d\nP1,1, \"junk\nx,SECRET,y\",C1\n \"P,2\",2,y,C2\n",
		// A line end of another kind than the first outside quotes: DuckDB gives up.
		"cr in lf":       "a,b,c,d\nP1,1,x,\"x\"\r\"\nP2,2,\"y\rz\",C2\nP3,3,z,C3\n",
		"cr then text":   "a,b,c,d\nP1,1,x,\"C1\"\rNOTE,SECRET\nP2,2,y,C2\n",
		"lf in crlf":     "a,b,c,d\r\nP1,\"x\"\n\",\r\nP3,3,\"y\nz\",C3\r\n",
		"lf in cr":       "a,b,c,d\rP1,1,\"x\"\n\"\rP2,2,y,C2\r,2,SECRET,\rP3,3,\"z\",C3\r",
		"cr in a field":  "a,b,c,d\nP1,1,note\rmore,C1\nP2,2,y,C2\n",
		"crlf in lf":     "a,b,c,d\nP1,1,x,C1\r\nP2,2,y,C2\n",
		"cr cr lf":       "a,b,c,d\r\nP1,1,x,C1\r\r\nP2,2,y,C2\r\n",
		"lone cr at end": "a,b,c,d\r\nP1,1,x,C1\r",
		// Text in another encoding, and a first line that is not a header.
		"cp1251": "a,b,c,d\n\xc8\xe2\xe0\xed\xee\xe2,1,\xcf\xf0\xe8\xec\xe5\xf7\xe0\xed\xe8\xe5,C1\n",
		"title":  "Clients of MRN-X9,,,\nP1,1,x,C1\n",
	}
	for name, data := range cases {
		copied := checkKeyedCopy(t, conn, k, dir, name, []byte(data))
		for _, id := range []string{"P1", "P2", "P3", "C1", "C2", "C3", "Zoë", "日本", "SECRET", "MRN-X9", "\xc8\xe2\xe0", "\xcf\xf0\xe8"} {
			if bytes.Contains(copied, []byte(id)) {
				t.Errorf("%s: the copy holds %s:\n%q", name, id, copied)
			}
		}
	}
}

// TestKeyedCopyOfRandomFiles compares DuckDB's reading of many files put together
// from good and bad fields at random.
func TestKeyedCopyOfRandomFiles(t *testing.T) {
	conn := macroConn(t)
	k := testKeyer(t)
	dir := t.TempDir()
	pieces := []string{
		"P%d", "P%d", "P%d", "\"P%d\"", "\"P\"\"%d\"", "\"P,%d\"", "\"P\n%d\"", "\"P\r\n%d\"", " P%d ",
		"P\"%d", "\"P%d\"x", "\"P%d\" ", "\"P%d", "", "\"\"", "Zoë%d", "P\xff%d", "\u00a0P%d", "P\x00%d",
		"\"P%d\"\"", "\"\"\"P%d\"", "\"P%d\"\"x\"",
		" \"P,%d\"", " \"P\n%d\"", "  \"P%d\"", " P%d", "\"P%d\"\t",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for f := 0; f < 300; f++ {
		var b strings.Builder
		end := []string{"\n", "\r\n", "\r"}[rng.IntN(3)]
		b.WriteString("a,b,c,d" + end)
		for r := 0; r < 12; r++ {
			if rng.IntN(15) == 0 {
				b.WriteString(end) // an empty line
				continue
			}
			if rng.IntN(60) == 0 {
				b.WriteString([]string{"\n", "\r\n", "\r"}[rng.IntN(3)]) // perhaps a line end of another kind
			}
			n := 4
			if rng.IntN(8) == 0 {
				n = 2 + rng.IntN(5)
			}
			for c := 0; c < n; c++ {
				if c > 0 {
					b.WriteByte(',')
				}
				p := pieces[0]
				if rng.IntN(3) == 0 {
					p = pieces[rng.IntN(len(pieces))]
				}
				if strings.Contains(p, "%d") {
					p = fmt.Sprintf(p, rng.IntN(50))
				}
				b.WriteString(p)
			}
			b.WriteString(end)
		}
		checkKeyedCopy(t, conn, k, dir, fmt.Sprint("random", f), []byte(b.String()))
		if t.Failed() {
			return
		}
	}
}

// isPseudonym reports whether s has the form of a pseudonym.
func isPseudonym(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// refused reports whether rawView refuses a row of the copy: an identifier that is
// neither blank nor a pseudonym.
func refused(r [4]sql.NullString) bool {
	for _, c := range []int{0, 3} {
		if v := string(trimZs([]byte(r[c].String))); r[c].Valid && v != "" && !isPseudonym(v) {
			return true
		}
	}
	return false
}

// TestIdentifiersThatCannotBeKeyedInPlace loads rows whose identifier holds a comma,
// a quote or a line break, and rows after a quote followed by text: each is refused
// with its line, the rows around them load, the ledger balances, and no original
// identifier is in the database.
func TestIdentifiersThatCannotBeKeyedInPlace(t *testing.T) {
	files := fixture()
	files["sessions.csv"] = "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n" +
		"S1,E1,MRN-A1,2026-01-05,09:00,individual,attended,60,C1\n" +
		"S2,E1,\"MRN,A1\",2026-01-07,09:00,group,attended,180,C1\n" + // line 3: a comma
		"S3,E1,MRN-A1,2026-01-08,09:00,group,attended,180,\"C\"\"1\"\n" + // line 4: a quote
		"S4,E1,MRN\"A1,2026-01-09,09:00,group,attended,180,C1\n" + // line 5: a quote, unquoted
		"S5,E1,\"MRN\nA1\",2026-01-10,09:00,group,attended,180,C1\n" + // line 6: a line break
		"S6,E1,\"MRN-A1\"x,2026-01-11,09:00,group,attended,180,C1\n" + // line 7: text after the quote
		"S7,E1,\" MRN-A1 \",2026-01-12,09:00,group,attended,180,C1\n"
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	var got []reject
	for _, r := range rejects(t, db) {
		if r.File == "sessions.csv" {
			got = append(got, r)
		}
	}
	want := []reject{
		{"sessions.csv", 3, "patient_id", "malformed_row"},
		{"sessions.csv", 4, "clinician_id", "malformed_row"},
		{"sessions.csv", 5, "patient_id", "malformed_row"},
		{"sessions.csv", 6, "patient_id", "malformed_row"},
		{"sessions.csv", 7, "", "malformed_row"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions WHERE session_id IN ('S1', 'S7')`); n != 2 {
		t.Errorf("%d of S1 and S7 loaded, want both", n)
	}
	if n := queryInt(t, db, `SELECT source_line FROM sessions WHERE session_id = 'S7'`); n != 8 {
		t.Errorf("S7 recorded at line %d, want 8", n)
	}
	checkBalanced(t, db)
	for _, id := range []string{"MRN,A1", "C\"1", "MRN\"A1", "MRN\nA1", "MRN-A1"} {
		if n := queryInt(t, db, `SELECT count(*) FROM rejects WHERE strpos(coalesce(value, '') || coalesce(message, ''), ?) > 0`, id); n > 0 {
			t.Errorf("rejects hold %q", id)
		}
	}
}

// FuzzKeyedCopy holds the copy to DuckDB's reading of the file for mutated rows under
// the header a,b,c,d (identifier, read, unread, identifier).
func FuzzKeyedCopy(f *testing.F) {
	f.Add([]byte("P1,1,x,C1\n\"P\n2\",2,y,C2\n"))
	f.Add([]byte("\"P1\"x,\"1\n2\",x,C1\r\nP2,2,y,C2\r\n"))
	f.Add([]byte("\"P,1\", 1 ,\"x\"\"y\",\u00a0C1\nZoë,\xff,\x00,\"C2\nP3,3\n"))
	k := testKeyer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := macroConn(t)
		checkKeyedCopy(t, conn, k, t.TempDir(), "fuzz", append([]byte("a,b,c,d\n"), data...))
	})
}

// TestUnreadColumnsQuotedAfterASpace loads observations whose first, unread column
// holds a quoted comma after one space, which DuckDB reads as a quoted field: the
// rows load with their values in place, and no original identifier is stored.
func TestUnreadColumnsQuotedAfterASpace(t *testing.T) {
	files := fixture()
	files["observations.csv"] = "note,x2,patient_id,episode_id,obs_date,measure,value,unit\n" +
		" \"a,b\",junk,MRN-A1,E1,2026-01-05,phq9,14,points\n" +
		"plain,junk,MRN-B2,E2,2026-02-02,gad7,9,points\n"
	env := newEnv(t)
	env.load(t, writeExport(t, files))
	db := env.open(t)
	for _, r := range rejects(t, db) {
		if r.File == "observations.csv" {
			t.Errorf("reject %+v", r)
		}
	}
	if n := queryInt(t, db, `SELECT count(*) FROM observations WHERE value IN ('14', '9') OR value_num IN (14, 9)`); n != 2 {
		t.Errorf("%d of the two observations loaded with their values", n)
	}
	for _, id := range []string{"MRN-A1", "MRN-B2"} {
		if n := queryInt(t, db, `SELECT count(*) FROM rejects WHERE strpos(coalesce(value, ''), ?) > 0`, id); n > 0 {
			t.Errorf("rejects hold %q", id)
		}
	}
	checkBalanced(t, db)
}

// BenchmarkKeyedCopy copies a file shaped like a sessions export (an identifier
// unique to each row, three repeated ones, five kept columns) as the load does.
func BenchmarkKeyedCopy(b *testing.B) {
	const rows = 200_000
	var data bytes.Buffer
	data.WriteString("session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&data, "S%012d,EP%08d,MRN%07d,2025-02-26,08:30,individual,attended,60,CLN-R%02d\n", i, i/50, i/120, i%40)
	}
	rules := []colRule{keyCol, keyCol, keyCol, keepCol, keepCol, keepCol, keepCol, keepCol, keyCol}
	kinds := []string{"session", "episode", "patient", "", "", "", "", "", "clinician"}
	keys := testKeyer(b)
	b.SetBytes(int64(data.Len()))
	b.ResetTimer()
	for b.Loop() {
		k := newKeyedCSV(rules, kinds, keys, 0)
		if err := k.copyKeyed(bytes.NewReader(data.Bytes()), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// TestKeyedCopyOfALongFile copies a file long enough for a column of identifiers
// that never repeat to stop being remembered (cacheProbe), and checks every
// pseudonym of the copy, before and after, in that column and in one that repeats.
func TestKeyedCopyOfALongFile(t *testing.T) {
	rows := 3 * cacheProbe
	var in bytes.Buffer
	in.WriteString("session_id,episode_id,status\n")
	for i := range rows {
		fmt.Fprintf(&in, "S%07d,EP%05d,attended\n", i, i/7)
	}
	keys := testKeyer(t)
	k := newKeyedCSV([]colRule{keyCol, keyCol, keepCol}, []string{"session", "episode", ""}, keys, 0)
	var out bytes.Buffer
	if err := k.copyKeyed(bytes.NewReader(in.Bytes()), &out); err != nil {
		t.Fatal(err)
	}
	if k.seen[0] != nil || k.seen[1] == nil {
		t.Errorf("remembered: session ids %v, episode ids %v; want only the episode ids", k.seen[0] != nil, k.seen[1] != nil)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != rows+1 || lines[0] != "xxxxxxxxxx,xxxxxxxxxx,xxxxxx" {
		t.Fatalf("copy has %d lines, header %q", len(lines), lines[0])
	}
	for i, line := range lines[1:] {
		want := keys.key.Pseudonym("session", fmt.Sprintf("S%07d", i)) + "," +
			keys.key.Pseudonym("episode", fmt.Sprintf("EP%05d", i/7)) + ",attended"
		if line != want {
			t.Fatalf("row %d of the copy: %q, want %q", i+1, line, want)
		}
	}
}
