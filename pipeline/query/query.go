// Package query runs a researcher's ad-hoc SQL against the database, opened
// read-only and shut off from the file system, and writes the result as a terminal
// table, CSV, JSON, an Excel workbook, Parquet or an Arrow IPC file (both by
// arrow-go). Every writer streams: rows are written as they arrive, so a large result
// is never held in memory.
package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// Formats are the output formats, the first the default.
func Formats() []string { return []string{"table", "csv", "json", "xlsx", "parquet", "arrow"} }

// ErrReadOnly is returned for a statement that would change the database.
var ErrReadOnly = errors.New("queries cannot change the database")

// ErrNotQuery is returned for anything but one SELECT statement.
var ErrNotQuery = errors.New("only one SELECT statement can run here")

// ErrNoFiles is returned for a query that tries to read or write a file, list a
// folder or load an extension: queries reach the database's tables only.
var ErrNoFiles = errors.New("queries cannot reach files")

// ErrProtected is returned when --out names the database or the site key file.
var ErrProtected = errors.New("the output would replace a file the pipeline needs")

// ErrTimeout is returned for a query stopped because it ran past Options.Timeout.
var ErrTimeout = errors.New("query ran past its time limit")

// Options says how to write a result.
type Options struct {
	Format string
	// Out is the file to write; empty writes table, csv and json to W. xlsx, parquet
	// and arrow need a file.
	Out string
	// W receives table, csv and json output when Out is empty.
	W io.Writer
	// Width is the terminal width for the table format (0 means 120).
	Width int
	// Exact writes CSV text exactly as stored, for programs to read (an extract);
	// otherwise text that a spreadsheet would run as a formula gets a ' before it.
	Exact bool
	// Protected are files that Out must not be (the database, the site key): an Out
	// that is one of them, by any name or link, is refused before anything runs.
	Protected []string
	// Timeout stops the query when it has run this long; zero means no limit.
	Timeout time.Duration
}

// Run runs one SQL statement on db (which must be opened read-only) and writes its
// result. Before it runs anything it shuts the database off from the file system for
// good (store.DB.Seal): the statement can read the database's tables and nothing
// else. A file named by Out is written whole or not at all. It returns the number of
// rows written.
func Run(ctx context.Context, db *store.DB, query string, opt Options) (int64, error) {
	query = strings.TrimSpace(query)
	query = strings.TrimSpace(strings.TrimSuffix(query, ";"))
	if query == "" {
		return 0, errors.New("no SQL given: pass a statement, or -f FILE.sql")
	}
	needsFile := opt.Format == "xlsx" || opt.Format == "parquet" || opt.Format == "arrow"
	if needsFile && opt.Out == "" {
		return 0, fmt.Errorf("format %s writes a file: name it with --out", opt.Format)
	}
	if !slices.Contains(Formats(), opt.Format) && opt.Format != "" {
		return 0, fmt.Errorf("format %q: use one of %s", opt.Format, strings.Join(Formats(), ", "))
	}
	if opt.Out != "" {
		if err := notProtected(opt.Out, opt.Protected); err != nil {
			return 0, err
		}
	}
	if err := db.Seal(ctx); err != nil {
		return 0, err
	}
	if opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Timeout)
		defer cancel()
	}
	if err := onlyOneSelect(ctx, db, query); err != nil {
		return 0, timedOut(ctx, opt, err)
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return 0, timedOut(ctx, opt, explain(err))
	}
	defer rows.Close()
	cols, err := columnsOf(rows)
	if err != nil {
		return 0, timedOut(ctx, opt, explain(err))
	}
	var n int64
	switch opt.Format {
	case "", "table":
		n, err = writeTable(rows, cols, opt.W, opt.Width)
	case "csv":
		n, err = toWriter(opt, func(w io.Writer) (int64, error) { return writeCSV(rows, cols, w, !opt.Exact) })
	case "json":
		n, err = toWriter(opt, func(w io.Writer) (int64, error) { return writeJSON(rows, cols, w) })
	case "xlsx":
		n, err = toWriter(opt, func(w io.Writer) (int64, error) { return writeXLSX(rows, cols, w) })
	case "arrow":
		n, err = toWriter(opt, func(w io.Writer) (int64, error) { return writeArrow(rows, cols, w) })
	case "parquet":
		n, err = toWriter(opt, func(w io.Writer) (int64, error) { return writeParquet(rows, cols, w) })
	}
	if err != nil {
		return n, timedOut(ctx, opt, explain(err))
	}
	return n, nil
}

