package query

import (
	"database/sql"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
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

// schemaOf is the Arrow schema of a result.
func schemaOf(cols []column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: arrowType(c.typ), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// batches reads the rows into record batches of batchRows rows and hands each to
// write.
func batches(rows *sql.Rows, cols []column, schema *arrow.Schema, write func(arrow.RecordBatch) error) (int64, error) {
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
		return write(rec)
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
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// writeArrow writes the result as an Arrow IPC file, one record batch per 64K rows.
func writeArrow(rows *sql.Rows, cols []column, out io.Writer) (int64, error) {
	schema := schemaOf(cols)
	w, err := ipc.NewFileWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return 0, err
	}
	n, err := batches(rows, cols, schema, w.Write)
	if err != nil {
		return n, err
	}
	return n, w.Close()
}

// writeParquet writes the result as a Parquet file (Snappy-compressed), one row
// group per 64K rows. It is written here rather than by DuckDB's COPY, because the
// researcher's connection has no access to the file system.
func writeParquet(rows *sql.Rows, cols []column, out io.Writer) (int64, error) {
	schema := schemaOf(cols)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	// The Parquet writer closes a writer that can be closed; the caller closes the
	// file (toWriter), so it gets only the Write method.
	w, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{out}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, err
	}
	n, err := batches(rows, cols, schema, w.Write)
	if err != nil {
		w.Close()
		return n, err
	}
	return n, w.Close()
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
