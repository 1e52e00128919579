package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// pseudonymFunc is the SQL function, registered on a run's connection, that keys an
// identifier as the file is read: pseudonym(kind, text) is the pseudonym of the
// text trimmed, or NULL when nothing is left. Keying as the rows are read, rather
// than joining a table of original identifiers later, keeps the originals out of
// every table, and so out of what DuckDB spills to disk under a memory limit.
const pseudonymFunc = "pseudonym"

// maxCached bounds the pseudonyms remembered during a run; past it, an identifier
// is keyed again each time it is met.
const maxCached = 1 << 20

// keyer keys identifiers under the site key, remembering the pseudonyms of the
// identifiers it has met: a file names the same patient on many rows. DuckDB calls it
// from several threads at once, for every row read, so a pseudonym met before is
// found without a lock (sync.Map: written once, read many times).
type keyer struct {
	key   pseudo.Key
	cache sync.Map // [2]string{kind, id} -> pseudonym
	n     atomic.Int64
}

// keyed returns the pseudonym of an identifier of the given kind, or nil for one that
// is empty once trimmed. Trimming drops the Unicode space separators at either end,
// as DuckDB's trim does for the other columns.
func (k *keyer) keyed(kind, id string) any {
	if p, ok := k.pseudonym(kind, id); ok {
		return p
	}
	return nil
}

// pseudonym returns the pseudonym of an identifier of the given kind, and false for
// one that is empty once trimmed. kind and id may be borrowed from DuckDB's memory:
// neither is kept, the cache stores copies of them.
func (k *keyer) pseudonym(kind, id string) (string, bool) {
	id = trimZs(id)
	if id == "" {
		return "", false
	}
	if p, ok := k.cache.Load([2]string{kind, id}); ok {
		return p.(string), true
	}
	p := k.key.Pseudonym(kind, id)
	if k.n.Load() < maxCached {
		if _, had := k.cache.LoadOrStore([2]string{strings.Clone(kind), strings.Clone(id)}, p); !had {
			k.n.Add(1)
		}
	}
	return p, true
}

// trimZs drops the Unicode space separators (Zs) at either end of s. An identifier
// that begins and ends with a printable ASCII byte other than the space has none.
func trimZs(s string) string {
	if n := len(s); n > 0 && s[0] > ' ' && s[0] < 0x80 && s[n-1] > ' ' && s[n-1] < 0x80 {
		return s
	}
	return strings.TrimFunc(s, func(r rune) bool { return unicode.Is(unicode.Zs, r) })
}

// keyed keys an identifier of a sheet cell (readSheet).
func (r *run) keyed(kind, id string) any { return r.keys.keyed(kind, id) }

// registerPseudonym registers pseudonymFunc on the run's connection.
func registerPseudonym(conn *sql.Conn, k *keyer) error {
	varchar, err := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	if err != nil {
		return fmt.Errorf("register %s: %w", pseudonymFunc, err)
	}
	f := &keyFunc{
		config: duckdb.ScalarFuncConfig{
			InputTypeInfos: []duckdb.TypeInfo{varchar, varchar},
			ResultTypeInfo: varchar,
		},
		executor: duckdb.ScalarFuncExecutor{ChunkContextExecutor: func(_ context.Context, chunk *duckdb.ChunkIteratorState) error {
			return k.keyChunk(chunk)
		}},
	}
	if err := duckdb.RegisterScalarUDF(conn, pseudonymFunc, f); err != nil {
		return fmt.Errorf("register %s: %w", pseudonymFunc, err)
	}
	return nil
}

// keyChunk keys a chunk of rows of pseudonymFunc, reading the arguments in place
// (DuckDB hands the function flat vectors, a constant kind included) and writing the
// pseudonyms straight to the result. A row with a NULL argument, or an identifier
// empty once trimmed, is NULL.
func (k *keyer) keyChunk(chunk *duckdb.ChunkIteratorState) error {
	in := chunk.GetInputChunk()
	kindVec, err := in.GetVector(0)
	if err != nil {
		return err
	}
	idVec, err := in.GetVector(1)
	if err != nil {
		return err
	}
	kinds, err := duckdb.GetVectorView[string](kindVec)
	if err != nil {
		return err
	}
	ids, err := duckdb.GetVectorView[string](idVec)
	if err != nil {
		return err
	}
	out, err := duckdb.GetVectorWriter[string](chunk.GetResultVector())
	if err != nil {
		return err
	}
	for row := range in.GetSize() {
		kind, kindOK, err := kinds.GetValueBorrowed(row)
		if err != nil {
			return err
		}
		id, idOK, err := ids.GetValueBorrowed(row)
		if err != nil {
			return err
		}
		p, ok := "", false
		if kindOK && idOK {
			p, ok = k.pseudonym(kind, id)
		}
		if !ok {
			err = out.SetNull(row)
		} else {
			err = out.Set(row, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// keyFunc is pseudonymFunc as a DuckDB scalar function.
type keyFunc struct {
	config   duckdb.ScalarFuncConfig
	executor duckdb.ScalarFuncExecutor
}

func (f *keyFunc) Config() duckdb.ScalarFuncConfig     { return f.config }
func (f *keyFunc) Executor() duckdb.ScalarFuncExecutor { return f.executor }
