// Command bench measures the whole pipeline at scale: for each size it generates an
// export (etl generate --weekly), then times, as separate processes with their peak
// resident memory, DuckDB's own read_csv of the same files into plain tables (the
// raw-engine baseline), the load, the model rebuild, the report of all programs and
// of one program, and the incremental load of the last week's export with its model
// rebuild; with --pandas, also the analyst's pandas script on the same files. It prints
// one Markdown table and, per size, the ratios the speed goals are stated in.
// scripts/bench.sh builds the binaries and runs it; see BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// sessionsPerPatient is about what the generator writes per patient (measured: 11.3M
// sessions from 193,000 patients).
const sessionsPerPatient = 58

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	sizes       []int
	reps        int
	dir         string
	bin         string
	memoryLimit string
	threads     int
	program     string
	keep        bool
	pandas      string // the analyst's script (scripts/pandas_baseline.py); empty: not run
	python      string
}

// ratios are the figures of one size that the speed goals are stated in.
type ratios struct {
	sessions                    int64
	pipeline                    float64 // load + rebuild + report, seconds
	pandas                      float64 // the pandas script, seconds; 0 when not run
	pandasRSS                   int64
	load, readCSV, rebuild      float64
	loadRSS, rebuildRSS, repRSS int64
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "read_csv" {
		return baseline(args[1:])
	}
	var c config
	var sizes string
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&sizes, "sizes", "1000000,10000000,50000000", "comma-separated `sessions` per dataset")
	fl.IntVar(&c.reps, "reps", 1, "runs of each step; the table gives medians")
	fl.StringVar(&c.dir, "dir", "", "work `folder` for the exports and databases (default: a new folder under the system's temporary folder); needs about 250 bytes per session")
	fl.StringVar(&c.bin, "bin", "", "`folder` holding the etl and report binaries")
	fl.StringVar(&c.memoryLimit, "memory-limit", "1500MB", "DuckDB memory limit given to every step, the baseline included")
	fl.IntVar(&c.threads, "threads", 0, "DuckDB threads of every step (default: one per core)")
	fl.StringVar(&c.program, "program", "P01", "program of the single-program report")
	fl.BoolVar(&c.keep, "keep", false, "keep the exports and databases")
	fl.StringVar(&c.pandas, "pandas", "", "the analyst's pandas `script` to time on the same files (scripts/pandas_baseline.py); empty: not run")
	fl.StringVar(&c.python, "python", "/usr/bin/python3", "the `python` that runs --pandas (it needs pandas and openpyxl)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < sessionsPerPatient {
			return fmt.Errorf("--sizes %q: give session counts such as 1000000,10000000", sizes)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.bin == "" || c.reps < 1 {
		return errors.New("give --bin (the folder of the etl and report binaries) and --reps of at least 1")
	}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "outcomes-bench-")
		if err != nil {
			return err
		}
		c.dir = d
		if !c.keep {
			defer os.RemoveAll(d)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Machine: %d cores, %s RAM, %s/%s, %s. DuckDB memory limit %s, threads %s; %d run(s) per step, medians.\n\n",
		runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version(), c.memoryLimit, threadsText(c.threads), c.reps)
	fmt.Fprintln(stdout, "| sessions | step | rows | wall s | rows/s | peak RSS | vs read_csv |")
	fmt.Fprintln(stdout, "|---:|---|---:|---:|---:|---:|---:|")
	var all []ratios
	for _, n := range c.sizes {
		r, err := one(c, self, n, stdout, stderr)
		if err != nil {
			return err
		}
		all = append(all, r)
	}
	fmt.Fprintln(stdout)
	for _, r := range all {
		fmt.Fprintf(stdout, "At %d sessions: load / read_csv %.2fx (%.2f s / %.2f s); model rebuild %.2f s", r.sessions, r.load/r.readCSV, r.load, r.readCSV, r.rebuild)
		if r.pandas > 0 {
			fmt.Fprintf(stdout, "; etl + report / pandas %.2fx (%.2f s / %.2f s; pandas peak %s, etl peak %s)",
				r.pipeline/r.pandas, r.pipeline, r.pandas, mib(r.pandasRSS), mib(max(r.loadRSS, r.rebuildRSS, r.repRSS)))
		}
		fmt.Fprintln(stdout, ".")
	}
	for i := 1; i < len(all); i++ {
		fmt.Fprintf(stdout, "Load + rebuild + report at %d sessions / at %d: %.2fx for %.1fx the data.\n",
			c.sizes[i], c.sizes[i-1], all[i].pipeline/all[i-1].pipeline, float64(c.sizes[i])/float64(c.sizes[i-1]))
	}
	return nil
}