// timedOut turns the error of a query stopped by its time limit into ErrTimeout.
func timedOut(ctx context.Context, opt Options, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		what := ""
		if opt.Out != "" {
			what = "; nothing was written to " + opt.Out
		}
		return fmt.Errorf("%w: stopped after %v (--timeout)%s; narrow the query (a WHERE, a LIMIT, fewer joins), or give it longer with --timeout", ErrTimeout, opt.Timeout, what)
	}
	return err
}

// notProtected refuses an output file that is one of the protected files, by the
// same name, another path, a symbolic link or a hard link.
func notProtected(out string, protected []string) error {
	oi, err := os.Stat(out)
	if err != nil {
		return nil // a file that does not exist yet is none of them
	}
	for _, p := range protected {
		if p == "" {
			continue
		}
		if pi, err := os.Stat(p); err == nil && os.SameFile(oi, pi) {
			return fmt.Errorf("%w: --out %s is %s; nothing was written: name another output file", ErrProtected, out, p)
		}
	}
	return nil
}

// onlyOneSelect checks, without running anything, that query is exactly one SELECT
// statement (WITH ... SELECT included): DuckDB's own parser serializes SELECT
// statements only. A read-only connection still lets COPY, ATTACH, EXPORT, SET or
// INSTALL write files or reach out, so nothing else may run.
func onlyOneSelect(ctx context.Context, db *store.DB, query string) error {
	var failed bool
	var n int
	// json_serialize_sql takes a constant only: the statement goes in as a string
	// literal, its quotes doubled, which nothing inside it can end.
	literal := "'" + strings.ReplaceAll(query, "'", "''") + "'"
	if err := db.QueryRowContext(ctx, `
		SELECT coalesce(CAST(json_extract(j, '$.error') AS BOOLEAN), true), coalesce(json_array_length(j, '$.statements'), 0)
		FROM (SELECT json_serialize_sql(`+literal+`) AS j)`).Scan(&failed, &n); err != nil {
		return fmt.Errorf("read the statement: %w", err)
	}
	if failed {
		return fmt.Errorf("%w (SELECT or WITH ... SELECT, and DESCRIBE, SUMMARIZE or SHOW of the database's tables; PRAGMA, COPY, ATTACH, INSTALL, LOAD, SET and changes are refused, or the SQL has a syntax error): the database is read-only for queries; change data with etl, and write files with --format and --out", ErrNotQuery)
	}
	if n != 1 {
		return fmt.Errorf("%w: the SQL holds %d statements; give one", ErrNotQuery, n)
	}
	return nil
}

// explain turns DuckDB's refusal to change a read-only database into ErrReadOnly, and
// its refusal to touch the file system into ErrNoFiles, with advice; other errors
// pass through.
func explain(err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	switch {
	case de.Type == duckdb.ErrorTypeInvalidInput && strings.Contains(de.Msg, "read-only"):
		return fmt.Errorf("%w: the database is opened read-only for queries (%s); load or change data with etl", ErrReadOnly, de.Msg)
	case de.Type == duckdb.ErrorTypePermission:
		return fmt.Errorf("%w: reading files (read_csv, read_text, read_parquet, glob), attaching databases, extensions and writing files are refused; query the database's tables, and write results with --format and --out (%s)", ErrNoFiles, firstLine(de.Msg))
	}
	return err
}

// firstLine is the first line of a message, without DuckDB's pointer to the SQL.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// column is a result column: its name and DuckDB type name.
type column struct {
	name, typ string
}

func columnsOf(rows *sql.Rows) ([]column, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]column, len(types))
	for i, t := range types {
		cols[i] = column{name: t.Name(), typ: t.DatabaseTypeName()}
	}
	return cols, nil
}

// scan reads the next row into a slice of values.
func scan(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// toWriter runs fn on opt.W, or on the file opt.Out: fn writes a temporary file
// beside it, readable by its owner only (results come from protected health
// information), which replaces Out only when fn succeeded. A failed or stopped query
// leaves Out as it was.
func toWriter(opt Options, fn func(io.Writer) (int64, error)) (int64, error) {
	if opt.Out == "" {
		return fn(opt.W)
	}
	f, err := os.CreateTemp(filepath.Dir(opt.Out), "."+filepath.Base(opt.Out)+".*.partial")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", opt.Out, err)
	}
	tmp := f.Name()
	n, err := fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, opt.Out)
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}
