package ingest

import (
	"bytes"
	"unicode"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// maxCached bounds the pseudonyms a column of a file remembers (keyedCSV.seen); past
// it, an identifier is keyed again each time it is met.
const maxCached = 1 << 20

// cacheProbe is the number of new identifiers after which a column of a file that
// has mostly met new ones stops remembering them (keyedCSV.keyNew).
const cacheProbe = 1 << 14

// keyer keys identifiers under the site key, as a file is copied for DuckDB to read
// (keyedcsv.go, which remembers the pseudonyms of each column) or a sheet is read
// (readSheet).
type keyer struct {
	key pseudo.Key
	h   *pseudo.Hasher // keyed's, made at its first identifier
}

// keyed returns the pseudonym of an identifier of the given kind, or nil for one that
// is empty once trimmed (appendKeyed). It reuses one keyed state, so it is called
// from one goroutine at a time (readSheet, cell by cell).
func (k *keyer) keyed(kind, id string) any {
	if k.h == nil {
		k.h = k.key.Hasher()
	}
	p := appendKeyed(k.h, nil, kind, []byte(id))
	if len(p) == 0 {
		return nil
	}
	return string(p)
}

// appendKeyed appends to dst the pseudonym, computed with h, of an identifier of the
// given kind, and nothing for one that is empty once trimmed. Trimming drops the
// Unicode space separators at either end, as DuckDB's trim does for the other
// columns.
func appendKeyed(h *pseudo.Hasher, dst []byte, kind string, id []byte) []byte {
	if id = trimZs(id); len(id) == 0 {
		return dst
	}
	return h.Append(dst, kind, id)
}

// trimZs drops the Unicode space separators (Zs) at either end of v. An identifier
// that begins and ends with a printable ASCII byte other than the space has none.
func trimZs(v []byte) []byte {
	if n := len(v); n > 0 && v[0] > ' ' && v[0] < 0x80 && v[n-1] > ' ' && v[n-1] < 0x80 {
		return v
	}
	return bytes.TrimFunc(v, isZs)
}

// isZs reports whether r is a Unicode space separator.
func isZs(r rune) bool { return unicode.Is(unicode.Zs, r) }

// keyed keys an identifier of a sheet cell (readSheet).
func (r *run) keyed(kind, id string) any { return r.keys.keyed(kind, id) }
