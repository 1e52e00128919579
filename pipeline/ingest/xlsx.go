package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/xuri/excelize/v2"
)

// unzipLimit bounds what a workbook may unpack to (a zip bomb is refused rather than
// filling the disk); parts over excelize's XML limit spill to the temp folder. Tests
// lower it.
var unzipLimit int64 = 4 << 30

// recovered turns a panic inside the workbook reader into an error that names the
// file, so that a damaged workbook never crashes a run.
func recovered(p string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: the workbook cannot be read (%v); open it in a spreadsheet and save it again as .xlsx", p, r)
	}
}

// openWorkbook opens an XLSX file for reading raw cell values (no number formats:
// a date cell reads as its serial number, whatever the reader's locale).
func openWorkbook(p string) (x *excelize.File, err error) {
	defer recovered(p, &err)
	x, err = excelize.OpenFile(p, excelize.Options{RawCellValue: true, UnzipSizeLimit: unzipLimit, UnzipXMLSizeLimit: min(unzipLimit, 16<<20)})
	if err != nil {
		head := make([]byte, 4)
		if f, oerr := os.Open(p); oerr == nil {
			f.Read(head)
			f.Close()
		}
		switch {
		case bytes.Equal(head, []byte{0xd0, 0xcf, 0x11, 0xe0}):
			return nil, fmt.Errorf("%s: the workbook is password-protected (encrypted) or an old .xls file; save it as .xlsx without a password", p)
		case strings.Contains(err.Error(), "unzip size exceeds") || errors.Is(err, excelize.ErrOptionsUnzipSizeLimit):
			return nil, fmt.Errorf("%s: the workbook unpacks to more than %d MiB (%v); it is not an export of a program, or split it into smaller workbooks", p, unzipLimit>>20, err)
		case strings.Contains(err.Error(), "not a valid zip file") || errors.Is(err, excelize.ErrWorkbookFileFormat):
			return nil, fmt.Errorf("%s: not an XLSX workbook (it may be another kind of file renamed .xlsx); save it as .xlsx", p)
		}
		return nil, fmt.Errorf("%s: cannot open the workbook (%v); save it again as .xlsx", p, err)
	}
	return x, nil
}

// sheetNames lists a workbook's sheets.
func sheetNames(p string) (names []string, err error) {
	x, err := openWorkbook(p)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	defer recovered(p, &err)
	return x.GetSheetList(), nil
}

// sheetSum is the ledger's content hash of one sheet: the SHA-256 of the workbook's
// hash and the sheet name, so that each sheet of a workbook is its own entry and a
// workbook loaded again is recognised sheet by sheet.
func sheetSum(fileSum, sheet string) string {
	h := sha256.Sum256([]byte(fileSum + "\x00" + sheet))
	return hex.EncodeToString(h[:])
}

// sheetRows walks the rows of a sheet: fn gets each row's number (1-based, as the
// spreadsheet shows it) and cells, rows with no text left out.
func sheetRows(x *excelize.File, sheet string, fn func(line int64, cells []string) error) (err error) {
	defer recovered(x.Path, &err)
	rows, err := x.Rows(sheet)
	if err != nil {
		return fmt.Errorf("read sheet %s: %w", sheet, err)
	}
	defer rows.Close()
	var line int64
	for rows.Next() {
		line++
		cells, err := rows.Columns()
		if err != nil {
			return fmt.Errorf("read sheet %s row %d: %w", sheet, line, err)
		}
		empty := true
		for _, c := range cells {
			if strings.TrimSpace(c) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		if err := fn(line, cells); err != nil {
			return err
		}
	}
	return rows.Error()
}

// errStop ends a walk over a sheet early.
var errStop = errors.New("stop")

// sheetHeader returns the first row with text of a sheet, trimmed and lower case,
// and its row number.
func sheetHeader(f File) ([]string, int64, error) {
	x, err := openWorkbook(f.Path)
	if err != nil {
		return nil, 0, err
	}
	defer x.Close()
	var header []string
	var at int64
	err = sheetRows(x, f.Sheet, func(line int64, cells []string) error {
		for _, c := range cells {
			header = append(header, strings.ToLower(strings.TrimSpace(c)))
		}
		at = line
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, 0, err
	}
	if header == nil {
		return nil, 0, errors.New("the sheet is empty; it needs a header row naming its columns")
	}
	return header, at, nil
}

// readSheet reads a sheet into the temp table src, one VARCHAR column per column of
// the table that the header has (absent optional ones NULL) and the row number as
// line; a row with text beyond the header's last column goes to csv_errors, as the
// CSV reader's malformed rows do. It returns the number of data rows.
func (r *run) readSheet(ctx context.Context, f File, header []string, headerLine int64, cols map[string]int) (int64, error) {
	defs := []string{"line BIGINT"}
	for _, c := range f.Table.Columns {
		defs = append(defs, quoteIdent(c.Name)+" VARCHAR")
	}
	if err := r.exec(ctx, "make sheet table", "CREATE TEMP TABLE src ("+strings.Join(defs, ", ")+")"); err != nil {
		return 0, err
	}
	if err := r.exec(ctx, "make sheet table", "CREATE TEMP TABLE csv_errors (line BIGINT, error_type VARCHAR)"); err != nil {
		return 0, err
	}
	x, err := openWorkbook(f.Path)
	if err != nil {
		return 0, err
	}
	defer x.Close()
	// A workbook saved in the 1904 date system counts its date serials from 1904-01-01.
	if props, err := x.GetWorkbookProps(); err == nil && props.Date1904 != nil && *props.Date1904 {
		r.date1904[f.Path] = true
	}
	var n int64
	var wide []int64
	err = r.conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "src")
		if err != nil {
			return fmt.Errorf("append rows of %s: %w", f.Name(), err)
		}
		row := make([]driver.Value, 1+len(f.Table.Columns))
		walk := sheetRows(x, f.Sheet, func(line int64, cells []string) error {
			if line <= headerLine {
				return nil
			}
			n++
			for _, c := range cells[min(len(cells), len(header)):] {
				if strings.TrimSpace(c) != "" {
					wide = append(wide, line)
					return nil
				}
			}
			row[0] = line
			for i, c := range f.Table.Columns {
				row[i+1] = nil
				if j, ok := cols[c.Name]; ok && j < len(cells) {
					row[i+1] = cells[j]
					if c.Pseudonym != "" {
						// Keyed before it enters a table, as readCSV does.
						row[i+1] = r.keyed(c.Pseudonym, cells[j])
					}
				}
			}
			return a.AppendRow(row...)
		})
		if err := a.Close(); err != nil && walk == nil {
			walk = fmt.Errorf("append rows of %s: %w", f.Name(), err)
		}
		return walk
	})
	if err != nil {
		return 0, err
	}
	if len(wide) > 0 {
		if err := r.exec(ctx, "note wide rows", `INSERT INTO csv_errors SELECT unnest(?::BIGINT[]), 'CELLS BEYOND HEADER'`, wide); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// countSheetRows counts the rows with text after the header, for a sheet refused whole.
func countSheetRows(f File, headerLine int64) (int64, error) {
	x, err := openWorkbook(f.Path)
	if err != nil {
		return 0, err
	}
	defer x.Close()
	var n int64
	err = sheetRows(x, f.Sheet, func(line int64, _ []string) error {
		if line > headerLine {
			n++
		}
		return nil
	})
	return n, err
}
