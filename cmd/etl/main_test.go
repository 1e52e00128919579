package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// TestMain lets the test binary act as the etl command, so a test can run it as a
// separate process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("ETL_TEST_AS_COMMAND") == "1" {
		main()
		return
	}
	if mode := os.Getenv("ETL_TEST_HOLD"); mode != "" {
		hold(mode, os.Args[1])
		return
	}
	os.Exit(m.Run())
}

const sampleData = "../../sample-data/synthetic"

type cli struct {
	t       *testing.T
	db, key string
}

func newCLI(t *testing.T) cli {
	t.Setenv(pseudo.EnvKey, "")
	dir := t.TempDir()
	return cli{t: t, db: filepath.Join(dir, "outcomes.duckdb"), key: filepath.Join(dir, "site.key")}
}

// run runs etl in this process and returns what it printed.
func (c cli) run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	args = append([]string{"--db", c.db, "--key-file", c.key}, args...)
	err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestLoadSampleData(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run(sampleData)
	if err != nil {
		t.Fatalf("etl: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"committed", "every file balances", "export-2/programs.csv was refused whole", "A new site key was created"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MRN") {
		t.Errorf("output shows an original patient id:\n%s", out)
	}
	out, _, err = c.run(sampleData)
	if err != nil || !strings.Contains(out, "Nothing new") {
		t.Errorf("second run: %v\n%s", err, out)
	}
}

func TestJSONSummary(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run("--json", sampleData)
	if err != nil {
		t.Fatalf("etl: %v\n%s", err, errOut)
	}
	var res ingest.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !res.Committed || len(res.Files) != 10 {
		t.Fatalf("committed %v with %d files, want 10", res.Committed, len(res.Files))
	}
	for _, f := range res.Files {
		if f.Read != f.Loaded+f.Rejected+f.Duplicate {
			t.Errorf("%s does not balance: %+v", f.Path, f)
		}
	}
}

func TestBadCommandLines(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{}, {"--no-such-flag", sampleData}, {"--max-reject-rate", "2", sampleData}, {filepath.Join(sampleData, "ground_truth.json")}, {"does-not-exist"}} {
		_, errOut, err := c.run(args...)
		if err == nil {
			t.Errorf("etl %v succeeded", args)
		}
		if strings.Contains(errOut, "panic") {
			t.Errorf("etl %v panicked: %s", args, errOut)
		}
	}
}

func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"generate", "--out", dir, "--patients", "20", "--seed", "5"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"programs.csv", "patients.csv", "episodes.csv", "sessions.csv", "observations.csv", "ground_truth.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("generate did not write %s", f)
		}
	}
	if !strings.Contains(stdout.String(), "Wrote 20 patients") {
		t.Errorf("generate printed %q", stdout.String())
	}
}

func sum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tableSums returns a checksum of every row of the core and model tables (the file
// ids left out), to compare two databases loaded from the same exports.
func tableSums(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	core := map[string]bool{"programs": true, "patients": true, "episodes": true, "sessions": true, "observations": true}
	for _, table := range []string{"programs", "patients", "episodes", "sessions", "observations", "rejects",
		"episode_weeks", "relapse_events", "episode_outcomes", "km_estimates", "logrank_tests", "model_estimates", "kpis", "kpis_by_group", "kpi_control"} {
		from := table
		if core[table] {
			from = "(SELECT * EXCLUDE (load_file_id, source_line) FROM " + table + ")"
		}
		var n int64
		var h any
		if err := db.QueryRow(`SELECT count(*), bit_xor(hash(t)) FROM `+from+` t`).Scan(&n, &h); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = fmt.Sprint(n, " ", h)
	}
	return out
}

// interruptible sets up a load to interrupt: the sample loaded into a new database
// (whose checksum it returns) and a generated export of the given size, with a
// function that makes the command loading that export into the database as etl.
func interruptible(t *testing.T, patients, seed int) (c cli, before string, command func() *exec.Cmd) {
	t.Helper()
	c = newCLI(t)
	if _, _, err := c.run(sampleData); err != nil {
		t.Fatal(err)
	}
	before = sum(t, c.db)
	big := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"generate", "--out", big, "--patients", fmt.Sprint(patients), "--seed", fmt.Sprint(seed)}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return c, before, func() *exec.Cmd {
		cmd := exec.Command(self, "--db", c.db, "--key-file", c.key, "--progress", "never", big)
		cmd.Env = append(os.Environ(), "ETL_TEST_AS_COMMAND=1", pseudo.EnvKey+"=")
		return cmd
	}
}

