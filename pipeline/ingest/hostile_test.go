package ingest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// hostileCSV builds the hostile CSV files: each replaces programs.csv of the fixture.
func hostileCSV() map[string][]byte {
	header := "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n"
	row := "P1,Evening IOP,North,IOP,12,9\n"
	wide := header[:len(header)-1] + strings.Repeat(",x", 10000-6) + "\n" + "P1,Evening IOP,North,IOP,12,9" + strings.Repeat(",", 10000-6) + "\n"
	return map[string][]byte{
		"empty file":           {},
		"header only":          []byte(header),
		"byte order mark":      []byte("\ufeff" + header + row),
		"CRLF line ends":       []byte(strings.ReplaceAll(header+row, "\n", "\r\n")),
		"Latin-1 bytes":        []byte(header + "P1,Caf\xe9 IOP,North,IOP,12,9\n"),
		"quoted newlines":      []byte(header + "P1,\"Evening\nIOP\",North,IOP,12,9\n"),
		"10,000-column row":    []byte(wide),
		"1 MB field":           []byte(header + "P1," + strings.Repeat("n", 1<<20) + ",North,IOP,12,9\n"),
		"NUL bytes":            []byte(header + "P1,Even\x00ing,North,IOP,12,9\n"),
		"truncated last line":  []byte(header + row + "P2,Day IOP,So"),
		"duplicated header":    []byte("program_id,name,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP1,a,b,North,IOP,12,9\n"),
		"binary renamed .csv":  append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0, 0xff, 0x13}, 2000)...),
		"unclosed quote":       []byte(header + "P1,\"Evening IOP,North,IOP,12,9\nP2,Day,South,IOP,8,9\n"),
		"formula-looking text": []byte(header + "P1,=HYPERLINK(\"x\"),North,IOP,12,9\n"),
	}
}

// csvWant is what each hostile CSV file must produce.
var csvWant = map[string]string{
	"empty file":           "failed: read 0, loaded 0, rejected 0 map[malformed_file:1] the file is empty",
	"header only":          "loaded: read 0, loaded 0, rejected 0",
	"byte order mark":      "loaded: read 1, loaded 1, rejected 0",
	"CRLF line ends":       "loaded: read 1, loaded 1, rejected 0",
	"Latin-1 bytes":        "loaded: read 1, loaded 0, rejected 1 map[malformed_row:1]",
	"quoted newlines":      "loaded: read 1, loaded 1, rejected 0",
	"10,000-column row":    "loaded: read 1, loaded 1, rejected 0",
	"1 MB field":           "loaded: read 1, loaded 1, rejected 0",
	"NUL bytes":            "loaded: read 1, loaded 1, rejected 0",
	"truncated last line":  "loaded: read 2, loaded 1, rejected 1 map[malformed_row:1]",
	"duplicated header":    "failed: read 1, loaded 0, rejected 1 map[malformed_file:1] column name appears twice",
	"binary renamed .csv":  "map[malformed_file:1] the header row is not UTF-8 text",
	"unclosed quote":       "loaded: read 1, loaded 0, rejected 1 map[malformed_row:1]",
	"formula-looking text": "loaded: read 1, loaded 1, rejected 0",
}

// xlsxWant is what each hostile workbook must produce.
var xlsxWant = map[string]string{
	"formulas":                               "loaded: read 2, loaded 2, rejected 0",
	"external link":                          "loaded: read 2, loaded 2, rejected 0",
	"claimed dimension of a million columns": "loaded: read 2, loaded 2, rejected 0",
	"password protected":                     "password-protected",
	"zip bomb":                               "unpacks to more than 16 MiB",
	"not a workbook":                         "not an XLSX workbook",
}

// TestHostileFiles loads each hostile file in place of a fixture file and checks
// that the run never panics, ends with a balanced ledger or an error that names the
// file, and leaves the database as it was when it fails. What each produced is
// logged (go test -v) for the record.
func TestHostileFiles(t *testing.T) {
	for name, body := range hostileCSV() {
		t.Run(name, func(t *testing.T) {
			files := fixture()
			dir := writeExport(t, files)
			os.WriteFile(filepath.Join(dir, "programs.csv"), body, 0o644)
			env := newEnv(t)
			res, err := env.tryLoad(dir)
			if got := checkOutcome(t, env, res, err, "programs.csv"); !strings.Contains(got, csvWant[name]) {
				t.Errorf("got %q, want it to contain %q", got, csvWant[name])
			}
		})
	}
}

