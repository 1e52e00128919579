package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/profile"
)

// file loads one export file. A problem with the file itself (empty, a required
// column missing) is a failed FileResult, not an error; an error fails the run.
func (r *run) file(ctx context.Context, f File, seen map[string]bool) (FileResult, error) {
	fr := FileResult{Path: f.Name(), Entity: f.Entity.Name}
	var size0 int64
	if info, err := os.Stat(f.Path); err == nil {
		size0 = info.Size()
	}
	r.stage(f.Name(), size0, "hashing")
	start := time.Now()
	e, err := r.open(f.Path)
	if err != nil {
		return fr, fmt.Errorf("read %s: %w", f.Path, err)
	}
	sum, size, blanks, err := r.scan(f.Path)
	r.opt.Log.Debug("hash "+f.Name(), "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fr, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if f.Sheet != "" {
		sum = sheetSum(sum, f.Sheet)
	}
	fr.SHA256, fr.Bytes = sum, size
	dup, err := r.count(ctx, `SELECT count(*) FROM load_files WHERE sha256 = ?`, sum)
	if err != nil {
		return fr, err
	}
	if dup > 0 || seen[sum] {
		fr.Status = StatusSkipped
		fr.Message = "a file with the same content was loaded before"
		return fr, nil
	}
	seen[sum] = true
	r.lastFile++
	fid := r.lastFile
	if err := r.dropScratch(ctx); err != nil {
		return fr, err
	}

	r.stage(f.Name(), size0, "reading")
	// The staging model's date macros are made before the read: a file the reader
	// stages as it reads (stageCSV) calls them then.
	if err := r.dateMacros(ctx, f); err != nil {
		return fr, err
	}
	cols, failed, err := r.readSource(ctx, f, blanks, &fr, true)
	if err != nil {
		return fr, err
	}
	if failed == nil && e.changed(f.Sheet != "") {
		// What was read may not be what was hashed: refuse the file, and record no
		// hash for it, so that neither its old nor its new content counts as loaded.
		if failed, err = r.changedFile(ctx, f, &fr); err != nil {
			return fr, err
		}
	}
	if failed != nil {
		return r.failFile(ctx, f, fr, fid, failed)
	}
	r.stage(f.Name(), size0, "validating")
	if r.rows != "stg" {
		start = time.Now()
		if f.Table.Model != "" {
			// Only a table's own model joins the pseudonym table (a lookup by original
			// identifier is a lookup by pseudonym): the canonical staging models read
			// identifiers already keyed, and listing them would cost a pass over the rows.
			if err := r.pseudonymize(ctx, f, cols); err != nil {
				return fr, err
			}
		}
		if err := r.mapSource(ctx, f); err != nil {
			return fr, err
		}
		r.opt.Log.Debug("pseudonymize "+f.Name(), "took", time.Since(start).Round(time.Millisecond))
		if err := r.exec(ctx, "stage "+f.Name(), "CREATE TEMP TABLE stg AS "+f.Table.Staging); err != nil {
			return fr, err
		}
	}
	if err := r.exec(ctx, "record rejects of "+f.Name(), `
		INSERT INTO rejects
		SELECT ?, ?, ?, line,
		       NULL, NULL, 'malformed_row',
		       CASE error_type
		           WHEN 'MISSING COLUMNS' THEN 'the row has fewer fields than the header; look for a missing comma or a line break inside an unquoted field'
		           WHEN 'TOO MANY COLUMNS' THEN 'the row has more fields than the header; quote fields that contain commas'
		           WHEN 'CELLS BEYOND HEADER' THEN 'the row has text in cells to the right of the header''s last column; delete it, or give the column a header'
		           WHEN 'UNQUOTED VALUE' THEN 'a quote appears inside an unquoted field; quote the field and double the quote'
		           WHEN 'INVALID ENCODING' THEN 'the row is not valid UTF-8 text; export the file as UTF-8'
		           WHEN 'INVALID UNICODE' THEN 'the row is not valid UTF-8 text; export the file as UTF-8'
		           WHEN 'LINE SIZE OVER MAXIMUM' THEN 'the row is longer than the longest row allowed; check for a missing closing quote'
		           ELSE 'the row cannot be read as CSV (' || lower(error_type) || '); check quoting and delimiters'
		       END
		FROM (SELECT line, min(error_type) AS error_type FROM csv_errors GROUP BY line)
		ORDER BY line`, r.id, fid, f.Name()); err != nil {
		return fr, err
	}
	if err := r.exec(ctx, "record rejects of "+f.Name(), `
		INSERT INTO rejects
		SELECT ?, ?, ?, line, f[1], nullif(f[2], ''), f[3], f[4]
		FROM (SELECT line, string_split(p, chr(31)) AS f
		      FROM (SELECT line, unnest(string_split(problems, chr(30))) AS p FROM stg WHERE problems <> ''))
		ORDER BY line`, r.id, fid, f.Name()); err != nil {
		return fr, err
	}

	if r.unkeyed {
		if err := r.exec(ctx, "record rejects of "+f.Name(), `
		INSERT INTO rejects
		SELECT ?, ?, ?, line, col, NULL, 'malformed_row',
		       col || ' holds a quote, comma or line break, or is not UTF-8 text, so it cannot be read as an identifier (or a broken quote on a row above made the reader lose its place); correct the row in the export'
		FROM temp.unkeyed
		ORDER BY line`, r.id, fid, f.Name()); err != nil {
			return fr, err
		}
	}

	r.stage(f.Name(), size0, "writing")
	counts, err := r.apply(ctx, f, fid)
	if err != nil {
		return fr, err
	}
	fr.Status = StatusLoaded
	fr.Inserted, fr.Updated, fr.Duplicate = counts.inserted, counts.updated, counts.duplicate
	if err := r.measure(ctx, &fr, fid, f.Entity.Name); err != nil {
		return fr, err
	}
	if fr.Loaded != fr.Inserted+fr.Updated {
		return fr, fmt.Errorf("%w: %s: %d rows carry this file's id, but %d were inserted or updated",
			ErrUnbalanced, f.Name(), fr.Loaded, fr.Inserted+fr.Updated)
	}
	if fr.Read != fr.Loaded+fr.Rejected+fr.Duplicate {
		return fr, fmt.Errorf("%w: %s: read %d, loaded %d, rejected %d, duplicate %d",
			ErrUnbalanced, f.Name(), fr.Read, fr.Loaded, fr.Rejected, fr.Duplicate)
	}
	return fr, r.record(ctx, fr, fid)
}

