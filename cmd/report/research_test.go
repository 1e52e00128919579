package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

var update = flag.Bool("update", false, "rewrite the committed data dictionary")

// sampleDB loads the sample data with models into a new database and returns its path.
func sampleDB(t *testing.T) string {
	t.Helper()
	return testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil)
}

// norm writes the numbers of a "|"-joined row the same way, whichever writer
// formatted them (1.0 and 1 are the same rate).
func norm(rows []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		f := strings.Split(r, "|")
		for j, v := range f {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				f[j] = strconv.FormatFloat(x, 'g', 12, 64)
			}
		}
		out[i] = strings.Join(f, "|")
	}
	return out
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

// want is the query the output formats are checked against, with values of every
// common type and a text that looks like a formula.
const wantQuery = `SELECT program_id, period, measure, numerator, denominator, rate,
       CAST('2026-01-02' AS DATE) AS d, '=1+1' AS formula_like, rate IS NULL AS no_rate
FROM kpis WHERE program_id = 'ALL' ORDER BY period, measure`

func TestQueryFormatsReadBack(t *testing.T) {
	db := sampleDB(t)
	dir := t.TempDir()
	// The reference: the same query as CSV text through the query command itself is
	// not independent, so the reference comes straight from DuckDB.
	d, err := store.Open(context.Background(), store.Config{Path: db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var want []string
	rows, err := d.Query(`SELECT concat_ws('|', program_id, period, measure, numerator, coalesce(CAST(denominator AS VARCHAR), ''), coalesce(CAST(rate AS VARCHAR), '')) FROM (` + wantQuery + `)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		want = append(want, s)
	}
	rows.Close()
	if len(want) < 50 {
		t.Fatalf("only %d reference rows", len(want))
	}

	t.Run("parquet", func(t *testing.T) {
		out := filepath.Join(dir, "r.parquet")
		if _, err := runCLI(t, "query", "--db", db, "--format", "parquet", "--out", out, wantQuery); err != nil {
			t.Fatal(err)
		}
		// Read it back with a database of its own: the query sealed the sample
		// database's instance, which DuckDB shares within a process, off files.
		mem, err := store.Open(context.Background(), store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		var got []string
		rows, err := mem.Query(`SELECT concat_ws('|', program_id, period, measure, numerator, coalesce(CAST(denominator AS VARCHAR), ''), coalesce(CAST(rate AS VARCHAR), '')) FROM read_parquet(?)`, out)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			got = append(got, s)
		}
		rows.Close()
		if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
			t.Errorf("parquet (-want +got):\n%s", diff)
		}
	})

	t.Run("arrow", func(t *testing.T) {
		out := filepath.Join(dir, "r.arrow")
		if _, err := runCLI(t, "query", "--db", db, "--format", "arrow", "--out", out, wantQuery); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []string
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordBatch(i)
			if err != nil {
				t.Fatal(err)
			}
			str := func(c, row int) string {
				col := rec.Column(c)
				if col.IsNull(row) {
					return ""
				}
				switch a := col.(type) {
				case *array.String:
					return a.Value(row)
				case *array.Int64:
					return strings.TrimSpace(strings.Trim(a.ValueStr(row), `"`))
				case *array.Float64:
					return a.ValueStr(row)
				}
				return col.ValueStr(row)
			}
			for row := 0; row < int(rec.NumRows()); row++ {
				got = append(got, strings.Join([]string{str(0, row), str(1, row), str(2, row), str(3, row), str(4, row), str(5, row)}, "|"))
			}
			if d := rec.Column(6).(*array.Date32); d.Value(0).ToTime().Format("2006-01-02") != "2026-01-02" {
				t.Errorf("date column read back as %v", d.Value(0).ToTime())
			}
		}
		if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
			t.Errorf("arrow (-want +got):\n%s", diff)
		}
	})

	t.Run("xlsx", func(t *testing.T) {
		out := filepath.Join(dir, "r.xlsx")
		if _, err := runCLI(t, "query", "--db", db, "--format", "xlsx", "--out", out, wantQuery); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenFile(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		xrows, err := f.GetRows("Result")
		if err != nil {
			t.Fatal(err)
		}
		if len(xrows) != len(want)+1 || xrows[0][0] != "program_id" {
			t.Fatalf("%d rows, header %v", len(xrows), xrows[0])
		}
		if formula, _ := f.GetCellFormula("Result", "H2"); formula != "" {
			t.Errorf("a value that starts with = became the formula %q", formula)
		}
		if v, _ := f.GetCellValue("Result", "H2"); v != "=1+1" {
			t.Errorf("formula-like text read back as %q", v)
		}
	})

	t.Run("json and csv", func(t *testing.T) {
		out, err := runCLI(t, "query", "--db", db, "--format", "json", wantQuery)
		if err != nil {
			t.Fatal(err)
		}
		var objs []map[string]any
		if err := json.Unmarshal([]byte(out), &objs); err != nil || len(objs) != len(want) {
			t.Fatalf("json: %d objects (%v)", len(objs), err)
		}
		out, err = runCLI(t, "query", "--db", db, "--format", "csv", wantQuery)
		if err != nil || strings.Count(out, "\n") != len(want)+1 {
			t.Fatalf("csv: %d lines (%v)", strings.Count(out, "\n"), err)
		}
	})
}

