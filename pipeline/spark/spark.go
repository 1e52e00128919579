// Package spark runs the session-level models on an Apache Spark cluster, over an
// export of the canonical tables as Parquet (report export), for data past one
// machine. Spark runs the same model files as DuckDB (queries/models, rendered for
// Spark); the relapse sequences come back to Go, as in a DuckDB rebuild; and the
// per-episode results go into a new DuckDB file, on which the models that read them
// (follow-up, the measures, the fits), `report` and `report query` run unchanged.
//
// Spark is reached only through its public command-line tool, spark-submit, with a
// small PySpark program (driver.py) that runs the queries it is given.
package spark

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/export"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

//go:embed driver.py
var driver []byte

// Options say where the export is, which cluster runs the models and where the
// results go.
type Options struct {
	// Master is the cluster's master URL as spark-submit takes it: spark://host:7077
	// for a standalone cluster, yarn, k8s://..., or local[N] for one machine.
	Master string
	// Inputs are export folders written by report export (any partitioning): one
	// site's, or several sites' whose union the models run over (their rows must not
	// overlap: each site exports its own patients under the shared site key).
	Inputs []string
	// Out is the folder to write: it must not exist, and appears only once whole.
	Out string
	// Params are the model parameters.
	Params models.Params
	// Submit is the spark-submit program; empty: $SPARK_HOME/bin/spark-submit, or
	// spark-submit on the PATH (pip install pyspark puts one there).
	Submit string
	// Conf are Spark settings passed as --conf name=value, after the tool's own.
	Conf map[string]string
	// Progress, when set, gets a line for each step as it starts and ends.
	Progress io.Writer
	Log      *slog.Logger
	// DuckDB sets the memory limit, spill folder and threads of the results
	// database (its Path is ignored: the database is DatabaseFile in Out).
	DuckDB store.Config
}

// DatabaseFile is the name of the DuckDB file of the results in the out folder.
const DatabaseFile = "outcomes.duckdb"

// settings are the Spark settings every job runs with: dates and times in UTC,
// ANSI SQL with double-quoted identifiers (the models quote "group"), partition
// values read as text (a program id of 001 stays 001), no web UI.
var settings = [][2]string{
	{"spark.sql.session.timeZone", "UTC"},
	{"spark.sql.ansi.enabled", "true"},
	{"spark.sql.ansi.doubleQuotedIdentifiers", "true"},
	{"spark.sql.sources.partitionColumnTypeInference.enabled", "false"},
	{"spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"},
	{"spark.ui.enabled", "false"},
}

// canonical are the tables of an export the models read.
var canonical = []string{"programs", "patients", "episodes", "sessions", "observations"}

// Run runs the models on Spark and writes Out: the per-episode model tables as
// Parquet (episode_weeks, relapse_sequences and episode_outcomes as Spark wrote them,
// relapse_events as Go computed them), spark.log (what Spark said), and
// outcomes.duckdb, a database of the same tables as one that etl builds: the
// canonical tables of the export and every model table.
func Run(ctx context.Context, opt Options) (*models.Summary, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Master == "" {
		return nil, errors.New("name the Spark master with --master (spark://host:7077 for a standalone cluster, local[2] for this machine)")
	}
	if opt.Out == "" {
		return nil, errors.New("name the folder to write the results into with --out")
	}
	if _, err := os.Lstat(opt.Out); err == nil {
		return nil, fmt.Errorf("%s exists: the results are written into a new folder, never over others; name a new one with --out", opt.Out)
	}
	submit, err := findSubmit(opt.Submit)
	if err != nil {
		return nil, err
	}
	if len(opt.Inputs) == 0 {
		return nil, errors.New("name the export folder with --input (report export --out DIR writes one)")
	}
	var inputs []input
	for _, dir := range opt.Inputs {
		man, err := readManifest(dir)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		if len(inputs) > 0 {
			if err := sameColumns(inputs[0], input{dir, abs, man}); err != nil {
				return nil, err
			}
		}
		inputs = append(inputs, input{dir, abs, man})
	}
	parent := filepath.Dir(filepath.Clean(opt.Out))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(opt.Out)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("make a folder beside %s: %w", opt.Out, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed; otherwise nothing half-written stays
	if tmp, err = filepath.Abs(tmp); err != nil {
		return nil, err
	}
	r := &runner{opt: opt, submit: submit, inputs: inputs, dir: tmp}
	s, err := r.run(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, opt.Out); err != nil {
		return nil, fmt.Errorf("put the results in place as %s: %w", opt.Out, err)
	}
	return s, nil
}

type runner struct {
	opt    Options
	submit string
	inputs []input
	dir    string // the folder being written, absolute
	jobs   int
}

// input is one export folder and its manifest.
type input struct {
	dir, abs string
	man      *export.Manifest
}

func (in input) table(name string) export.TableEntry {
	for _, t := range in.man.Tables {
		if t.Name == name {
			return t
		}
	}
	return export.TableEntry{Name: name}
}

// sameColumns checks that two exports have the same columns in every table, so
// that their union is one table.
func sameColumns(a, b input) error {
	for _, name := range canonical {
		ca, cb := a.table(name).Columns, b.table(name).Columns
		if !slices.Equal(ca, cb) {
			return fmt.Errorf("%s and %s: table %s has other columns (%v, %v): export both with the same version of the tool", a.dir, b.dir, name, ca, cb)
		}
	}
	return nil
}

func (r *runner) run(ctx context.Context) (*models.Summary, error) {
	cfg := r.opt.DuckDB
	cfg.Path, cfg.ReadOnly = filepath.Join(r.dir, DatabaseFile), false
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := store.Migrate(ctx, db, time.Now()); err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := r.importTables(ctx, conn); err != nil {
		return nil, err
	}
	s, err := models.RebuildWith(ctx, conn, r.opt.Params, r.opt.Log, r.perEpisode)
	if err != nil {
		return nil, err
	}
	if err := conn.Close(); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return nil, err
	}
	return s, db.Close()
}