// dropScratch drops the temp tables of a file, before the next one and at the end.
func (r *run) dropScratch(ctx context.Context) error {
	r.unkeyed = false
	r.rows = "src"
	for _, t := range []string{"src", "stg", "rep", "matched", "pseudo", "shifts", "blank_lines", "csv_errors", "csv_scans", "mapped", "unkeyed"} {
		if _, err := r.conn.ExecContext(ctx, "DROP TABLE IF EXISTS temp."+t); err != nil {
			return fmt.Errorf("drop scratch table %s: %w", t, err)
		}
	}
	for _, v := range []string{"raw", "source"} {
		if _, err := r.conn.ExecContext(ctx, "DROP VIEW IF EXISTS temp."+v); err != nil {
			return fmt.Errorf("drop scratch view: %w", err)
		}
	}
	return nil
}

// failure says why a file is refused whole: the reject's message, and for a CSV file
// the header's width and the lines before it, to count its rows.
type failure struct {
	why         string
	ncols, skip int
	// reason is the reject's reason; empty means failReason(why).
	reason string
	// counted is set when fr.Read already holds the file's rows.
	counted bool
}

// ReasonFileChanged is the reason of a file that was written while it was loaded.
const ReasonFileChanged = "file_changed"

// ReasonMixedLineEndings is the reason of a file whose line endings change part-way,
// which DuckDB's reader cannot read.
const ReasonMixedLineEndings = "mixed_line_endings"

// changedFile refuses a file that changed while it was read: its rows, as read, count
// as rejected, and the ledger records no hash for it.
func (r *run) changedFile(ctx context.Context, f File, fr *FileResult) (*failure, error) {
	q := `SELECT (SELECT count(*) FROM ` + r.rows + `) + (SELECT count(DISTINCT line) FROM csv_errors)`
	if f.Sheet != "" {
		q = `SELECT count(*) FROM src`
	}
	n, err := r.count(ctx, q)
	if err != nil {
		return nil, err
	}
	fr.Read, fr.SHA256 = n, ""
	return &failure{
		why:     "the file changed while it was being loaded (written to, or replaced, by another program); load it again once the export is complete",
		reason:  ReasonFileChanged,
		counted: true,
	}, nil
}

