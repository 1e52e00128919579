package spark

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/export"
	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// master is the Spark master the tests run on: SPARK_MASTER (.ci/run starts a
// standalone cluster of two workers and sets it), or else local[2] when spark-submit
// is installed. With SPARK_REQUIRED set (CI), a missing Spark fails the test.
func master(t *testing.T) string {
	if m := os.Getenv("SPARK_MASTER"); m != "" {
		return m
	}
	_, err := findSubmit("")
	if err == nil {
		return "local[2]"
	}
	if os.Getenv("SPARK_REQUIRED") != "" {
		t.Fatalf("SPARK_REQUIRED is set and Spark is not here: %v", err)
	}
	t.Skipf("no Spark on this machine (%v); .ci/run installs it and starts a cluster", err)
	return ""
}

// ledger are the tables of a database that record loads and rebuilds, not results:
// the results database of a Spark run has no loads of its own.
var ledger = []string{"load_files", "load_runs", "rejects", "dq_history", "model_builds", "model_pending", "schema_migrations", "site_key"}

// TestSparkEqualsDuckDB runs the same generated export (messy, a few thousand
// patients, parameters away from the defaults so that every literal the model
// source writes is used) through the DuckDB models and through Spark, and compares
// every table and view of the two databases: the canonical tables read back from
// the export, the per-episode models Spark ran, and the measures and fits that ran
// on Spark's rows. Keys, integers, text, dates and booleans must be equal and doubles
// within 1e-9 relative. Then one session of the DuckDB side is changed and rebuilt:
// the same comparison must find the difference, or it could not fail.
func TestSparkEqualsDuckDB(t *testing.T) {
	url := master(t)
	ctx := context.Background()
	exports := t.TempDir()
	if _, err := generate.Generate(ctx, generate.Config{Patients: 2500, Seed: 11, Messy: true}, exports); err != nil {
		t.Fatal(err)
	}
	p := models.DefaultParams()
	p.LandmarkDays = 21
	p.DoseBands = []float64{0, 1.5, 3, 5}
	p.RelapseSubstances = []string{"uds_opioids", "uds_cocaine", "uds_amphetamines"}
	p.ScreensExpected = "weekly"
	p.OutcomeWindowWeeks = 16
	p.Covariates = []string{"co_occurring", "on_medication", "sex"}
	duck := testdb.Load(t, []string{exports}, p, nil)
	in := filepath.Join(t.TempDir(), "export")
	func() {
		db, err := store.Open(ctx, store.Config{Path: duck, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := export.Run(ctx, db, export.Options{Dir: in, PartitionBy: "program_id"}); err != nil {
			t.Fatal(err)
		}
	}()
	// Two sites: P01-P03 and the other programs, each with every patient (a patient
	// of both is in both exports), as a centre pools them.
	sites := splitExport(t, in, func(program string) bool { return program <= "P03" })
	out := filepath.Join(t.TempDir(), "results")
	start := time.Now()
	var progress strings.Builder
	s, err := Run(ctx, Options{Master: url, Inputs: sites, Out: out, Params: p, Progress: &progress,
		Conf: map[string]string{"spark.sql.shuffle.partitions": "4", "spark.executor.memory": "1g"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Logf("Spark on %s: %d episodes in %s\n%s", url, s.Episodes, time.Since(start).Round(time.Second), progress.String())
	onSpark := filepath.Join(out, DatabaseFile)

	diffs, compared := compare(t, duck, onSpark)
	for _, d := range diffs {
		t.Error(d)
	}
	for _, want := range []string{"episode_weeks", "relapse_events", "episode_outcomes", "kpis", "model_estimates", "sessions"} {
		if compared[want] == 0 {
			t.Errorf("table %s: no rows compared", want)
		}
	}
	t.Logf("rows compared: %v", compared)

	// The perturbed input: one attended session becomes a no-show.
	changed := filepath.Join(t.TempDir(), "changed.duckdb")
	if err := store.CopyFile(duck, changed); err != nil {
		t.Fatal(err)
	}
	func() {
		db, err := store.Open(ctx, store.Config{Path: changed})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `UPDATE sessions SET status = 'no_show'
			WHERE session_id = (SELECT min(session_id) FROM sessions WHERE status = 'attended')`); err != nil {
			t.Fatal(err)
		}
		if _, err := models.RebuildAll(ctx, conn, p, nil); err != nil {
			t.Fatal(err)
		}
	}()
	diffs, _ = compare(t, changed, onSpark)
	if len(diffs) == 0 {
		t.Fatal("one session changed on the DuckDB side and the comparison found no difference: it cannot fail")
	}
	found := strings.Join(diffs, "\n")
	for _, want := range []string{"sessions", "episode_weeks", "episode_outcomes"} {
		if !strings.Contains(found, "table "+want+":") {
			t.Errorf("the changed session is not seen in %s:\n%s", want, found)
		}
	}
}

// splitExport splits an export partitioned by program_id into two exports, the
// programs first(program) is true of and the others; a table written whole (patients,
// the parameters) goes into both. It returns their folders.
func splitExport(t *testing.T, dir string, first func(program string) bool) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man export.Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	var out []string
	for site, keep := range []func(string) bool{first, func(p string) bool { return !first(p) }} {
		sdir := filepath.Join(t.TempDir(), fmt.Sprintf("site-%d", site+1))
		m := export.Manifest{Version: man.Version, PartitionBy: man.PartitionBy}
		for _, tb := range man.Tables {
			e := export.TableEntry{Name: tb.Name, Columns: tb.Columns}
			for _, f := range tb.Files {
				_, program, partitioned := strings.Cut(f.Path, "program_id=")
				if partitioned && !keep(strings.Split(program, "/")[0]) {
					continue
				}
				to := filepath.Join(sdir, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Link(filepath.Join(dir, filepath.FromSlash(f.Path)), to); err != nil {
					t.Fatal(err)
				}
				e.Files = append(e.Files, f)
				e.Rows += f.Rows
			}
			m.Tables = append(m.Tables, e)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sdir, "manifest.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, sdir)
	}
	return out
}

// compare compares every table and view of database a with b's (ledger tables
// aside): the same columns of the same types, the same number of rows, and, rows in
// the order of every column, equal values, doubles within 1e-9 relative. It returns
// a line per difference (at most three a table) and the rows compared per table.
func compare(t *testing.T, a, b string) ([]string, map[string]int) {
	t.Helper()
	c, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{`ATTACH '` + a + `' AS a (READ_ONLY)`, `ATTACH '` + b + `' AS b (READ_ONLY)`} {
		if _, err := c.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	columns := func(db string) map[string][][2]string {
		rows, err := c.Query(`SELECT table_name, column_name, data_type FROM duckdb_columns()
			WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index`, db)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][][2]string{}
		for rows.Next() {
			var tb, col, typ string
			if err := rows.Scan(&tb, &col, &typ); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ledger, tb) {
				out[tb] = append(out[tb], [2]string{col, typ})
			}
		}
		return out
	}
	ca, cb := columns("a"), columns("b")
	var diffs []string
	compared := map[string]int{}
	var names []string
	for tb := range ca {
		names = append(names, tb)
	}
	slices.Sort(names)
	for _, tb := range names {
		if !slices.Equal(ca[tb], cb[tb]) {
			diffs = append(diffs, fmt.Sprintf("table %s: columns %v, on Spark %v", tb, ca[tb], cb[tb]))
			continue
		}
		// Doubles last in the order, so that a last-digit difference cannot reorder
		// the rows.
		var order, doubles []string
		for _, col := range ca[tb] {
			if col[1] == "DOUBLE" || col[1] == "FLOAT" {
				doubles = append(doubles, `"`+col[0]+`"`)
			} else {
				order = append(order, `"`+col[0]+`"`)
			}
		}
		by := strings.Join(append(order, doubles...), ", ")
		ra, rb := readAll(t, c, "a", tb, by), readAll(t, c, "b", tb, by)
		if len(ra) != len(rb) {
			diffs = append(diffs, fmt.Sprintf("table %s: %d rows, on Spark %d", tb, len(ra), len(rb)))
			continue
		}
		n := 0
		for i := range ra {
			for j := range ra[i] {
				if !same(ra[i][j], rb[i][j]) && n < 3 {
					n++
					diffs = append(diffs, fmt.Sprintf("table %s: row %d, column %s: %v, on Spark %v", tb, i+1, ca[tb][j][0], ra[i][j], rb[i][j]))
				}
			}
		}
		compared[tb] = len(ra)
	}
	for tb := range cb {
		if _, ok := ca[tb]; !ok {
			diffs = append(diffs, "table "+tb+": only on Spark")
		}
	}
	return diffs, compared
}

func readAll(t *testing.T, c *sql.DB, db, tb, by string) [][]any {
	t.Helper()
	rows, err := c.Query(`SELECT * FROM ` + db + `.main."` + tb + `" ORDER BY ` + by)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		v := make([]any, len(cols))
		ptr := make([]any, len(cols))
		for i := range v {
			ptr[i] = &v[i]
		}
		if err := rows.Scan(ptr...); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// same is equality, doubles within 1e-9 relative (both NaN, or equal infinities,
// are the same).
func same(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if okA && okB {
		if fa == fb || math.IsNaN(fa) && math.IsNaN(fb) {
			return true
		}
		return math.Abs(fa-fb) <= 1e-9*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// TestSparkErrorsInPlainWords checks what a user reads when Spark cannot run: no
// master, a master nobody listens at, an export changed after it was written; and
// that nothing is left behind.
func TestSparkErrorsInPlainWords(t *testing.T) {
	ctx := context.Background()
	path := testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil)
	in := filepath.Join(t.TempDir(), "export")
	func() {
		db, err := store.Open(ctx, store.Config{Path: path, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := export.Run(ctx, db, export.Options{Dir: in}); err != nil {
			t.Fatal(err)
		}
	}()
	parent := t.TempDir()
	out := filepath.Join(parent, "results")
	p := models.DefaultParams()
	fakeSubmit := filepath.Join(t.TempDir(), "spark-submit")
	// A spark-submit that fails as Spark does when its master does not answer.
	if err := os.WriteFile(fakeSubmit, []byte("#!/bin/sh\necho 'ERROR StandaloneSchedulerBackend: Application has been killed. Reason: All masters are unresponsive! Giving up.' >&2\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no master", Options{Inputs: []string{in}, Out: out, Params: p, Submit: fakeSubmit}, "name the Spark master with --master"},
		{"no export", Options{Master: "local[1]", Inputs: []string{parent}, Out: out, Params: p, Submit: fakeSubmit}, "--input takes a folder written by report export"},
		{"master down", Options{Master: "spark://127.0.0.1:9", Inputs: []string{in}, Out: out, Params: p, Submit: fakeSubmit},
			"the Spark master at spark://127.0.0.1:9 could not be reached: start the cluster, or check --master"},
		{"no spark", Options{Master: "local[1]", Inputs: []string{in}, Out: out, Params: p, Submit: filepath.Join(parent, "none")}, "spark-submit"},
		{"one export twice", Options{Master: "local[1]", Inputs: []string{in, in}, Out: out, Params: p, Submit: fakeSubmit},
			"341 episode ids are in more than one export of --input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(ctx, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to say %q", err, c.want)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
	// A file of the export changed after it was written.
	f := filepath.Join(in, "sessions", "part-0.parquet")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, Options{Master: "local[1]", Inputs: []string{in}, Out: out, Params: p, Submit: fakeSubmit})
	if err == nil || !strings.Contains(err.Error(), "sessions/part-0.parquet differs from the manifest") {
		t.Fatalf("error %v, want the changed file named", err)
	}
}
