package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/query"
)

// runQuery is `report query`: ad-hoc SQL on a read-only connection that cannot
// reach the file system (query.Run), stopped after --timeout.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report query", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	format := fl.String("format", "table", "output `format`: "+strings.Join(query.Formats(), ", "))
	out := fl.String("out", "", "output `file` (needed for xlsx, parquet and arrow; else standard output)")
	file := fl.String("f", "", "read the SQL from this `file`")
	timeout := fl.Duration("timeout", 5*time.Minute, "stop the query after this `long` (for example 30s, 10m, 1h)")
	if ok, err := parse(fl, args); !ok {
		return err
	}
	sql := strings.Join(fl.Args(), " ")
	if *file != "" {
		if sql != "" {
			return fmt.Errorf("give the SQL either as an argument or with -f, not both")
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		sql = string(b)
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if *timeout <= 0 {
		return fmt.Errorf("--timeout %v: give a positive duration, for example 10m", *timeout)
	}
	n, err := query.Run(ctx, db, sql, query.Options{
		Format: *format, Out: *out, W: stdout, Width: termWidth(stdout), Timeout: *timeout,
		// The output must never replace the database (or its log) or the site key.
		Protected: []string{dbCfg.Path, dbCfg.Path + ".wal", pseudo.DefaultFile()},
	})
	if err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stderr, "Wrote %d rows to %s.\n", n, *out)
	}
	return nil
}

// termWidth is the width of the terminal w writes to, else $COLUMNS, else 120.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	return 120
}