// checkOutcome checks and logs what a load of a hostile file did.
func checkOutcome(t *testing.T, env testEnv, res *Result, err error, file string) string {
	t.Helper()
	if err != nil {
		if !strings.Contains(err.Error(), file) {
			t.Fatalf("error does not name %s: %v", file, err)
		}
		if _, serr := os.Stat(env.db); serr == nil {
			db := env.open(t)
			if n := queryInt(t, db, `SELECT count(*) FROM load_files`); n != 0 {
				t.Fatalf("a failed run left %d ledger rows", n)
			}
		}
		t.Logf("error: %v", err)
		return "error: " + err.Error()
	}
	db := env.open(t)
	checkBalanced(t, db)
	var out string
	for _, f := range res.Files {
		if strings.Contains(f.Path, file) {
			out += fmt.Sprintf("%s: read %d, loaded %d, rejected %d %v %s", f.Status, f.Read, f.Loaded, f.Rejected, f.Reasons, f.Message)
		}
	}
	t.Logf("%s", out)
	return out
}

// workbook writes a workbook of the ehr-example layout's Clients sheet; edit may
// change the file before it is saved.
func workbook(t *testing.T, rows [][]any, edit func(*excelize.File), opts ...excelize.Options) string {
	t.Helper()
	x := newBook(t, bookSheet{"Clients", rowsFrom(rows...)})
	if edit != nil {
		edit(x)
	}
	dir := filepath.Join(t.TempDir(), "export")
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, "book.xlsx")
	if err := x.SaveAs(p, opts...); err != nil {
		t.Fatal(err)
	}
	return p
}

// rezip rewrites parts of a workbook's zip: fn gets each part's name and bytes.
func rezip(t *testing.T, p string, fn func(name string, b []byte) []byte, add map[string][]byte) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(f.Name)
		w.Write(fn(f.Name, b))
	}
	for name, b := range add {
		w, _ := zw.Create(name)
		w.Write(b)
	}
	zw.Close()
	zr.Close()
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHostileWorkbooks(t *testing.T) {
	header := []any{"MRN", "Birth Year", "Gender", "Race", "Ethnicity", "Primary Insurance"}
	good := [][]any{header, {"MRN1", 1980, "F", "white", "Unknown", "Medicaid"}, {"MRN2", 1975, "M", "black", "Unknown", "Medicaid"}}
	cases := map[string]func(t *testing.T) string{
		"formulas": func(t *testing.T) string {
			return workbook(t, good, func(x *excelize.File) {
				x.SetCellFormula("Clients", "B2", "=1900+80")
				x.SetCellFormula("Clients", "A3", `=HYPERLINK("http://example.invalid","MRN2")`)
			})
		},
		"external link": func(t *testing.T) string {
			p := workbook(t, good, nil)
			rezip(t, p, func(name string, b []byte) []byte {
				if name == "xl/worksheets/sheet1.xml" {
					return bytes.Replace(b, []byte("<v>1980</v>"), []byte("<f>[1]Sheet1!A1</f><v>1980</v>"), 1)
				}
				return b
			}, map[string][]byte{"xl/externalLinks/externalLink1.xml": []byte(`<?xml version="1.0"?><externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><externalBook/></externalLink>`)})
			return p
		},
		"claimed dimension of a million columns": func(t *testing.T) string {
			p := workbook(t, good, nil)
			rezip(t, p, func(name string, b []byte) []byte {
				if name == "xl/worksheets/sheet1.xml" {
					return regexp.MustCompile(`<dimension ref="[^"]*"/>`).ReplaceAll(b, []byte(`<dimension ref="A1:XFD1048576"/>`))
				}
				return b
			}, nil)
			return p
		},
		"password protected": func(t *testing.T) string {
			return workbook(t, good, nil, excelize.Options{Password: "secret"})
		},
		"zip bomb": func(t *testing.T) string {
			// A sheet that unpacks to 64 MiB of blank rows, against a limit lowered to 16 MiB.
			p := workbook(t, good, nil)
			rezip(t, p, func(name string, b []byte) []byte {
				if name == "xl/worksheets/sheet1.xml" {
					return bytes.Replace(b, []byte("</sheetData>"), append(bytes.Repeat([]byte(" "), 64<<20), []byte("</sheetData>")...), 1)
				}
				return b
			}, nil)
			old := unzipLimit
			unzipLimit = 16 << 20
			t.Cleanup(func() { unzipLimit = old })
			return p
		},
		"not a workbook": func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "export")
			os.MkdirAll(dir, 0o755)
			p := filepath.Join(dir, "book.xlsx")
			os.WriteFile(p, []byte("program_id,name\nP1,x\n"), 0o644)
			return p
		},
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			p := make(t)
			env := newEnv(t)
			res, err := Run(t.Context(), storeConfig(env), []string{filepath.Dir(p)}, Options{MaxRejectRate: 1, KeyFile: env.key, Profile: "ehr-example"})
			if got := checkOutcome(t, env, res, err, "book.xlsx"); !strings.Contains(got, xlsxWant[name]) {
				t.Errorf("got %q, want it to contain %q", got, xlsxWant[name])
			}
		})
	}
}

func storeConfig(env testEnv) store.Config { return store.Config{Path: env.db} }
