// Package query runs a researcher's ad-hoc SQL against the database, opened
// read-only, and writes the result as a terminal table, CSV, JSON, an Excel workbook,
// Parquet (by DuckDB) or an Arrow IPC file (by arrow-go). Every writer streams: rows
// are written as they arrive, so a large result is never held in memory.
package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// Formats are the output formats, the first the default.
func Formats() []string { return []string{"table", "csv", "json", "xlsx", "parquet", "arrow"} }

// ErrReadOnly is returned for a statement that would change the database.
var ErrReadOnly = errors.New("queries cannot change the database")

// ErrNotQuery is returned for anything but one SELECT statement.
var ErrNotQuery = errors.New("only one SELECT statement can run here")

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
}

// Run runs one SQL statement on db (which must be opened read-only) and writes its
// result. It returns the number of rows written.
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
	if err := onlyOneSelect(ctx, db, query); err != nil {
		return 0, err
	}
	if opt.Format == "parquet" {
		return parquet(ctx, db, query, opt.Out)
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return 0, explain(err)
	}
	defer rows.Close()
	cols, err := columnsOf(rows)
	if err != nil {
		return 0, explain(err)
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
		n, err = writeXLSX(rows, cols, opt.Out)
	case "arrow":
		n, err = writeArrow(rows, cols, opt.Out)
	default:
		return 0, fmt.Errorf("format %q: use one of %s", opt.Format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return n, explain(err)
	}
	return n, explain(rows.Err())
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
		return fmt.Errorf("%w (SELECT or WITH ... SELECT; SHOW, DESCRIBE, PRAGMA, COPY, ATTACH, SET and changes are refused, or the SQL has a syntax error): the database is read-only for queries; change data with etl, and write files with --format and --out", ErrNotQuery)
	}
	if n != 1 {
		return fmt.Errorf("%w: the SQL holds %d statements; give one", ErrNotQuery, n)
	}
	return nil
}

// explain turns DuckDB's refusal to change a read-only database into ErrReadOnly with
// advice; other errors pass through.
func explain(err error) error {
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeInvalidInput && strings.Contains(de.Msg, "read-only") {
		return fmt.Errorf("%w: the database is opened read-only for queries (%s); load or change data with etl", ErrReadOnly, de.Msg)
	}
	return err
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

func toWriter(opt Options, fn func(io.Writer) (int64, error)) (int64, error) {
	if opt.Out == "" {
		return fn(opt.W)
	}
	f, err := createFile(opt.Out)
	if err != nil {
		return 0, err
	}
	n, err := fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// parquet writes the result with DuckDB's own Parquet writer.
func parquet(ctx context.Context, db *store.DB, query, out string) (int64, error) {
	// The statement was checked to be one SELECT; the line breaks keep a trailing
	// comment from swallowing the closing parenthesis.
	res, err := db.ExecContext(ctx, fmt.Sprintf("COPY (\n%s\n) TO '%s' (FORMAT parquet)", query, strings.ReplaceAll(out, "'", "''")))
	if err != nil {
		return 0, explain(err)
	}
	n, _ := res.RowsAffected()
	return n, restrict(out)
}
