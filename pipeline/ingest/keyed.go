package ingest

import (
	"database/sql"
	"database/sql/driver"
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
	id = trimZs(id)
	if id == "" {
		return nil
	}
	ck := [2]string{kind, id}
	if p, ok := k.cache.Load(ck); ok {
		return p
	}
	p := k.key.Pseudonym(kind, id)
	if k.n.Load() < maxCached {
		if _, had := k.cache.LoadOrStore(ck, p); !had {
			k.n.Add(1)
		}
	}
	return p
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
		executor: duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
			kind, _ := values[0].(string)
			id, _ := values[1].(string)
			return k.keyed(kind, id), nil
		}},
	}
	if err := duckdb.RegisterScalarUDF(conn, pseudonymFunc, f); err != nil {
		return fmt.Errorf("register %s: %w", pseudonymFunc, err)
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
