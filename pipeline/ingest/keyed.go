package ingest

import (
	"strings"
	"unicode"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// maxCached bounds the pseudonyms a column of a file remembers (keyedCSV.seen); past
// it, an identifier is keyed again each time it is met.
const maxCached = 1 << 20

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
	if n := len(s); n > 0 && s[0] > ' ' && s[0] < 0x80 && s[n-1] > ' ' && s[n-1] < 0x80 {
		return s
	}
	return strings.TrimFunc(s, func(r rune) bool { return unicode.Is(unicode.Zs, r) })
}

// keyed keys an identifier of a sheet cell (readSheet).
func (r *run) keyed(kind, id string) any { return r.keys.keyed(kind, id) }