func TestQueryCannotChangeData(t *testing.T) {
	db := sampleDB(t)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim.txt")
	os.WriteFile(victim, []byte("keep"), 0o600)
	for _, sql := range []string{
		"DROP TABLE sessions", "INSERT INTO programs SELECT * FROM programs", "DELETE FROM rejects",
		"UPDATE sessions SET status = 'attended'",
		"COPY (SELECT 1) TO '" + db + "'", "COPY (SELECT * FROM patients) TO '" + victim + "'",
		"EXPORT DATABASE '" + filepath.Join(t.TempDir(), "dump") + "'",
		"ATTACH '" + filepath.Join(t.TempDir(), "other.duckdb") + "' AS y", "CHECKPOINT", "SET threads = 1",
		"CREATE TEMP TABLE x AS SELECT 1", "INSTALL httpfs",
		"SELECT 1; DROP TABLE sessions", "SELECT 1; COPY (SELECT 1) TO '" + victim + "'",
	} {
		_, err := runCLI(t, "query", "--db", db, sql)
		if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "etl") {
			t.Errorf("%s: %v; want a refusal that says the database is read-only and to use etl", sql, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Error("a query overwrote a file")
	}
	if _, err := os.Stat(filepath.Join(t.TempDir(), "dump")); err == nil {
		t.Error("a query exported the database")
	}
	// One SELECT with a trailing comment works in every format, Parquet included.
	if _, err := runCLI(t, "query", "--db", db, "--format", "parquet", "--out", filepath.Join(t.TempDir(), "c.parquet"), "SELECT 1 AS x -- a comment"); err != nil {
		t.Errorf("a SELECT with a trailing comment to Parquet: %v", err)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Error("the database file changed")
	}
}

// TestDataDictionary checks that the committed data dictionary is the one the
// database's comments give (go test -update rewrites it).
func TestDataDictionary(t *testing.T) {
	db := sampleDB(t)
	got, err := runCLI(t, "dictionary", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	testdb.Golden(t, "../../docs/data-dictionary.md", got, *update, "go test ./cmd/report -run TestDataDictionary -update")
	for _, table := range []string{"sessions", "episode_outcomes", "model_estimates", "kpis", "rejects"} {
		if !strings.Contains(got, "### "+table+"\n") {
			t.Errorf("the dictionary lacks %s", table)
		}
	}
}

func TestExtractIsDeidentified(t *testing.T) {
	db := sampleDB(t)
	for _, offsets := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"extract", "--db", db, "--out", dir, "--format", "csv"}
		if offsets {
			args = append(args, "--date-offsets")
		}
		if _, err := runCLI(t, args...); err != nil {
			t.Fatal(err)
		}
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 6 {
			t.Errorf("%d files in the extract, want 5 tables and the README", len(entries))
		}
		dateRe := regexp.MustCompile(`\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b`)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			text := string(b)
			if regexp.MustCompile(`MRN[0-9]|EP[0-9]{8}`).MatchString(text) {
				t.Errorf("%s holds an original patient or episode id", e.Name())
			}
			if offsets && e.Name() != "README.md" && dateRe.MatchString(text) {
				t.Errorf("%s holds a date although dates were to be offsets: %s", e.Name(), dateRe.FindString(text))
			}
			if e.Name() == "README.md" {
				continue
			}
			// Every column is described in the README.
			header := strings.SplitN(text, "\n", 2)[0]
			for _, col := range strings.Split(header, ",") {
				if !regexp.MustCompile("\\| `" + regexp.QuoteMeta(col) + "` \\| [^|]{8,}").Match(readme) {
					t.Errorf("%s: column %s is not described in the README", e.Name(), col)
				}
			}
		}
		if !strings.Contains(string(readme), "landmark_days") {
			t.Error("the README does not give the model parameters")
		}
		if offsets && dateRe.Match(readme) {
			t.Errorf("with day offsets the README gives the date %s (the cutoff would anchor every active episode)", dateRe.Find(readme))
		}
	}
}

// TestStockDuckDBClientOpensTheDatabase opens the database with the stock DuckDB
// Node.js client of the same DuckDB version (@duckdb/node-api, pinned in
// testdata/node-client with its lock file) and compares what it reads.
func TestStockDuckDBClientOpensTheDatabase(t *testing.T) {
	dir := "testdata/node-client"
	npm, errNpm := exec.LookPath("npm")
	node, errNode := exec.LookPath("node")
	if errNpm != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are needed for this test (npm: %v, node: %v)", errNpm, errNode)
		}
		t.Skip("node or npm not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		// npm ci installs exactly what the lock file names and never rewrites it.
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	db := sampleDB(t)
	out, err := exec.Command(node, filepath.Join(dir, "check.mjs"), db).CombinedOutput()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, out)
	}
	var got struct {
		Version     string  `json:"version"`
		Sessions    int64   `json:"sessions"`
		Episodes    int64   `json:"episodes"`
		HazardRatio float64 `json:"hazard_ratio"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node client printed %s: %v", out, err)
	}
	d, err := store.Open(context.Background(), store.Config{Path: db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var version string
	var sessions, episodes int64
	var hr float64
	if err := d.QueryRow(`SELECT version(), (SELECT count(*) FROM sessions), (SELECT count(*) FROM episode_outcomes),
		(SELECT ratio FROM model_estimates WHERE model = 'landmark_cox_dropout' AND term = 'landmark_sessions_per_week')`).Scan(&version, &sessions, &episodes, &hr); err != nil {
		t.Fatal(err)
	}
	if got.Version != version || got.Sessions != sessions || got.Episodes != episodes || got.HazardRatio != hr {
		t.Errorf("node client read %+v; the database holds %s, %d sessions, %d episodes, HR %v", got, version, sessions, episodes, hr)
	}
}
