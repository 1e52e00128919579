package query

import (
	"database/sql"
	"math/big"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"
)

// batchRows is the number of rows in one Arrow record batch.
const batchRows = 64 * 1024

// arrowType maps a DuckDB column type to an Arrow type; types without a direct
// counterpart are written as their text.
func arrowType(typ string) arrow.DataType {
	if strings.HasPrefix(typ, "DECIMAL") {
		return arrow.PrimitiveTypes.Float64
	}
	switch typ {
	case "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "HUGEINT":
		return arrow.PrimitiveTypes.Int64
	case "FLOAT", "DOUBLE":
		return arrow.PrimitiveTypes.Float64
	case "DATE":
		return arrow.FixedWidthTypes.Date32
	case "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S":
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	}
	return arrow.BinaryTypes.String
}

// writeArrow writes the result as an Arrow IPC file, one record batch per 64K rows.
func writeArrow(rows *sql.Rows, cols []column, out string) (int64, error) {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: arrowType(c.typ), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	f, err := createFile(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return 0, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var n int64
	pending := 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		pending = 0
		return w.Write(rec)
	}
	for rows.Next() {
		vals, err := scan(rows, len(cols))
		if err != nil {
			return n, err
		}
		for i, v := range vals {
			appendValue(b.Field(i), v, cols[i].typ)
		}
		n++
		pending++
		if pending == batchRows {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	if err := w.Close(); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	return n, restrict(out)
}

func appendValue(fb array.Builder, v any, typ string) {
	if v == nil {
		fb.AppendNull()
		return
	}
	if d, ok := v.(duckdb.Decimal); ok {
		if b, ok := fb.(*array.Float64Builder); ok {
			b.Append(d.Float64())
			return
		}
	}
	switch b := fb.(type) {
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int64Builder:
		switch x := v.(type) {
		case int8:
			b.Append(int64(x))
		case int16:
			b.Append(int64(x))
		case int32:
			b.Append(int64(x))
		case int64:
			b.Append(x)
		case uint8:
			b.Append(int64(x))
		case uint16:
			b.Append(int64(x))
		case uint32:
			b.Append(int64(x))
		case *big.Int:
			if !x.IsInt64() {
				b.AppendNull()
				return
			}
			b.Append(x.Int64())
		default:
			b.AppendNull()
		}
	case *array.Float64Builder:
		switch x := v.(type) {
		case float64:
			b.Append(x)
		case float32:
			b.Append(float64(x))
		default:
			b.AppendNull()
		}
	case *array.Date32Builder:
		b.Append(arrow.Date32FromTime(v.(time.Time)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	case *array.StringBuilder:
		b.Append(Text(v, typ))
	default:
		fb.AppendNull()
	}
}
