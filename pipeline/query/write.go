package query

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline"
)

// Text formats a value as text the way a researcher expects to read it: dates as
// YYYY-MM-DD, timestamps in ISO 8601, numbers in full, NULL as empty.
func Text(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		if typ == "UUID" && len(x) == 16 {
			h := hex.EncodeToString(x)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}
		return hex.EncodeToString(x)
	case duckdb.UUID:
		return x.String()
	case time.Time:
		switch {
		case typ == "DATE":
			return x.Format(time.DateOnly)
		case strings.HasPrefix(typ, "TIME") && !strings.HasPrefix(typ, "TIMESTAMP"):
			return x.Format("15:04:05.999999")
		case strings.Contains(typ, "TIME ZONE") || typ == "TIMESTAMPTZ":
			return x.UTC().Format("2006-01-02T15:04:05.999999Z")
		}
		return x.Format("2006-01-02T15:04:05.999999999")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case *big.Int:
		return x.String()
	case duckdb.Decimal:
		return strconv.FormatFloat(x.Float64(), 'f', int(x.Scale), 64)
	case duckdb.Interval:
		return fmt.Sprintf("P%dM%dDT%sS", x.Months, x.Days, strconv.FormatFloat(float64(x.Micros)/1e6, 'f', -1, 64))
	case bool:
		return strconv.FormatBool(x)
	case []any, map[string]any, duckdb.Map, duckdb.OrderedMap:
		// Lists, structs and maps as JSON: unambiguous, unlike Go's own printing.
		if b, err := json.Marshal(jsonValue(x)); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// jsonValue turns a scanned value into one encoding/json writes as JSON: numbers as
// numbers, lists and structs as arrays and objects, the rest as text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, uint8, uint16, uint32, uint64, *big.Int:
		return x
	case float32:
		return float64(x)
	case float64:
		if x != x || x > 1e308 || x < -1e308 {
			return nil
		}
		return x
	case duckdb.Decimal:
		return x.Float64()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case duckdb.Map:
		out := map[string]any{}
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	}
	return Text(v, "")
}

// scanText reads the next row into rec, each value as text.
func scanText(rows *sql.Rows, cols []column, rec []string) error {
	vals, err := scan(rows, len(cols))
	if err != nil {
		return err
	}
	for i, v := range vals {
		rec[i] = Text(v, cols[i].typ)
	}
	return nil
}

// NeutralizeFormula returns text that a spreadsheet opening a CSV file would read as a
// formula (it starts with =, +, -, @, a tab or a carriage return) with a single quote
// before it, so that it stays text; other text is returned as it is. A sign alone
// (the + and - of a urine screen week) or a sign before a plain number is no formula
// and is written as it is.
func NeutralizeFormula(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	if (s[0] == '+' || s[0] == '-') && plainNumber(s[1:]) {
		return s
	}
	return "'" + s
}