// TestKilledLoadLeavesTheEarlierState kills etl at 20 random moments of a large load
// (model rebuild included) and checks that the database file is byte for byte what it
// was before each time, and that a rerun then converges to the same tables as a clean
// run of the same load.
func TestKilledLoadLeavesTheEarlierState(t *testing.T) {
	c, before, command := interruptible(t, 3000, 11)
	// Time one full load on a copy, to spread the kills over its length.
	copyDB := filepath.Join(t.TempDir(), "copy.duckdb")
	if err := os.WriteFile(copyDB, mustRead(t, c.db), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	timing := command()
	timing.Args[2] = copyDB
	if b, err := timing.CombinedOutput(); err != nil {
		t.Fatalf("full load: %v\n%s", err, b)
	}
	full := time.Since(start)
	clean := tableSums(t, copyDB)
	saved := mustRead(t, c.db)

	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		cmd := command()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Int64N(int64(full)))
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			// The load won the race: the database must then be the whole load.
			if got := tableSums(t, c.db); !reflect.DeepEqual(got, clean) {
				t.Fatalf("trial %d: the load finished before the kill at %v, with other tables than a clean run", trial, delay)
			}
			t.Logf("trial %d: the load finished before the kill at %v", trial, delay)
			if err := os.WriteFile(c.db, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := sum(t, c.db); got != before {
			t.Fatalf("trial %d: killed after %v (%v), the database file changed", trial, delay, err)
		}
	}
	if b, err := command().CombinedOutput(); err != nil || !strings.Contains(string(b), "committed") {
		t.Fatalf("rerun after the kills: %v\n%s", err, b)
	}
	if sum(t, c.db) == before {
		t.Error("the rerun did not change the database")
	}
	if got := tableSums(t, c.db); !reflect.DeepEqual(got, clean) {
		t.Errorf("after the kills, the rerun's tables differ from a clean run's:\n%v\n%v", got, clean)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(c.db), ".*loading*"))
	if len(leftovers) > 0 {
		t.Errorf("working files left after a successful run: %v", leftovers)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestModelsCommand(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run(sampleData)
	if err != nil || !strings.Contains(out, "Models rebuilt") || !strings.Contains(out, "Landmark dropout: HR") {
		t.Fatalf("load with models: %v\n%s%s", err, out, errOut)
	}
	before := sum(t, c.db)
	var stdout, stderr bytes.Buffer
	// A bad parameter: refused before anything is touched.
	if err := run(context.Background(), []string{"models", "--db", c.db, "--relapse", "sometimes"}, nil, &stdout, &stderr); err == nil {
		t.Error("etl models accepted an unknown relapse definition")
	}
	if sum(t, c.db) != before {
		t.Error("a refused rebuild changed the database")
	}
	if err := run(context.Background(), []string{"models", "--db", c.db, "--outcome-window-weeks", "four"}, nil, &stdout, &stderr); err == nil {
		t.Error("etl models accepted an outcome window that is not a number")
	}
	// Another landmark and an outcome window: rebuilt, and recorded in
	// analysis_parameters.
	stdout.Reset()
	if err := run(context.Background(), []string{"models", "--db", c.db, "--landmark-days", "35", "--covariates", "none", "--outcome-window-weeks", "12"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("etl models: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "day-35 landmark cohort") {
		t.Errorf("etl models printed %q", stdout.String())
	}
	if sum(t, c.db) == before {
		t.Error("the rebuild with new parameters changed nothing")
	}
	db, err := store.Open(context.Background(), store.Config{Path: c.db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var window string
	if err := db.QueryRow(`SELECT value FROM analysis_parameters WHERE name = 'outcome_window_weeks'`).Scan(&window); err != nil || window != "12" {
		t.Errorf("outcome_window_weeks stored as %q (%v), want 12", window, err)
	}
}

// TestModelsWarnings checks that a load and etl models say, in words and by term,
// what the adjusted models lost: program P04 is exactly the under-18 age band of the
// sample (aliased), and with co_occurring missing for every episode the models leave
// it out (the ctn0094 profile leaves it empty).
func TestModelsWarnings(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run("--covariates", strings.Join(models.CovariateNames(), ","), sampleData)
	if err != nil || !strings.Contains(out, "Warning: model landmark_cox_dropout (the headline model): ") || !strings.Contains(out, "program=P04") {
		t.Fatalf("load with all covariates: %v; want a warning naming program=P04\n%s%s", err, out, errOut)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"models", "--db", c.db, "--covariates", "age_band,sex,program"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("etl models: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Warning: model landmark_logistic_relapse: ") || !strings.Contains(stdout.String(), "program=P04") {
		t.Errorf("etl models printed %q; want a warning for each adjusted model naming program=P04", stdout.String())
	}
}

// hold plays a researcher who has the database open (mode ro: read-only, as the
// DuckDB CLI with -readonly or a Python client; rw: read-write, as the DuckDB CLI by
// default): it counts the sessions, says so, waits for a line on stdin, counts again
// and says so.
func hold(mode, path string) {
	db, err := store.Open(context.Background(), store.Config{Path: path, ReadOnly: mode == "ro"})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer db.Close()
	count := func() int64 {
		var n int64
		if err := db.QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		return n
	}
	fmt.Println("ready", count())
	bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Println("after", count())
}

// holder starts a process that holds the database open and waits until it has.
func holder(t *testing.T, mode, db string) (stdin io.WriteCloser, lines *bufio.Scanner, wait func() error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, db)
	cmd.Env = append(os.Environ(), "ETL_TEST_HOLD="+mode)
	stdin, _ = cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines = bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "ready") {
		t.Fatalf("holder did not start: %q", lines.Text())
	}
	return stdin, lines, cmd.Wait
}

// TestLoadWhileAResearcherReads runs etl while another process has the database
// open: a reader keeps its view and the load succeeds; a read-write holder makes etl
// fail with a message that says what to do, and changes nothing.
func TestLoadWhileAResearcherReads(t *testing.T) {
	c := newCLI(t)
	if _, _, err := c.run("--no-models", filepath.Join(sampleData, "export-1")); err != nil {
		t.Fatal(err)
	}
	var first int64
	t.Run("reader keeps its view", func(t *testing.T) {
		stdin, lines, wait := holder(t, "ro", c.db)
		fmt.Sscanf(lines.Text(), "ready %d", &first)
		out, errOut, err := c.run(filepath.Join(sampleData, "export-2"))
		if err != nil {
			t.Fatalf("etl while a reader has the database open: %v\n%s%s", err, out, errOut)
		}
		io.WriteString(stdin, "go\n")
		if !lines.Scan() || lines.Text() != fmt.Sprintf("after %d", first) {
			t.Errorf("the reader saw %q after the load; want its own view, %d sessions", lines.Text(), first)
		}
		stdin.Close()
		wait()
		d, err := store.Open(context.Background(), store.Config{Path: c.db, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var now int64
		d.QueryRow(`SELECT count(*) FROM sessions`).Scan(&now)
		d.Close()
		if now <= first {
			t.Errorf("a new reader sees %d sessions, not more than the %d before the load", now, first)
		}
	})
	t.Run("writer holding the file", func(t *testing.T) {
		before := sum(t, c.db)
		stdin, _, wait := holder(t, "rw", c.db)
		more := t.TempDir()
		var out bytes.Buffer
		if err := run(context.Background(), []string{"generate", "--out", more, "--patients", "5", "--seed", "99"}, nil, &out, &out); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.run(more)
		stdin.Close()
		wait()
		if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), "close it") {
			t.Errorf("etl while another process writes: %v; want a message that names the conflict and what to do", err)
		}
		if sum(t, c.db) != before {
			t.Error("the database changed")
		}
	})
}

// TestWeeklySplitLoadsAsTheWhole loads a generated export once whole and once as its
// weekly split (base/, then weekly/ in a second run) under one key, and checks that the
// tables, models included, come out the same: the weekly export updates episodes
// discharged in its week and adds the week's sessions and observations.
func TestWeeklySplitLoadsAsTheWhole(t *testing.T) {
	dir := t.TempDir()
	whole, split := filepath.Join(dir, "whole"), filepath.Join(dir, "split")
	for _, g := range []struct {
		out  string
		args []string
	}{{whole, nil}, {split, []string{"--weekly"}}} {
		args := append([]string{"generate", "--out", g.out, "--patients", "400", "--seed", "3"}, g.args...)
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, nil, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
	}
	a := newCLI(t)
	if _, stderr, err := a.run("--progress", "never", whole); err != nil {
		t.Fatalf("whole: %v\n%s", err, stderr)
	}
	b := newCLI(t)
	b.key = a.key
	for _, part := range []string{"base", "weekly"} {
		if _, stderr, err := b.run("--progress", "never", filepath.Join(split, part)); err != nil {
			t.Fatalf("%s: %v\n%s", part, err, stderr)
		}
	}
	for _, f := range []string{"sessions.csv", "observations.csv"} {
		if n := bytes.Count(mustRead(t, filepath.Join(split, "weekly", f)), []byte("\n")); n < 10 {
			t.Fatalf("weekly/%s has %d lines: the split left the week empty", f, n)
		}
	}
	wa, wb := tableSums(t, a.db), tableSums(t, b.db)
	for table, s := range wa {
		if wb[table] != s {
			t.Errorf("%s: whole export gives %s, base then weekly gives %s", table, s, wb[table])
		}
	}
	incrementalEqualsFull(t, b)
}

// incrementalEqualsFull checks that the last model rebuild of c's database was
// incremental and that a full rebuild of a copy gives the same model tables.
func incrementalEqualsFull(t *testing.T, c cli) {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: c.db, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var recomputed, episodes int64
	err = db.QueryRow(`SELECT mode, b.episodes, (SELECT count(*) FROM episodes) FROM model_builds b ORDER BY built_at DESC LIMIT 1`).Scan(&mode, &recomputed, &episodes)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if mode != "incremental" || recomputed == 0 || recomputed >= episodes {
		t.Fatalf("last rebuild: %s over %d of %d episodes; want an incremental one over some of them", mode, recomputed, episodes)
	}
	full := c
	full.db = filepath.Join(t.TempDir(), "full.duckdb")
	if err := os.WriteFile(full.db, mustRead(t, c.db), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"models", "--db", full.db, "--full"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("models --full: %v\n%s", err, stderr.String())
	}
	inc, all := tableSums(t, c.db), tableSums(t, full.db)
	for table, s := range all {
		if inc[table] != s {
			t.Errorf("%s: the full rebuild gives %s, the incremental one %s", table, s, inc[table])
		}
	}
}

// TestIncrementalRebuildEqualsFull loads the messy sample's two exports in two runs:
// the second corrects session statuses, changes and adds episodes, links observations
// and moves the cutoff. Its incremental model rebuild must equal a full one.
func TestIncrementalRebuildEqualsFull(t *testing.T) {
	c := newCLI(t)
	for _, part := range []string{"export-1", "export-2"} {
		if _, stderr, err := c.run("--progress", "never", filepath.Join(sampleData, part)); err != nil {
			t.Fatalf("%s: %v\n%s", part, err, stderr)
		}
	}
	incrementalEqualsFull(t, c)
}

// TestRebuildFollowsReplacedRows moves an old session to another patient's episode in
// a later export: the episode that lost it is old and untouched otherwise, so only the
// loader's note of the replaced row (model_pending) brings it into the rebuild.
func TestRebuildFollowsReplacedRows(t *testing.T) {
	write := func(dir string, files map[string]string) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	sessions := "session_id,episode_id,patient_id,session_date,start_time,session_type,status,minutes,clinician_id\n"
	write(first, map[string]string{
		"programs.csv": "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\nP01,Adult IOP,Main,IOP,8,9\n",
		"patients.csv": "patient_id,birth_year,sex,race,ethnicity,payer\nA,1980,female,white,not_hispanic,medicaid\nB,1985,male,black,not_hispanic,commercial\nC,1990,male,white,hispanic,medicaid\n" +
			"D,1970,female,white,not_hispanic,medicaid\nE,1971,female,white,not_hispanic,medicaid\n" +
			"F,1972,female,white,not_hispanic,medicaid\nG,1973,female,white,not_hispanic,medicaid\n",
		"episodes.csv": "episode_id,patient_id,program_id,admit_date,discharge_date,discharge_reason,primary_substance,co_occurring,on_medication,referral_source\n" +
			"E1,A,P01,2025-01-06,2025-02-03,completed,alcohol,false,false,self\n" +
			"E2,B,P01,2025-01-06,2025-02-17,completed,alcohol,false,false,self\n" +
			"E3,C,P01,2026-06-01,,,opioids,false,true,court\n" +
			"E4,D,P01,2025-03-03,2025-04-01,dropped_out,alcohol,false,false,self\n" +
			"E5,E,P01,2025-03-03,2025-04-01,dropped_out,alcohol,false,false,self\n" +
			"E6,F,P01,2025-03-03,2025-04-01,dropped_out,alcohol,false,false,self\n" +
			"E7,G,P01,2025-03-03,2025-04-01,dropped_out,alcohol,false,false,self\n",
		"sessions.csv": sessions +
			"S1,E1,A,2025-01-10,09:00,group,attended,90,C1\n" +
			"S2,E2,B,2025-01-10,09:00,group,attended,90,C1\n" +
			"S3,E3,C,2026-06-02,09:00,group,attended,90,C1\n",
	})
	write(second, map[string]string{
		"sessions.csv": sessions +
			"S1,E2,B,2025-01-10,10:00,group,attended,90,C1\n" +
			"S4,E3,C,2026-06-09,09:00,group,attended,90,C1\n",
	})
	c := newCLI(t)
	for _, part := range []string{first, second} {
		if _, stderr, err := c.run("--progress", "never", part); err != nil {
			t.Fatalf("%s: %v\n%s", part, err, stderr)
		}
	}
	incrementalEqualsFull(t, c)
}
