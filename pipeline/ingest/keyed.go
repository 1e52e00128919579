package ingest

import (
	"strings"
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
}

// keyed returns the pseudonym of an identifier of the given kind, or nil for one that
// is empty once trimmed. Trimming drops the Unicode space separators at either end,
// as DuckDB's trim does for the other columns.
func (k *keyer) keyed(kind, id string) any {
	id = trimZs(id)
	if id == "" {
		return nil
	}
	return k.key.Pseudonym(kind, id)
}

// trimZs drops the Unicode space separators (Zs) at either end of s. An identifier
// that begins and ends with a printable ASCII byte other than the space has none.
func trimZs(s string) string {
	if plainEnds([]byte(s)) {
		return s
	}
	return strings.TrimFunc(s, func(r rune) bool { return unicode.Is(unicode.Zs, r) })
}

// plainEnds reports whether v begins and ends with a printable ASCII byte other than
// the space, so that trimZs leaves it as it is.
func plainEnds(v []byte) bool {
	n := len(v)
	return n > 0 && v[0] > ' ' && v[0] < 0x80 && v[n-1] > ' ' && v[n-1] < 0x80
}

// keyed keys an identifier of a sheet cell (readSheet).
func (r *run) keyed(kind, id string) any { return r.keys.keyed(kind, id) }