// readSource reads a CSV file or a sheet into the temp table src and makes the view
// raw over it; with stage, a CSV file that stageCSV can stage as it is read goes
// straight to the temp table stg instead (r.rows says which). It returns where each
// column of the table is in the header, or why the file is refused whole (with
// fr.Read set when the rows were counted).
func (r *run) readSource(ctx context.Context, f File, blanks *blankLines, fr *FileResult, stage bool) (map[string]int, *failure, error) {
	if f.Sheet != "" {
		header, at, err := sheetHeader(f)
		var cols map[string]int
		if err == nil {
			cols, err = mapHeader(f, header)
		}
		if err != nil {
			if at > 0 {
				n, cerr := countSheetRows(f, at)
				if cerr != nil {
					return nil, nil, fmt.Errorf("read %s: %w", f.Name(), cerr)
				}
				fr.Read = n
			}
			return nil, &failure{why: err.Error()}, nil
		}
		if _, err := r.readSheet(ctx, f, header, at, cols); err != nil {
			return nil, nil, err
		}
		return cols, nil, r.rawView(ctx, f, "SELECT line, * EXCLUDE (line) FROM src", false)
	}
	e, err := r.open(f.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	header, err := readHeaderFrom(e.reader())
	var cols map[string]int
	if err == nil {
		cols, err = mapHeader(f, header)
	}
	if err != nil {
		return nil, &failure{why: err.Error(), ncols: len(header), skip: blanks.Leading}, nil
	}
	staged := false
	if stage && f.Table.Model == "" && !blanks.quotes && !r.opt.readThenStage {
		staged, err = r.stageCSV(ctx, f, e, header, cols, blanks)
	}
	if err == nil && !staged {
		err = r.readCSV(ctx, f, e, header, cols, blanks)
	}
	if err != nil {
		var de *duckdb.Error
		gaveUp := errors.Is(err, errLineEnds) || errors.As(err, &de) && de.Type == duckdb.ErrorTypeInvalidInput
		if ctx.Err() != nil || !gaveUp {
			return nil, nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		// DuckDB's reader gave up on the file as a whole: refuse this file alone,
		// its lines after the header counted as rejected rows. DuckDB's message is
		// not repeated: it can quote a line of the file.
		fr.Read = max(0, blanks.Text-1)
		if blanks.mixedEndings() {
			return nil, &failure{why: "the file's lines end in more than one way (CRLF, LF or CR alone) part-way through, so it cannot be read as CSV; save it again with one kind of line ending",
				reason: ReasonMixedLineEndings, counted: true}, nil
		}
		return nil, &failure{why: "the file cannot be read as CSV (the reader stopped part-way); check its quoting, delimiters and line endings, and save it again as UTF-8 CSV",
			counted: true}, nil
	}
	// A file with lines of text after its header from which the reader got neither
	// a row nor an error was not read (mixed line endings do this): refuse it rather
	// than report it empty.
	if blanks.Text > 1 {
		got, err := r.count(ctx, `SELECT (SELECT count(*) FROM `+r.rows+`) + (SELECT count(*) FROM csv_errors)`)
		if err != nil {
			return nil, nil, err
		}
		if got == 0 {
			fr.Read = blanks.Text - 1
			return nil, &failure{why: "no rows could be read although the file has lines after its header; check that every line ends the same way (all CRLF or all LF) and that quotes are balanced"}, nil
		}
	}
	return cols, nil, nil
}

// fileHeader returns the header of a file or sheet, lower case.
func fileHeader(f File) ([]string, error) {
	if f.Sheet != "" {
		h, _, err := sheetHeader(f)
		return h, err
	}
	return readHeader(f.Path)
}

func mapHeaderErr(f File, header []string) error {
	_, err := mapHeader(f, header)
	return err
}

// mapHeader finds each column of the source table in the header. A required column
// that is missing, or a column named twice, refuses the file.
func mapHeader(f File, header []string) (map[string]int, error) {
	at := map[string]int{}
	for i, h := range header {
		if j, dup := at[h]; dup && h != "" {
			for _, c := range f.Table.Columns {
				if c.Header == h {
					return nil, fmt.Errorf("column %s appears twice in the header (columns %d and %d); keep one", h, j+1, i+1)
				}
			}
			continue
		}
		at[h] = i
	}
	cols := map[string]int{}
	var missing []string
	for _, c := range f.Table.Columns {
		i, ok := at[c.Header]
		ok = ok && c.Header != ""
		switch {
		case ok:
			cols[c.Name] = i
		case !c.Optional:
			missing = append(missing, c.Header)
		}
	}
	if len(missing) > 0 {
		where := fmt.Sprintf("the %s layout is in the README", f.Entity.Name)
		if f.Table.Staging != "" && f.Table.Source != f.Entity.Name {
			where = "the profile names the columns it reads"
		}
		return nil, fmt.Errorf("required column %s missing from the header; add it to the export (%s)",
			strings.Join(missing, ", "), where)
	}
	return cols, nil
}

// quoteIdent quotes a column name for SQL.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString makes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// csvSource is the read_csv call for a file with n header columns, named c0..cN-1,
// all read as text so that the staging model decides what a bad value is. Rows that
// are not CSV of that shape go to the temp table csv_errors.
func csvSource(n, skip int) string { return readCSVOf("$1", false, n, skip) }

// numberedSource is csvSource for the copy at path (a file name, which a view can
// hold where it cannot hold a parameter) whose records begin with their numbers
// (keyedCSV.number), read as the column line.
func numberedSource(path string, n, skip int) string {
	return readCSVOf(quoteString(path), true, n, skip)
}

func readCSVOf(path string, numbered bool, n, skip int) string {
	var b strings.Builder
	if numbered {
		b.WriteString("'line': 'BIGINT', ")
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'c%d': 'VARCHAR'", i)
	}
	return fmt.Sprintf(`read_csv(%s, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', skip = %d,
		columns = {%s}, max_line_size = %d, store_rejects = true, rejects_table = 'csv_errors', rejects_scan = 'csv_scans')`, path, skip, b.String(), maxLine)
}

// trimmed is the SQL of a text value trimmed, NULL when empty. DuckDB's trim drops
// the Unicode space separators (Zs) at either end; in a value of ASCII text only the
// space is one, so a value that is ASCII (as many bytes as characters) and neither
// starts nor ends with a space is left as it is, without trim: most values are, and
// the test costs a third of trim (the largest part of staging, profiled at 1M rows).
func trimmed(v string) string {
	return fmt.Sprintf("CASE WHEN strlen(%[1]s) = length(%[1]s) AND NOT starts_with(%[1]s, ' ') AND NOT ends_with(%[1]s, ' ') THEN nullif(%[1]s, '') ELSE nullif(trim(%[1]s), '') END", v)
}

// rawView makes the view raw over rows that have a line and the table's columns:
// every value trimmed, empty ones NULL, and codes the profile maps replaced by the
// canonical ones. An identifier column holds pseudonyms, keyed as read. With check
// (a CSV file with quoted fields or masked identifiers, keyedCSV.unsure), it may
// also hold text the copy of the file masked (an identifier that could not be keyed
// in place, or rows DuckDB's reader took up elsewhere than the copy after a broken
// quote): such rows go to the temp table unkeyed (line, column), to be refused, and
// not to raw.
func (r *run) rawView(ctx context.Context, f File, from string, check bool) error {
	if check {
		// A pseudonym is 32 characters of 0-9a-f; a blank identifier is empty.
		var ids []string
		for _, c := range f.Table.Columns {
			if c.Pseudonym != "" {
				ids = append(ids, fmt.Sprintf("CASE WHEN %[1]s <> '' AND NOT regexp_full_match(%[1]s, '[0-9a-f]{32}') THEN %[2]s END",
					"src."+quoteIdent(c.Name), quoteString(c.Header)))
			}
		}
		if len(ids) > 0 {
			if err := r.exec(ctx, "check identifiers", fmt.Sprintf(
				`CREATE TEMP TABLE unkeyed AS SELECT * FROM (SELECT line, coalesce(%s) AS col FROM (%s) src) WHERE col IS NOT NULL`,
				strings.Join(ids, ", "), from)); err != nil {
				return err
			}
			r.unkeyed = true
			n, err := r.count(ctx, `SELECT count(*) FROM unkeyed`)
			if err != nil {
				return err
			}
			if n > 0 {
				from = fmt.Sprintf(`SELECT * FROM (%s) src ANTI JOIN unkeyed u ON src.line = u.line`, from)
			}
		}
	}
	var values []string
	for _, c := range f.Table.Columns {
		v := trimmed("src." + quoteIdent(c.Name))
		if c.Pseudonym != "" {
			v = "nullif(src." + quoteIdent(c.Name) + ", '')" // a pseudonym, or empty
		}
		if m := f.Table.Codes[c.Name]; len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			fmt.Fprintf(&b, "CASE lower(%s)", v)
			for _, k := range keys {
				fmt.Fprintf(&b, " WHEN %s THEN %s", quoteString(k), quoteString(m[k]))
			}
			fmt.Fprintf(&b, " ELSE %s END", v)
			v = b.String()
		}
		values = append(values, v+" AS "+quoteIdent(c.Name))
	}
	return r.exec(ctx, "number lines", fmt.Sprintf("CREATE TEMP VIEW %s AS SELECT line, %s FROM (%s) src", f.Table.Reads(), strings.Join(values, ", "), from))
}

// errLineEnds says that the file's line ends change kind outside quotes, where
// DuckDB's reader gives up on a file (keyedCSV.mixed).
var errLineEnds = errors.New("the line ends change kind")

// readCSV reads the file into the temp table src (one VARCHAR column per column of
// the table; absent optional columns are NULL) and makes the view raw over it with
// each row's line number. DuckDB reads a copy of the file in which identifiers are
// already pseudonyms and the columns the profile does not name are masked
// (keyedcsv.go): no original identifier, and nothing of an unread column, ever
// enters DuckDB's memory, which it may spill to disk.
func (r *run) readCSV(ctx context.Context, f File, e *export, header []string, cols map[string]int, blanks *blankLines) error {
	rules, kinds, sel := csvColumns(f, header, cols)
	k, err := r.readKeyed(e, rules, kinds, blanks.Leading, false, func(path string) error {
		return r.exec(ctx, "read "+f.Path, "CREATE TEMP TABLE src AS SELECT "+strings.Join(sel, ", ")+" FROM "+csvSource(len(header), blanks.Leading), path)
	})
	if err != nil {
		return err
	}
	if k.mixed {
		return errLineEnds
	}
	check := k.unsure()
	// A row's line is its position in src plus the lines up to the header and the
	// lines before it that hold no row: malformed rows (csv_errors lists them by
	// line) and empty lines (DuckDB skips them; blanks lists them).
	bad, err := r.count(ctx, `SELECT count(*) FROM csv_errors`)
	if err != nil {
		return err
	}
	first := blanks.Leading + 2 // the line of the first data row
	if bad == 0 && len(blanks.After) == 0 {
		return r.rawView(ctx, f, fmt.Sprintf(`SELECT rowid + %d AS line, * FROM src`, first), check)
	}
	if err := r.exec(ctx, "note empty lines", `CREATE TEMP TABLE blank_lines AS SELECT unnest(?::BIGINT[]) AS line`, blanks.After); err != nil {
		return err
	}
	if err := r.exec(ctx, "number lines", fmt.Sprintf(`
		CREATE TEMP TABLE shifts AS
		SELECT line - %d - (j - 1) AS from_rowid, max(j) AS shift
		FROM (SELECT line, row_number() OVER (ORDER BY line) AS j
		      FROM (SELECT line FROM csv_errors UNION SELECT line FROM blank_lines))
		GROUP BY from_rowid`, first)); err != nil {
		return err
	}
	return r.rawView(ctx, f, fmt.Sprintf(`
		SELECT src.rowid + %d + coalesce(s.shift, 0) AS line, src.*
		FROM src ASOF LEFT JOIN shifts s ON src.rowid >= s.from_rowid`, first), check)
}

// csvColumns gives the copy's rule and pseudonym kind of each column of the header,
// and the select list that names the columns of the table (c0.. as read; NULL for
// an absent optional column).
func csvColumns(f File, header []string, cols map[string]int) ([]colRule, []string, []string) {
	rules := make([]colRule, len(header))
	kinds := make([]string, len(header))
	var sel []string
	for _, c := range f.Table.Columns {
		i, ok := cols[c.Name]
		if !ok {
			sel = append(sel, "NULL::VARCHAR AS "+quoteIdent(c.Name))
			continue
		}
		rules[i], kinds[i] = keepCol, c.Pseudonym
		if c.Pseudonym != "" {
			rules[i] = keyCol
		}
		sel = append(sel, fmt.Sprintf("c%d AS %s", i, quoteIdent(c.Name)))
	}
	return rules, kinds, sel
}

// stageCSV reads a file without a double quote and stages it in the same pass: the
// staging model reads the view raw straight from DuckDB's reader into the temp
// table stg, and the rows are never held as read (the table src of readCSV), which
// at millions of rows costs as much as the staging. Without quotes every line end
// ends a record, so the copy numbers the records itself (keyedCSV.number) for the
// line of each row. It reports false, having left no table behind, when it cannot
// vouch for what it staged, and readCSV then reads the file as usual: an identifier
// the copy masked (a row rawView refuses), or rows and malformed rows that do not
// add up to the records the copy numbered. Each staging model reads raw once, as
// a pipe can be read only once.
func (r *run) stageCSV(ctx context.Context, f File, e *export, header []string, cols map[string]int, blanks *blankLines) (bool, error) {
	rules, kinds, sel := csvColumns(f, header, cols)
	k, err := r.readKeyed(e, rules, kinds, blanks.Leading, true, func(path string) error {
		from := fmt.Sprintf("SELECT line, %s FROM %s", strings.Join(sel, ", "), numberedSource(path, len(header), blanks.Leading))
		if err := r.rawView(ctx, f, from, false); err != nil {
			return err
		}
		// DuckDB cannot tell how many rows a pipe holds and takes it for a few: left
		// to reorder the joins, it builds its hash tables on the file's millions of
		// rows and runs out of memory. As written, every join of a staging model
		// probes with the file's rows (FROM raw LEFT JOIN a small table).
		if err := r.exec(ctx, "keep the joins as written", "SET disabled_optimizers = 'join_order,build_side_probe_side'"); err != nil {
			return err
		}
		defer r.exec(ctx, "let the joins be reordered", "RESET disabled_optimizers")
		return r.exec(ctx, "read and stage "+f.Path, "CREATE TEMP TABLE stg AS "+f.Table.Staging)
	})
	var de *duckdb.Error
	if err != nil && (ctx.Err() != nil || !errors.As(err, &de)) {
		return false, err
	}
	if k.mixed {
		// DuckDB's reader gives up on the file whichever way it is read.
		return false, errLineEnds
	}
	sure := err == nil && !k.unsure()
	if sure {
		n, err := r.count(ctx, `SELECT (SELECT count(*) FROM stg) + (SELECT count(DISTINCT line) FROM csv_errors)`)
		if err != nil {
			return false, err
		}
		sure = n == k.numbered
	}
	if !sure {
		r.opt.Log.Debug("read again before staging", "file", f.Path, "error", err, "unsure", k.unsure())
		return false, r.dropScratch(ctx)
	}
	// The view raw names the pipe, which is closed.
	if err := r.exec(ctx, "drop the view raw", "DROP VIEW temp.raw"); err != nil {
		return false, err
	}
	r.rows = "stg"
	return true, nil
}

// dateMacros makes iso_date and check_date, which the staging models call, read the
// dates of this table as its profile writes them (macros.sql: parse_date) and refuse
// a date after the load day (future_date), and
// anchor_date() give day 0 of a profile whose dates are day counts. A workbook's date
// cells are serial numbers, which are read too, in the workbook's date system; and
// iso_time read a time of day, in a sheet also a time cell's fraction of a day.
func (r *run) dateMacros(ctx context.Context, f File) error {
	anchor := "NULL::DATE"
	if f.Table.DateFormat == profile.DayCount {
		anchor = "DATE " + quoteString(f.Table.Anchor.Format(time.DateOnly))
	}
	base := "NULL::DATE" // a CSV file has no date serials
	if f.Sheet != "" {
		base = "DATE '1899-12-30'"
		if r.date1904[f.Path] {
			base = "DATE '1904-01-01'"
		}
	}
	sig := fmt.Sprintf("%s|%s|%s", f.Table.DateFormat, anchor, base)
	if sig == r.dates {
		return nil
	}
	format := quoteString(f.Table.DateFormat)
	if err := r.exec(ctx, "date macros", fmt.Sprintf(`
		CREATE OR REPLACE TEMP MACRO anchor_date() AS %s;
		CREATE OR REPLACE TEMP MACRO iso_date(v) AS parse_date(v, %s, %s, %s);
		CREATE OR REPLACE TEMP MACRO check_date(col, v) AS
		    CASE WHEN v IS NOT NULL AND iso_date(v) IS NULL THEN date_problem(col, v, %s)
		         WHEN iso_date(v) > load_day() THEN future_problem(col, v) END;
		CREATE OR REPLACE TEMP MACRO iso_time(v) AS time_of(v, %t);`,
		anchor, format, anchor, base, format, f.Sheet != "")); err != nil {
		return err
	}
	r.dates = sig
	return nil
}

// readLookups reads the source tables that staging models read whole into temp
// tables lookup_<source>, before any file is staged; r.lookups holds their names
// quoted. Their files are also loaded as usual, each in its turn.
func (r *run) readLookups(ctx context.Context, files []File) error {
	for _, t := range r.prof.Tables {
		if !r.prof.IsLookup(t) {
			continue
		}
		// The source is the profile's text: it names the table only as a quoted
		// identifier, never as SQL.
		name := quoteIdent("lookup_" + strings.ToLower(t.Source))
		r.lookups = append(r.lookups, name)
		made := false
		for _, f := range files {
			if f.Table != t {
				continue
			}
			if err := r.dropScratch(ctx); err != nil {
				return err
			}
			_, blanks, err := r.scanBlanks(f)
			if err != nil {
				return err
			}
			var fr FileResult
			_, failed, err := r.readSource(ctx, f, blanks, &fr, false)
			if err != nil {
				return err
			}
			if failed != nil {
				continue // the file's own load refuses it with the reason
			}
			q := "INSERT INTO " + name + " SELECT * FROM " + f.Table.Reads()
			if !made {
				q = "CREATE TEMP TABLE " + name + " AS SELECT * FROM " + f.Table.Reads()
				made = true
			}
			if err := r.exec(ctx, "read lookup "+f.Name(), q); err != nil {
				return err
			}
		}
		if !made {
			// No file of the table was given: the staging models see it empty.
			var defs []string
			for _, c := range t.Columns {
				defs = append(defs, quoteIdent(c.Name)+" VARCHAR")
			}
			if err := r.exec(ctx, "make lookup "+name, "CREATE TEMP TABLE "+name+" (line BIGINT, "+strings.Join(defs, ", ")+")"); err != nil {
				return err
			}
		}
	}
	return r.dropScratch(ctx)
}

// mapSource runs the model of a table that has one: its rows, one per source row,
// become the view raw that the canonical staging model reads. A model that drops,
// repeats or invents rows, or leaves out a column, is a defect of the profile and
// fails the run.
func (r *run) mapSource(ctx context.Context, f File) error {
	if f.Table.Model == "" {
		return nil
	}
	if err := r.exec(ctx, "map "+f.Name(), "CREATE TEMP TABLE mapped AS "+f.Table.Model); err != nil {
		return fmt.Errorf("profile %s, table %s: %w", r.prof.Name, f.Table.Source, err)
	}
	var rows, lines, source int64
	if err := r.conn.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT line), (SELECT count(*) FROM source) FROM mapped`).Scan(&rows, &lines, &source); err != nil {
		return fmt.Errorf("profile %s, table %s: the model must return line: %w", r.prof.Name, f.Table.Source, err)
	}
	if rows != source || lines != source {
		return fmt.Errorf("profile %s, table %s: the model returned %d rows (%d distinct lines) for %d source rows; it must return one row per source row",
			r.prof.Name, f.Table.Source, rows, lines, source)
	}
	// The canonical staging models take the identifier columns of raw as pseudonyms.
	// A model's identifier is kept only when it is one the file's keyed columns gave
	// (a row of pseudo), so that a model that passes an original through, or makes one
	// up, stores nothing of it.
	var sel, joins []string
	for i, c := range f.Entity.Columns {
		v := fmt.Sprintf("nullif(trim(CAST(m.%s AS VARCHAR)), '')", quoteIdent(c.Name))
		if c.Pseudonym != "" {
			joins = append(joins, fmt.Sprintf("LEFT JOIN pseudo k%d ON k%d.kind = %s AND k%d.id = %s", i, i, quoteString(c.Pseudonym), i, v))
			v = fmt.Sprintf("k%d.key", i)
		}
		sel = append(sel, v+" AS "+quoteIdent(c.Name))
	}
	if err := r.exec(ctx, "map "+f.Name(), "CREATE TEMP VIEW raw AS SELECT m.line, "+strings.Join(sel, ", ")+" FROM mapped m "+strings.Join(joins, " ")); err != nil {
		return fmt.Errorf("profile %s, table %s: the model must return every column of %s: %w", r.prof.Name, f.Table.Source, f.Entity.Name, err)
	}
	return nil
}

// open opens an export file once per run; it stays open until the run ends.
func (r *run) open(p string) (*export, error) {
	if e, ok := r.exports[p]; ok {
		return e, nil
	}
	e, err := openExport(p)
	if err != nil {
		return nil, err
	}
	r.exports[p] = e
	return e, nil
}

// closeExports closes the files of the run.
func (r *run) closeExports() {
	for _, e := range r.exports {
		e.Close()
	}
}

// scan reads a file once per run for its hash, size and blank lines: the sheets of a
// workbook share one read. A file prefetch has begun to scan is waited for.
func (r *run) scan(p string) (string, int64, *blankLines, error) {
	s, ok := r.scans[p]
	if !ok {
		e, err := r.open(p)
		if err != nil {
			return "", 0, nil, err
		}
		s = &scanned{done: make(chan struct{})}
		r.scans[p] = s
		s.fill(e.reader())
	}
	<-s.done
	return s.sum, s.size, s.blanks, s.err
}

// scanned is the scan of a file (run.scan), ready once done is closed.
type scanned struct {
	sum    string
	size   int64
	blanks *blankLines
	err    error
	done   chan struct{}
}

// fill scans the file and marks the scan ready.
func (s *scanned) fill(in io.Reader) {
	s.sum, s.size, s.blanks, s.err = scanFile(in)
	close(s.done)
}

// prefetch opens the files of the run and scans them one after the other, in the
// order they load, on a goroutine of its own, until ctx ends: the hash that decides
// whether a file is loaded at all is ready, or nearly, when the file's turn comes,
// computed on the core that the load of the files before it left idle. A file that
// cannot be opened is left to its turn, which reports it.
func (r *run) prefetch(ctx context.Context, files []File) {
	type job struct {
		s  *scanned
		in io.Reader
	}
	var jobs []job
	for _, f := range files {
		if _, ok := r.scans[f.Path]; ok {
			continue
		}
		e, err := r.open(f.Path)
		if err != nil {
			continue
		}
		s := &scanned{done: make(chan struct{})}
		r.scans[f.Path] = s
		jobs = append(jobs, job{s, e.reader()})
	}
	go func() {
		for _, j := range jobs {
			if err := ctx.Err(); err != nil {
				j.s.err = err
				close(j.s.done)
				continue
			}
			j.s.fill(j.in)
		}
	}()
}

// scanBlanks finds the blank lines of a CSV file (none for a sheet).
func (r *run) scanBlanks(f File) (string, *blankLines, error) {
	if f.Sheet != "" {
		return "", &blankLines{}, nil
	}
	sum, _, b, err := r.scan(f.Path)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	return sum, b, nil
}

// pseudonymize fills the temp table pseudo (kind, id, key), which the staging models
// join to find an identifier's pseudonym, from the identifier columns of the file.
// Their values were keyed as they were read (readCSV, readSheet), so id and key are
// the same pseudonym: no original identifier is in any table, temp tables included.
func (r *run) pseudonymize(ctx context.Context, f File, cols map[string]int) error {
	if err := r.exec(ctx, "make pseudonym table", `CREATE TEMP TABLE pseudo (kind VARCHAR, id VARCHAR, key VARCHAR)`); err != nil {
		return err
	}
	for _, c := range f.Table.Columns {
		if _, ok := cols[c.Name]; !ok || c.Pseudonym == "" {
			continue
		}
		col := quoteIdent(c.Name)
		if err := r.exec(ctx, "list pseudonyms of "+f.Name(), fmt.Sprintf(
			`INSERT INTO pseudo SELECT DISTINCT ?, %s, %s FROM %s WHERE %s IS NOT NULL`,
			col, col, f.Table.Reads(), col), c.Pseudonym); err != nil {
			return err
		}
	}
	return nil
}

// failFile records a file refused whole: all its rows count as rejected, with one
// reject at the header line that says why.
func (r *run) failFile(ctx context.Context, f File, fr FileResult, fid int, failed *failure) (FileResult, error) {
	why := failed.why
	reason := failed.reason
	if reason == "" {
		reason = failReason(why)
	}
	fr.Status = StatusFailed
	fr.Message = why
	// The rows of a refused file are counted as CSV records when its header could be
	// read, else as its lines after the first, so that they count as rejected. A
	// sheet's rows were counted when it was read.
	counted := fr.Read > 0 || f.Sheet != "" || failed.counted
	e, err := r.open(f.Path)
	if err != nil {
		return fr, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if !counted && failed.ncols > 0 {
		// DuckDB counts the rows of a copy with every column masked.
		var n int64
		_, err := r.readKeyed(e, nil, nil, failed.skip, false, func(path string) (err error) {
			n, err = r.count(ctx, "SELECT count(*) FROM "+csvSource(failed.ncols, failed.skip), path)
			return err
		})
		if err == nil {
			bad, err2 := r.count(ctx, `SELECT count(DISTINCT line) FROM csv_errors`)
			if err2 == nil {
				fr.Read, counted = n+bad, true
			}
		}
	}
	if !counted {
		lines, err := countLines(e.reader())
		if err != nil {
			return fr, fmt.Errorf("read %s: %w", f.Path, err)
		}
		fr.Read = max(0, lines-1)
	}
	fr.Rejected = fr.Read
	if err := r.exec(ctx, "record rejects of "+fr.Path, `INSERT INTO rejects VALUES (?, ?, ?, 1, NULL, NULL, ?, ?)`,
		r.id, fid, fr.Path, reason, why); err != nil {
		return fr, err
	}
	fr.Reasons = map[string]int64{reason: 1}
	return fr, r.record(ctx, fr, fid)
}

// countLines counts the lines of a file; a last line without a line end counts when
// it holds more than NUL, carriage-return or space bytes (a UTF-16 file ends in a NUL
// after its last line end).
func countLines(f io.Reader) (int64, error) {
	buf := make([]byte, 1<<16)
	var n int64
	last := byte('\n')
	for {
		k, err := f.Read(buf)
		for _, c := range buf[:k] {
			switch c {
			case '\n':
				n++
				last = c
			case 0, '\r', ' ':
			default:
				last = c
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

func failReason(why string) string {
	if strings.Contains(why, "missing from the header") {
		return "missing_column"
	}
	return "malformed_file"
}

// measure counts, independently of the steps that wrote them, the rows the file put
// in the core table and in rejects, and the rows it had.
func (r *run) measure(ctx context.Context, fr *FileResult, fid int, table string) error {
	var err error
	if fr.Loaded, err = r.count(ctx, fmt.Sprintf(`SELECT count(*) FROM main.%s WHERE load_file_id = ?`, table), fid); err != nil {
		return err
	}
	if fr.Rejected, err = r.count(ctx, `SELECT count(DISTINCT line) FROM rejects WHERE file_id = ?`, fid); err != nil {
		return err
	}
	good, err := r.count(ctx, `SELECT count(*) FROM `+r.rows)
	if err != nil {
		return err
	}
	bad, err := r.count(ctx, `SELECT count(DISTINCT line) FROM csv_errors`)
	if err != nil {
		return err
	}
	fr.Read = good + bad
	rows, err := r.conn.QueryContext(ctx, `SELECT reason, count(*) FROM rejects WHERE file_id = ? GROUP BY reason ORDER BY reason`, fid)
	if err != nil {
		return fmt.Errorf("count rejects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return fmt.Errorf("count rejects: %w", err)
		}
		if fr.Reasons == nil {
			fr.Reasons = map[string]int64{}
		}
		fr.Reasons[reason] = n
	}
	return rows.Err()
}

// record writes the file's ledger row.
func (r *run) record(ctx context.Context, fr FileResult, fid int) error {
	var msg any
	if fr.Message != "" {
		msg = fr.Message
	}
	return r.exec(ctx, "record "+fr.Path, `INSERT INTO load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		fid, r.id, fr.Path, fr.SHA256, fr.Bytes, fr.Entity, r.prof.Name, fr.Read, fr.Loaded, fr.Inserted, fr.Updated,
		fr.Rejected, fr.Duplicate, fr.Status, msg)
}

// ReasonNames returns the reasons of a result in order, for printing.
func ReasonNames(m map[string]int64) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
