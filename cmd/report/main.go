// Command report reads the outcomes database and reports on it.
//
//	report [--db FILE] [--out DIR] [--period Q | --from D --to D] [--program ID | --each-program] [--audience A]
//	       [--targets FILE] [--sections all|board] [--pdf [--paper letter|a4]]
//	report ledger [--db FILE]                  what was loaded, from which files, and what was rejected
//	report query [--db FILE] [--format F] [--out FILE] [--timeout D] (SQL | -f FILE.sql)
//	report dictionary [--db FILE] [--out FILE] the data dictionary, as Markdown
//	report extract --out DIR [--format F]      de-identified analysis tables for sharing
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

func main() {
	// Files the command makes, DuckDB's spill files among them, are its owner's
	// alone: they hold protected health information.
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			printError(os.Stderr, "report", err)
		}
		os.Exit(1)
	}
}

// printError shows an error to a person: control characters in it (from a file name
// or an export) are escaped, so that it cannot drive the terminal.
func printError(w io.Writer, command string, err error) {
	fmt.Fprintln(w, command+":", pipeline.PrintableLines(err.Error()))
}

// errUsage is returned when the command line was wrong; the usage has been printed.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  report [--db FILE] [--out DIR] [--period 2026Q3 | --from DATE --to DATE] [--program ID]
         [--audience internal|external] [--targets FILE] [--sections all|board]
         [--pdf [--paper letter|a4]] [--each-program]
                                               the quarterly report: report.html, report.xlsx, manifest.json
                                               (report.pdf with --pdf; with --each-program a folder per
                                               program and ALL/ for the network)
  report ledger [--db FILE]                    files loaded, row accounting and rejects by reason
  report programs [--db FILE]                  programs, their names and the quarters with data
  report query [--db FILE] [--format table|csv|json|xlsx|parquet|arrow] [--out FILE] [--timeout 5m]
               (SQL | -f FILE.sql)             run SQL on a read-only connection that reaches no file
  report dictionary [--db FILE] [--out FILE]   every table and column with its description, as Markdown
  report extract --out DIR [--format parquet|arrow|csv] [--date-offsets]
                                               de-identified analysis tables with a README
  report export --out DIR [--format parquet] [--partition-by program_id|quarter|patient_bucket:N]
                                               the canonical tables as stored (pseudonymized) and the
                                               parameters, as Hive-partitioned Parquet with manifest.json
`)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return runReport(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "ledger":
		return runLedger(ctx, args[1:], stdout, stderr)
	case "programs":
		return runPrograms(ctx, args[1:], stdout, stderr)
	case "query":
		return runQuery(ctx, args[1:], stdout, stderr)
	case "dictionary":
		return runDictionary(ctx, args[1:], stdout, stderr)
	case "extract":
		return runExtract(ctx, args[1:], stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], stdout, stderr)
	}
	usage(stderr)
	return errUsage
}

// parse parses a subcommand's flags; ok is false when it printed help or usage.
func parse(fl *flag.FlagSet, args []string) (bool, error) {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, errUsage
	}
	return true, nil
}

// dbFlags adds --db and the flags that size DuckDB to a subcommand's command line.
func dbFlags(fl *flag.FlagSet) *store.Config {
	cfg := &store.Config{}
	fl.StringVar(&cfg.Path, "db", "outcomes.duckdb", "database `file` to read")
	cfg.RegisterFlags(fl)
	return cfg
}

// openReadOnly opens the database for reading, with a clear error when it is missing.
func openReadOnly(ctx context.Context, cfg *store.Config) (*store.DB, error) {
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("%s: %w; load exports first with etl", cfg.Path, err)
	}
	c := *cfg
	c.ReadOnly = true
	return store.Open(ctx, c)
}

func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withDatabase(ctx, "report ledger", args, stderr, func(db *sql.DB) error { return ledger(ctx, db, stdout) })
}

// withDatabase runs a subcommand that takes only the database flags: it parses them,
// opens the database read-only and hands it to fn.
func withDatabase(ctx context.Context, name string, args []string, stderr io.Writer, fn func(*sql.DB) error) error {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	if ok, err := parse(fl, args); !ok {
		return err
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db.DB)
}

// ledger prints the ledger: one line per file with its row accounting, then the
// rejects by file and reason.
func ledger(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT f.run_id, strftime(r.finished_at, '%Y-%m-%d %H:%M'), f.path, f.entity, f.rows_read, f.rows_loaded,
		       f.rows_duplicate, f.rows_rejected, f.status,
		       CASE WHEN f.rows_read = f.rows_loaded + f.rows_rejected + f.rows_duplicate THEN 'yes' ELSE 'NO' END
		FROM load_files f JOIN load_runs r USING (run_id)
		ORDER BY f.file_id`)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tcommitted\tfile\ttable\tread\tloaded\tduplicate\trejected\tstatus\tbalances")
	for rows.Next() {
		var run int
		var when, path, entity, status, balances string
		var read, loaded, dup, rejected int64
		if err := rows.Scan(&run, &when, &path, &entity, &read, &loaded, &dup, &rejected, &status, &balances); err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
		p := pipeline.Printable
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", run, when, p(path), p(entity), read, loaded, dup, rejected, p(status), balances)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	tw.Flush()

	rows2, err := db.QueryContext(ctx, `
		SELECT file, reason, count(*) AS problems, min(line) AS first_line
		FROM rejects GROUP BY file, reason ORDER BY file, problems DESC, reason`)
	if err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	defer rows2.Close()
	fmt.Fprintln(w, "\nRejects by file and reason (the rejects table has every row):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "file\treason\tproblems\tfirst line")
	n := 0
	for rows2.Next() {
		var file, reason string
		var count, line int64
		if err := rows2.Scan(&file, &reason, &count, &line); err != nil {
			return fmt.Errorf("read rejects: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", pipeline.Printable(file), pipeline.Printable(reason), count, line)
		n++
	}
	if err := rows2.Err(); err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	if n == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}
