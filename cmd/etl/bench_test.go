package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// baseline is DuckDB on its own: each CSV file read with read_csv (types detected)
// into a plain table of a new database. It runs as a separate process, started by
// the benchmark, so that its time and peak memory are its own.
func baseline(db string, files []string) error {
	ctx := context.Background()
	d, err := store.Open(ctx, store.Config{Path: db})
	if err != nil {
		return err
	}
	defer d.Close()
	for i, f := range files {
		if _, err := d.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE t%d AS SELECT * FROM read_csv(?)`, i), f); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	_, err = d.ExecContext(ctx, "CHECKPOINT")
	return err
}

// measured is one run of a process: wall time and peak resident memory.
type measured struct {
	wall time.Duration
	rss  int64 // bytes
}

func runMeasured(b *testing.B, env []string, args ...string) measured {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%v: %v\n%s", args, err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return measured{wall: wall, rss: ru.Maxrss * 1024}
}

func median(xs []measured) measured {
	s := append([]measured(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	m := s[len(s)/2]
	peak := int64(0)
	for _, x := range xs {
		peak = max(peak, x.rss)
	}
	m.rss = peak
	return m
}

// BenchmarkLoad generates exports of about 1M and 10M sessions and, for each, loads
// them with etl (the load alone: --no-models) and, in the same run on the same files,
// with DuckDB's own read_csv into plain tables. Runs alternate between the two; the table gives medians and the
// peak memory of the largest run. Set OUTCOMES_BENCH_SIZES (for example "1000000")
// and OUTCOMES_BENCH_REPS to change the sizes and repetitions.
func BenchmarkLoad(b *testing.B) {
	sizes := []int{1_000_000, 10_000_000}
	if s := os.Getenv("OUTCOMES_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("OUTCOMES_BENCH_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	reps := 3
	if s := os.Getenv("OUTCOMES_BENCH_REPS"); s != "" {
		reps, _ = strconv.Atoi(s)
	}
	var lines []string
	for _, sessions := range sizes {
		dir := b.TempDir()
		data := filepath.Join(dir, "export")
		// The generator writes about 55 sessions per patient.
		truth, err := generate.Generate(context.Background(), generate.Config{Patients: max(1, sessions/55), Seed: 1}, data)
		if err != nil {
			b.Fatal(err)
		}
		var rows, bytes int64
		var files []string
		for name, n := range truth.Written {
			rows += n
			files = append(files, filepath.Join(data, name))
		}
		sort.Strings(files)
		for _, f := range files {
			info, _ := os.Stat(f)
			bytes += info.Size()
		}
		key := filepath.Join(dir, "site.key")
		if _, err := pseudo.Create(key); err != nil {
			b.Fatal(err)
		}
		var etl, raw []measured
		for i := 0; i < reps; i++ {
			rawDB := filepath.Join(dir, fmt.Sprintf("raw%d.duckdb", i))
			raw = append(raw, runMeasured(b, []string{"ETL_TEST_AS_BASELINE=1"}, append([]string{rawDB}, files...)...))
			os.Remove(rawDB)
			etlDB := filepath.Join(dir, fmt.Sprintf("etl%d.duckdb", i))
			etl = append(etl, runMeasured(b, []string{"ETL_TEST_AS_COMMAND=1", pseudo.EnvKey + "="},
				"--db", etlDB, "--key-file", key, "--progress", "never", "--no-models", data))
			os.Remove(etlDB)
		}
		e, r := median(etl), median(raw)
		ratio := e.wall.Seconds() / r.wall.Seconds()
		b.ReportMetric(ratio, fmt.Sprintf("ratio@%d", truth.Core["sessions"]))
		lines = append(lines, fmt.Sprintf("| %d | %d | %.1f MB | %.2f | %.0f | %.0f MiB | %.2f | %.0f MiB | %.2f |",
			truth.Core["sessions"], rows, float64(bytes)/1e6, e.wall.Seconds(), float64(rows)/e.wall.Seconds(), float64(e.rss)/(1<<20),
			r.wall.Seconds(), float64(r.rss)/(1<<20), ratio))
		os.RemoveAll(data)
	}
	fmt.Printf("\n%d runs each, medians; peak memory is the largest of the runs.\n\n", reps)
	fmt.Println("| sessions | rows (all files) | CSV size | etl s | etl rows/s | etl peak RSS | read_csv s | read_csv peak RSS | ratio etl / read_csv |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, l := range lines {
		fmt.Println(l)
	}
	for i := 0; i < b.N; i++ {
		// The work above is the measurement; b.N is not used.
	}
}