func threadsText(n int) string {
	if n == 0 {
		return "one per core"
	}
	return strconv.Itoa(n)
}

// one measures one dataset size and prints its rows; it returns its ratios, among
// them the time of load, rebuild and report together.
func one(c config, self string, n int, stdout, stderr io.Writer) (ratios, error) {
	dir := filepath.Join(c.dir, strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ratios{}, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	data := filepath.Join(dir, "export")
	start := time.Now()
	truth, err := generate.Generate(context.Background(), generate.Config{Patients: max(1, n/sessionsPerPatient), Seed: 1, Weekly: true}, data)
	if err != nil {
		return ratios{}, err
	}
	fmt.Fprintf(stderr, "bench: generated %d sessions in %.0f s\n", truth.Core["sessions"], time.Since(start).Seconds())
	base, weekly := filepath.Join(data, "base"), filepath.Join(data, "weekly")
	var baseRows, weeklyRows int64
	var files []string
	for name, rows := range truth.Written {
		switch filepath.Dir(name) {
		case "base":
			baseRows += rows
			files = append(files, filepath.Join(data, name))
		case "weekly":
			weeklyRows += rows
		}
	}
	slices.Sort(files)
	key := filepath.Join(dir, "site.key")
	if _, err := pseudo.Create(key); err != nil {
		return ratios{}, err
	}
	db := filepath.Join(dir, "outcomes.duckdb")
	spill := filepath.Join(dir, "spill")
	duck := []string{"--memory-limit", c.memoryLimit, "--temp-dir", spill, "--threads", strconv.Itoa(c.threads)}
	etl := filepath.Join(c.bin, "etl")
	report := filepath.Join(c.bin, "report")
	env := []string{pseudo.EnvKey + "="}

	// The baseline and the load alternate, each on a new database.
	var raw, load []measured
	for i := 0; i < c.reps; i++ {
		rawDB := filepath.Join(dir, "raw.duckdb")
		m, err := measure(env, self, append([]string{"read_csv", "--memory-limit", c.memoryLimit, "--threads", strconv.Itoa(c.threads), rawDB}, files...)...)
		if err != nil {
			return ratios{}, err
		}
		raw = append(raw, m)
		os.Remove(rawDB)
		os.Remove(db)
		m, err = measure(env, etl, append([]string{"--db", db, "--key-file", key, "--progress", "never", "--no-models"}, append(duck, base)...)...)
		if err != nil {
			return ratios{}, err
		}
		load = append(load, m)
	}
	steps := []struct {
		name string
		args []string
	}{
		// --full: a repetition after the first would otherwise find nothing changed.
		{"model rebuild", append([]string{"models", "--db", db, "--full"}, duck...)},
		{"report, all programs", append([]string{"--db", db, "--out", filepath.Join(dir, "out")}, duck...)},
		{"report, program " + c.program, append([]string{"--db", db, "--out", filepath.Join(dir, "out1"), "--program", c.program}, duck...)},
	}
	times := map[string]measured{}
	for _, s := range steps {
		bin := etl
		if strings.HasPrefix(s.name, "report") {
			bin = report
		}
		var ms []measured
		for i := 0; i < c.reps; i++ {
			m, err := measure(env, bin, s.args...)
			if err != nil {
				return ratios{}, err
			}
			ms = append(ms, m)
		}
		times[s.name] = median(ms)
	}
	// The weekly export goes into a copy of the loaded database each time, so that
	// every repetition starts from the same state.
	var inc []measured
	for i := 0; i < c.reps; i++ {
		work := filepath.Join(dir, "weekly.duckdb")
		if err := store.CopyFile(db, work); err != nil {
			return ratios{}, err
		}
		m, err := measure(env, etl, append([]string{"--db", work, "--key-file", key, "--progress", "never"}, append(duck, weekly)...)...)
		if err != nil {
			return ratios{}, err
		}
		inc = append(inc, m)
		os.Remove(work)
	}
	// The analyst's script reads the same files and writes its workbook beside the
	// report's.
	var pd []measured
	for i := 0; c.pandas != "" && i < c.reps; i++ {
		m, err := measure(nil, c.python, c.pandas, base, filepath.Join(dir, "pandas.xlsx"))
		if err != nil {
			return ratios{}, err
		}
		pd = append(pd, m)
	}
	r, l, inc1 := median(raw), median(load), median(inc)
	row := func(step string, rows int64, m measured, vs string) {
		rate := "–"
		if rows > 0 {
			rate = fmt.Sprintf("%.0f", float64(rows)/m.wall.Seconds())
		}
		rowsText := "–"
		if rows > 0 {
			rowsText = strconv.FormatInt(rows, 10)
		}
		fmt.Fprintf(stdout, "| %d | %s | %s | %.2f | %s | %s | %s |\n", truth.Core["sessions"], step, rowsText, m.wall.Seconds(), rate, mib(m.rss), vs)
	}
	row("read_csv (baseline)", baseRows, r, "1.00x")
	row("load", baseRows, l, fmt.Sprintf("%.2fx", l.wall.Seconds()/r.wall.Seconds()))
	full := l.wall.Seconds()
	pipeline := full
	for _, s := range steps {
		m := times[s.name]
		vs := fmt.Sprintf("%.2fx load", m.wall.Seconds()/l.wall.Seconds())
		row(s.name, 0, m, vs)
		if s.name == "model rebuild" {
			full += m.wall.Seconds()
		}
		if s.name != "report, program "+c.program {
			pipeline += m.wall.Seconds()
		}
	}
	row(fmt.Sprintf("weekly export + rebuild (%.1f%% of rows)", 100*float64(weeklyRows)/float64(baseRows)), weeklyRows, inc1,
		fmt.Sprintf("%.3fx load + rebuild", inc1.wall.Seconds()/full))
	out := ratios{sessions: truth.Core["sessions"], pipeline: pipeline, load: l.wall.Seconds(), readCSV: r.wall.Seconds(),
		rebuild: times["model rebuild"].wall.Seconds(), loadRSS: l.rss, rebuildRSS: times["model rebuild"].rss, repRSS: times["report, all programs"].rss}
	if len(pd) > 0 {
		p := median(pd)
		row("pandas + openpyxl script (baseline)", baseRows, p, fmt.Sprintf("%.2fx load + rebuild + report", p.wall.Seconds()/pipeline))
		out.pandas, out.pandasRSS = p.wall.Seconds(), p.rss
	}
	return out, nil
}

// measured is one run of a process: wall time and peak resident memory.
type measured struct {
	wall time.Duration
	rss  int64 // bytes
}

// measure runs a program to its end and returns its wall time and peak resident set.
func measure(env []string, bin string, args ...string) (measured, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return measured{}, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return measured{wall: wall, rss: ru.Maxrss * 1024}, nil
}

// median is the run of median wall time, with the peak memory of all runs.
func median(xs []measured) measured {
	s := slices.Clone(xs)
	slices.SortFunc(s, func(a, b measured) int { return int(a.wall - b.wall) })
	m := s[len(s)/2]
	for _, x := range xs {
		m.rss = max(m.rss, x.rss)
	}
	return m
}

func mib(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// baseline is DuckDB on its own: each CSV file read with read_csv (types detected)
// into a plain table of a new database, under the same memory limit and threads as
// the pipeline. It runs as its own process so that its time and memory are its own.
func baseline(args []string) error {
	fl := flag.NewFlagSet("bench read_csv", flag.ContinueOnError)
	var cfg store.Config
	cfg.RegisterFlags(fl)
	if err := fl.Parse(args); err != nil || fl.NArg() < 2 {
		return errors.New("usage: bench read_csv [--memory-limit L] [--threads N] DB FILE.csv...")
	}
	cfg.Path = fl.Arg(0)
	ctx := context.Background()
	d, err := store.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	for i, f := range fl.Args()[1:] {
		if _, err := d.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE t%d AS SELECT * FROM read_csv(?)`, i), f); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	_, err = d.ExecContext(ctx, "CHECKPOINT")
	return err
}

// memTotal is the machine's memory from /proc/meminfo, or "unknown".
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return "unknown"
}