// plainNumber reports whether s is empty or digits with at most one decimal point.
func plainNumber(s string) bool {
	dot := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

// writeCSV writes the rows as CSV. With neutralize, text values (and column names)
// that a spreadsheet would run as formulas are neutralized; numbers, dates and other
// typed values are written as they are, so a negative number stays a number. Without
// it every value is written exactly, for programs to read.
func writeCSV(rows *sql.Rows, cols []column, w io.Writer, neutralize bool) (int64, error) {
	cw := csv.NewWriter(w)
	header := make([]string, len(cols))
	text := make([]bool, len(cols))
	for i, c := range cols {
		header[i] = c.name
		if neutralize {
			header[i] = NeutralizeFormula(c.name)
			text[i] = c.typ == "VARCHAR" || c.typ == "" || strings.HasPrefix(c.typ, "ENUM")
		}
	}
	cw.Write(header)
	var n int64
	rec := make([]string, len(cols))
	for rows.Next() {
		if err := scanText(rows, cols, rec); err != nil {
			return n, err
		}
		for i := range rec {
			if text[i] {
				rec[i] = NeutralizeFormula(rec[i])
			}
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	return n, cw.Error()
}

// writeJSON writes an array of objects, one per row, streaming.
func writeJSON(rows *sql.Rows, cols []column, w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	bw.WriteString("[")
	var n int64
	for rows.Next() {
		vals, err := scan(rows, len(cols))
		if err != nil {
			return n, err
		}
		if n > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  {")
		for i, v := range vals {
			if i > 0 {
				bw.WriteString(", ")
			}
			k, _ := json.Marshal(cols[i].name)
			bw.Write(k)
			bw.WriteString(": ")
			var b []byte
			switch v.(type) {
			case time.Time, []byte, duckdb.UUID, duckdb.Interval:
				b, _ = json.Marshal(Text(v, cols[i].typ))
			default:
				b, _ = json.Marshal(jsonValue(v))
			}
			bw.Write(b)
		}
		bw.WriteString("}")
		n++
	}
	if n > 0 {
		bw.WriteString("\n")
	}
	bw.WriteString("]\n")
	return n, bw.Flush()
}

// writeTable writes an aligned table that fits width: column widths come from the
// header and the first rows, and longer values are cut with an ellipsis. Rows are
// written as they arrive.
func writeTable(rows *sql.Rows, cols []column, w io.Writer, width int) (int64, error) {
	if width <= 0 {
		width = 120
	}
	bw := bufio.NewWriter(w)
	const sample = 200
	var head [][]string
	var n int64
	for n < sample && rows.Next() {
		rec := make([]string, len(cols))
		if err := scanText(rows, cols, rec); err != nil {
			return n, err
		}
		printable(rec)
		head = append(head, rec)
		n++
	}
	widths := make([]int, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = pipeline.Printable(c.name)
	}
	for i := range cols {
		widths[i] = utf8.RuneCountInString(names[i])
		for _, r := range head {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	// Shrink the widest columns until the table fits.
	total := func() int {
		t := 0
		for _, x := range widths {
			t += x + 2
		}
		return t
	}
	for total() > width {
		wi := 0
		for i := range widths {
			if widths[i] > widths[wi] {
				wi = i
			}
		}
		if widths[wi] <= 4 {
			break
		}
		widths[wi]--
	}
	line := func(rec []string) {
		for i, s := range rec {
			if utf8.RuneCountInString(s) > widths[i] {
				r := []rune(s)
				s = string(r[:widths[i]-1]) + "…"
			}
			right := isNumeric(cols[i].typ)
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if right {
				bw.WriteString(pad + s)
			} else {
				bw.WriteString(s + pad)
			}
			if i < len(rec)-1 {
				bw.WriteString("  ")
			}
		}
		bw.WriteString("\n")
	}
	header := make([]string, len(cols))
	rule := make([]string, len(cols))
	for i := range cols {
		header[i] = names[i]
		rule[i] = strings.Repeat("-", widths[i])
	}
	line(header)
	line(rule)
	for _, r := range head {
		line(r)
	}
	rec := make([]string, len(cols))
	for rows.Next() {
		if err := scanText(rows, cols, rec); err != nil {
			return n, err
		}
		printable(rec)
		line(rec)
		n++
	}
	fmt.Fprintf(bw, "(%d rows)\n", n)
	return n, bw.Flush()
}

// printable makes the values of a table row safe to show on a terminal: text from the
// data never runs a terminal escape sequence (pipeline.Printable).
func printable(rec []string) {
	for i, s := range rec {
		rec[i] = pipeline.Printable(s)
	}
}

func isNumeric(typ string) bool {
	switch typ {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL":
		return true
	}
	return strings.HasPrefix(typ, "DECIMAL")
}

// maxSheetRows is Excel's row limit; a result sheet holds the header and the rest.
const maxSheetRows = 1_048_576

// writeXLSX writes the result as a workbook, streamed, starting a new sheet past
// Excel's row limit. Text is always written as text, never as a formula.
func writeXLSX(rows *sql.Rows, cols []column, w io.Writer) (int64, error) {
	return writeXLSXLimit(rows, cols, w, maxSheetRows)
}

func writeXLSXLimit(rows *sql.Rows, cols []column, w io.Writer, limit int) (int64, error) {
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return 0, err
	}
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = excelize.Cell{Value: c.name, StyleID: bold}
	}
	sheetNo := 1
	name := func() string {
		if sheetNo == 1 {
			return "Result"
		}
		return fmt.Sprintf("Result %d", sheetNo)
	}
	f.SetSheetName("Sheet1", name())
	sw, err := f.NewStreamWriter(name())
	if err != nil {
		return 0, err
	}
	start := func() error {
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
		return sw.SetRow("A1", header)
	}
	if err := start(); err != nil {
		return 0, err
	}
	var n int64
	row := 2
	for rows.Next() {
		if row > limit {
			if err := sw.Flush(); err != nil {
				return n, err
			}
			sheetNo++
			if _, err := f.NewSheet(name()); err != nil {
				return n, err
			}
			if sw, err = f.NewStreamWriter(name()); err != nil {
				return n, err
			}
			if err := start(); err != nil {
				return n, err
			}
			row = 2
		}
		vals, err := scan(rows, len(cols))
		if err != nil {
			return n, err
		}
		cells := make([]any, len(vals))
		for i, v := range vals {
			cells[i] = cellValue(v, cols[i].typ)
		}
		cell, _ := excelize.CoordinatesToCellName(1, row)
		if err := sw.SetRow(cell, cells); err != nil {
			return n, err
		}
		row++
		n++
	}
	if err := sw.Flush(); err != nil {
		return n, err
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if _, err := f.WriteTo(w); err != nil {
		return n, err
	}
	return n, nil
}

// cellValue is what goes into a workbook cell: numbers and booleans as themselves,
// everything else as text (so a value that starts with = stays text).
func cellValue(v any, typ string) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int8, int16, int32, int64, uint8, uint16, uint32, float32, bool:
		return x
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		if x != x {
			return nil
		}
		return x
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
	case duckdb.Decimal:
		return x.Float64()
	}
	text := Text(v, typ)
	if len(text) > 32767 {
		// Excel's limit for one cell: say so in the cell rather than cut silently.
		return text[:32700] + " [cut: longer than Excel allows in one cell]"
	}
	return text
}