// importTables puts the canonical tables of the export into the results database.
func (r *runner) importTables(ctx context.Context, conn *sql.Conn) error {
	for i, in := range r.inputs {
		for _, name := range canonical {
			t := in.table(name)
			cols := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				cols[i] = `"` + c.Name + `"`
			}
			if len(t.Files) == 0 {
				continue
			}
			q := `INSERT INTO ` + name + ` BY NAME SELECT ` + strings.Join(cols, ", ") + ` FROM read_parquet(` +
				fileList(in.abs, t) + `, hive_partitioning = true, hive_types_autocast = false)`
			if name == "patients" && i > 0 {
				// A patient seen at several sites: the first export's row is kept.
				q += ` WHERE patient_key NOT IN (SELECT patient_key FROM patients)`
			}
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: read table %s of the export: %w", in.dir, name, err)
			}
		}
	}
	// Episodes of two sites under one id would be read as one episode.
	var shared int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT episode_id FROM episodes GROUP BY episode_id HAVING count(*) > 1)`).Scan(&shared); err != nil {
		return err
	}
	if shared > 0 {
		return fmt.Errorf("%d episode ids are in more than one export of --input: each site's episode ids must be its own (give them a site prefix in the source profile) before their exports are pooled", shared)
	}
	return nil
}

// perEpisode computes episode_weeks, relapse_events and episode_outcomes: the
// weeks and their sequences on Spark, the relapse events in Go, the outcomes on
// Spark; then it reads Spark's rows into the database with the DuckDB models'
// comments.
func (r *runner) perEpisode(ctx context.Context, conn *sql.Conn, src models.Source) error {
	weeks, err := src.Render(models.Spark, models.WeeksModel)
	if err != nil {
		return err
	}
	sequences, err := src.Render(models.Spark, models.SequencesModel)
	if err != nil {
		return err
	}
	outcomes, err := src.Render(models.Spark, models.OutcomesModel)
	if err != nil {
		return err
	}
	if err := r.job(ctx, "weekly sequences", nil, []step{{"episode_weeks", weeks}, {"relapse_sequences", sequences}}); err != nil {
		return err
	}
	r.progress("relapse events: computed here from each episode's weekly sequence")
	read := `SELECT episode_id, symbols, reports FROM read_parquet(` + quote(filepath.Join(r.dir, "relapse_sequences", "*.parquet")) + `)`
	if err := models.RelapseEvents(ctx, conn, "main", read, r.opt.Params.OutcomeWindowWeeks); err != nil {
		return fmt.Errorf("relapse events: %w", err)
	}
	events := filepath.Join(r.dir, "relapse_events")
	if err := os.Mkdir(events, 0o700); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `COPY (SELECT * FROM relapse_events ORDER BY episode_id, definition, missing_policy) TO `+
		quote(filepath.Join(events, "part-0.parquet"))+` (FORMAT parquet)`); err != nil {
		return fmt.Errorf("write relapse_events: %w", err)
	}
	// No column list: the file holds the table's columns and nothing else.
	extra := []jobTable{{Name: "relapse_events", Parts: []jobPart{{Base: events, Files: []string{filepath.Join(events, "part-0.parquet")}}}}}
	if err := r.job(ctx, "episode outcomes", extra, []step{{"episode_outcomes", outcomes}}); err != nil {
		return err
	}
	for _, t := range []struct{ name, file, order string }{
		{"episode_weeks", models.WeeksModel, "episode_id, week"},
		{"episode_outcomes", models.OutcomesModel, "episode_id"},
	} {
		q := `CREATE OR REPLACE TABLE ` + t.name + ` AS SELECT * FROM read_parquet(` +
			quote(filepath.Join(r.dir, t.name, "*.parquet")) + `) ORDER BY ` + t.order
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("read %s from Spark's results: %w", t.name, err)
		}
		duck, err := src.Render(models.DuckDB, t.file)
		if err != nil {
			return err
		}
		for _, c := range models.Statements(duck)[1:] {
			if _, err := conn.ExecContext(ctx, c); err != nil {
				return fmt.Errorf("describe %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// step is one query of a Spark job, whose rows are written as the table name.
type step struct{ name, sql string }

// jobTable is a table the Spark job reads: the union of its parts (one an export),
// each Parquet files and the folder their partition folders start from, with the
// columns of the view.
type jobTable struct {
	Name    string    `json:"name"`
	Parts   []jobPart `json:"parts"`
	Columns []string  `json:"columns,omitempty"` // empty: every column of the files
	// FirstBy, when set, is a key of which only the first part's row is kept (a
	// patient seen at several sites).
	FirstBy string `json:"first_by,omitempty"`
}

type jobPart struct {
	Base  string   `json:"base"`
	Files []string `json:"files"`
}

type jobStep struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
	Out  string `json:"out"`
}

type job struct {
	App    string     `json:"app"`
	Tables []jobTable `json:"tables"`
	Steps  []jobStep  `json:"steps"`
}

// job runs one Spark application: the canonical tables of the export and extra as
// views, and steps in order, each written as Parquet into the out folder.
func (r *runner) job(ctx context.Context, what string, extra []jobTable, steps []step) error {
	r.jobs++
	j := job{App: "outcomes models: " + what}
	for _, name := range canonical {
		jt := jobTable{Name: name}
		if name == "patients" && len(r.inputs) > 1 {
			jt.FirstBy = "patient_key"
		}
		for _, in := range r.inputs {
			t := in.table(name)
			part := jobPart{Base: filepath.Join(in.abs, name)}
			for _, f := range t.Files {
				part.Files = append(part.Files, filepath.Join(in.abs, filepath.FromSlash(f.Path)))
			}
			if len(part.Files) == 0 {
				return fmt.Errorf("%s: table %s has no files in the manifest; export it again with report export", in.dir, name)
			}
			jt.Parts = append(jt.Parts, part)
			if jt.Columns == nil {
				for _, c := range t.Columns {
					jt.Columns = append(jt.Columns, c.Name)
				}
			}
		}
		j.Tables = append(j.Tables, jt)
	}
	j.Tables = append(j.Tables, extra...)
	for _, s := range steps {
		j.Steps = append(j.Steps, jobStep{Name: s.name, SQL: s.sql, Out: filepath.Join(r.dir, s.name)})
	}
	work := filepath.Join(r.dir, "spark")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	jobFile := filepath.Join(work, fmt.Sprintf("job-%d.json", r.jobs))
	driverFile := filepath.Join(work, "driver.py")
	if err := os.WriteFile(jobFile, b, 0o600); err != nil {
		return err
	}
	if r.jobs == 1 {
		if err := os.WriteFile(driverFile, driver, 0o600); err != nil {
			return err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(r.dir, "spark.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"--master", r.opt.Master, "--name", j.App}
	for _, kv := range settings {
		args = append(args, "--conf", kv[0]+"="+kv[1])
	}
	keys := make([]string, 0, len(r.opt.Conf))
	for k := range r.opt.Conf {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--conf", k+"="+r.opt.Conf[k])
	}
	args = append(args, driverFile, jobFile)
	fmt.Fprintf(logFile, "\n==> %s %s\n", r.submit, strings.Join(args, " "))
	r.progress(fmt.Sprintf("Spark job %d (%s) on %s", r.jobs, what, r.opt.Master))
	start := time.Now()
	cmd := exec.CommandContext(ctx, r.submit, args...)
	cmd.Dir = work
	// Spark's log, kept whole in spark.log and its last lines for the error.
	tail := &tailWriter{max: 64 << 10}
	cmd.Stderr = io.MultiWriter(logFile, tail)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start Spark (%s): %w", r.submit, err)
	}
	var failed string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logFile, line)
		switch {
		case strings.HasPrefix(line, "outcomes: "):
			r.progress("  " + strings.TrimPrefix(line, "outcomes: "))
		case strings.HasPrefix(line, "outcomes-error: "):
			failed = strings.TrimPrefix(line, "outcomes-error: ")
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil || failed != "" {
		return explain(what, r.opt.Master, failed, tail.String(), err)
	}
	r.progress(fmt.Sprintf("Spark job %d done in %.1f s", r.jobs, time.Since(start).Seconds()))
	return nil
}

func (r *runner) progress(line string) {
	if r.opt.Progress != nil {
		fmt.Fprintln(r.opt.Progress, line)
	}
}

// explain says in plain words why a Spark job failed: the error the job reported,
// or what Spark's log shows of the commonest causes, with what to do.
func explain(what, master, failed, log string, err error) error {
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(log, x) || strings.Contains(failed, x) {
				return true
			}
		}
		return false
	}
	var why string
	switch {
	case has("JAVA_HOME is not set", "java: command not found", "Unable to locate a Java Runtime"):
		why = "Spark needs Java (17 or later): install it, or set JAVA_HOME"
	case has("All masters are unresponsive", "Failed to connect to master", "Connection refused", "Could not parse Master URL", "Master must either be"):
		why = "the Spark master at " + master + " could not be reached: start the cluster, or check --master"
	case has("java.lang.OutOfMemoryError", "Container killed", "exceeding memory limits"):
		why = "Spark ran out of memory: give it more with --conf spark.executor.memory=4g (and spark.driver.memory)"
	case failed != "":
		why = "Spark stopped on an error: " + failed
	default:
		why = "spark-submit failed"
		if err != nil {
			why += " (" + err.Error() + ")"
		}
		if last := lastLines(log, 5); last != "" {
			why += "; the last lines of its log:\n" + last
		}
	}
	return fmt.Errorf("Spark job (%s): %s; spark.log has the whole log", what, why)
}

// lastLines is the last n lines of log that say ERROR or Exception, or else its last
// n lines.
func lastLines(log string, n int) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	var hits []string
	for _, l := range lines {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "Exception") {
			hits = append(hits, l)
		}
	}
	if len(hits) == 0 {
		hits = lines
	}
	if len(hits) > n {
		hits = hits[len(hits)-n:]
	}
	return strings.Join(hits, "\n")
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// findSubmit finds spark-submit: the one given, $SPARK_HOME's, or the PATH's.
func findSubmit(given string) (string, error) {
	if given != "" {
		p, err := exec.LookPath(given)
		if err != nil {
			return "", fmt.Errorf("--spark-submit %s: %v; give the path of Spark's spark-submit", given, err)
		}
		return p, nil
	}
	if home := os.Getenv("SPARK_HOME"); home != "" {
		return exec.LookPath(filepath.Join(home, "bin", "spark-submit"))
	}
	p, err := exec.LookPath("spark-submit")
	if err != nil {
		return "", errors.New("spark-submit was not found: install Spark (pip install pyspark brings it, with Java 17), set SPARK_HOME, or give --spark-submit PATH")
	}
	return p, nil
}

// readManifest reads the export's manifest and checks every file it lists against
// its SHA-256, so that the models run on exactly the data that was exported.
func readManifest(dir string) (*export.Manifest, error) {
	path := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; --input takes a folder written by report export", path, err)
	}
	var m export.Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a manifest of report export: %v", path, err)
	}
	for _, name := range canonical {
		found := false
		for _, t := range m.Tables {
			if t.Name != name {
				continue
			}
			found = true
			for _, f := range t.Files {
				h, err := export.HashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if err != nil {
					return nil, fmt.Errorf("%s: %w; the export is incomplete: export it again", dir, err)
				}
				if h != f.SHA256 {
					return nil, fmt.Errorf("%s: %s differs from the manifest (SHA-256 %s, not %s): the file changed after the export; export again", dir, f.Path, h, f.SHA256)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: the manifest has no table %s; export again with report export", path, name)
		}
	}
	return &m, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fileList is the DuckDB list of a table's files.
func fileList(dir string, t export.TableEntry) string {
	q := make([]string, len(t.Files))
	for i, f := range t.Files {
		q[i] = quote(filepath.Join(dir, filepath.FromSlash(f.Path)))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
