package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// DuckDB never reads an export file itself. It reads a copy made as it reads, through
// a pipe, in which every identifier is already its pseudonym and every column the
// load does not read is blanked out. DuckDB keeps what it reads in buffers whose
// memory it reuses without clearing, and under a memory limit it writes such memory
// to its spill files: were the original file read, an original identifier could
// reach the disk inside a spilled block of some other table. The copy keeps the
// file's CSV structure byte for byte (quotes, commas, line ends), so DuckDB finds
// the same rows, the same malformed rows and the same line numbers in it.

// maxLine is the longest row, in bytes, that the CSV reader accepts (read_csv's
// max_line_size); a field longer than that is in a row DuckDB refuses. (A pseudonym
// is 32 bytes, so a row within a few bytes of the limit may fit in the file and not
// in the copy, or the other way round: such a row is refused, or loaded, whole.)
const maxLine = 2 << 20

// colRule says what the copy holds of a column.
type colRule uint8

const (
	// maskCol: a column the load does not read (also a cell beyond the header, and
	// the header itself). Every ASCII byte becomes x except the CSV's own (quote,
	// comma, space, line ends) and NUL, a character of 2, 3 or 4 bytes becomes é, € or 𝑥,
	// and a byte that is not UTF-8 becomes 0xFF, so that DuckDB finds the same fields
	// and the same malformed rows, and nothing of the text.
	maskCol colRule = iota
	// keepCol: a column the load reads, copied as it is.
	keepCol
	// keyCol: an identifier, replaced by its pseudonym (nothing when blank). A value
	// DuckDB would refuse (a quote not closed, text after a closing quote, bytes that
	// are not UTF-8, longer than a row may be) is masked instead, and its row is
	// refused as before; so is one that cannot be replaced in place (keyField).
	keyCol
)

// keyedCSV copies a CSV file under the rules of its columns.
type keyedCSV struct {
	rules []colRule // by position in the header
	kinds []string  // the pseudonym kind of a keyCol column
	skip  int64     // records before the first row: the empty lines before the header, and the header

	out    *bufio.Writer
	st     csvState
	rec    int64   // records begun so far, counting from 0
	col    int     // the field's position in its record
	rule   colRule // the field's rule
	quoted bool    // the field began with a quote
	pass   bool    // the field is copied as it is
	field  []byte  // the field held so far, as it is in the file
	pend   []byte  // the start of a character cut by the end of a read, not yet masked
	bad    bool    // DuckDB refuses the record: the rest of it is masked
	endc   byte    // the comma or line end that ended the field (0: the end of the file)

	// broken counts the records with text after a closing quote. After such a
	// record DuckDB's reader may take up the rows again at another place than the
	// copy does, and find masked text where an identifier should be: the view raw
	// refuses such rows (rawView). nquoted counts the quoted fields after the
	// header, and masked the identifiers masked. A file with none of the three,
	// whose lines end one way, is split on commas and line ends alone, by DuckDB as
	// by the copy.
	broken, nquoted, masked int64

	// seen holds by column (keyCol columns) the pseudonyms of identifiers met, until
	// the column is found not to repeat them (keyNew): a column of an identifier
	// unique to each row, such as a session's, then keys each without remembering it.
	seen []map[string]string
	hash *pseudo.Hasher // the pseudonyms' HMAC (a file with identifiers)
	pbuf []byte         // the pseudonym being written

	nl    int  // the kind of the file's line ends, once one has ended a record
	mixed bool // a line end of another kind ended a record: DuckDB gives up on the file

	// number makes the copy begin every record that is not an empty line, the
	// header included, with its record number in the file (header = 1 after no
	// empty lines) and a comma: a first column that DuckDB reads as the row's line
	// (stageCSV, for a file without quotes, whose records are its lines). The
	// number's bytes count toward the longest row DuckDB reads, as a pseudonym's do
	// (maxLine). numbered counts the rows after the header so begun.
	number   bool
	numbered int64
	nbuf     []byte
}

type csvState uint8

const (
	stStart   csvState = iota // at the start of a field
	stBare                    // in a field that did not begin with a quote
	stQuoted                  // inside quotes
	stQuote                   // just after a quote inside quotes: an escaped quote or the end
	stAfter                   // after a closing quote (only spaces may follow before the comma)
	stCR                      // just after a carriage return that ended a record
	stSpace                   // after one space at the start of a field: a quote may open it still
	stMaskAll                 // after a line end of another kind than the file's first: all masked
)

// The kinds of line end. DuckDB's reader takes the kind of the file's first line end
// for the whole file, and gives up on a file with a line end of another kind outside
// quotes.
const (
	nlUnknown = iota
	nlLF
	nlCRLF
	nlCR
)

// newKeyedCSV makes the copier of a file with leading empty lines before its header,
// under the rules of its columns (nil rules mask every column).
func newKeyedCSV(rules []colRule, kinds []string, keys *keyer, leading int) *keyedCSV {
	k := &keyedCSV{rules: rules, kinds: kinds, skip: int64(leading) + 1, seen: make([]map[string]string, len(rules))}
	for i, r := range rules {
		if r == keyCol {
			k.seen[i] = map[string]string{}
			if k.hash == nil {
				k.hash = keys.key.Hasher()
			}
		}
	}
	return k
}

// copyKeyed copies in to w under the rules.
func (k *keyedCSV) copyKeyed(in io.Reader, w io.Writer) error {
	sw := &stickyWriter{w: w}
	k.out = bufio.NewWriterSize(sw, 1<<20)
	buf := make([]byte, 1<<20)
	for sw.err == nil {
		n, err := in.Read(buf)
		k.feed(buf[:n])
		if err == io.EOF {
			k.finish()
			return k.out.Flush()
		}
		if err != nil {
			return err
		}
	}
	return sw.err // DuckDB stopped reading: the rest is not copied
}

// stickyWriter keeps the first error of its writer.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// begin starts a field.
func (k *keyedCSV) begin(quoted bool) {
	k.rule = maskCol
	switch {
	case k.bad, k.rec < k.skip:
		// The header and the empty lines before it are masked too: DuckDB is given
		// the column names, and a first line that is not a header at all (a title)
		// may hold anything.
	case k.col < len(k.rules):
		k.rule = k.rules[k.col]
	}
	k.quoted = quoted
	k.endc = 0
	if quoted && k.rec >= k.skip {
		k.nquoted++
	}
	// A field is held until its end only when what it becomes depends on all of it:
	// an identifier, and a quoted value, which is masked if its quote never closes.
	// A masked field is written as it is read, and a field copied as it is passes
	// in a run of such bytes (feed).
	k.pass = k.rule == keepCol && !quoted
	k.field = k.field[:0]
}

// direct reports whether the field is written as it is read, not held.
func (k *keyedCSV) direct() bool { return k.rule == maskCol || k.pass }

// add takes bytes of the current field.
func (k *keyedCSV) add(p []byte) {
	if k.direct() {
		k.write(p)
		return
	}
	k.field = append(k.field, p...)
	if len(k.field) > maxLine {
		// Longer than any row DuckDB reads: its row is refused, and the rest of the
		// field is masked as it comes.
		k.rule = maskCol
		k.write(k.field)
		k.field = k.field[:0]
	}
}

// write writes bytes of the field under its rule, as they are or masked.
func (k *keyedCSV) write(p []byte) {
	if k.rule != maskCol {
		k.out.Write(p)
		return
	}
	if len(k.pend) > 0 {
		p = append(k.pend, p...)
		k.pend = nil
	}
	k.pend = k.mask(p)
}

// mask writes p masked and returns the start of a character cut at its end, if any,
// to be masked with the bytes that follow.
func (k *keyedCSV) mask(p []byte) []byte {
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '"' || c == ',' || c == ' ' || c == '\r' || c == '\n' || c == 0:
			k.out.WriteByte(c) // the CSV's own bytes, and NUL, which DuckDB's reader treats apart
			i++
		case c < utf8.RuneSelf:
			k.out.WriteByte('x')
			i++
		default:
			if !utf8.FullRune(p[i:]) {
				return append([]byte(nil), p[i:]...)
			}
			r, n := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && n <= 1 {
				// Not UTF-8: DuckDB refuses the row for it, and refuses it as well
				// for the byte 0xFF, which says nothing of the text.
				k.out.WriteByte(0xff)
				i++
				continue
			}
			// A character of n bytes becomes one of n bytes too: DuckDB's reader
			// tells apart text of more than one byte a character in some malformed
			// rows (it adds INVALID ENCODING to text after a closing quote).
			k.out.WriteString(maskRunes[n])
			i += n
		}
	}
	return nil
}

// maskRunes are the characters that mask one of 2, 3 or 4 bytes: é, €, 𝑥.
var maskRunes = [...]string{2: "\u00e9", 3: "\u20ac", 4: "\U0001d465"}

// flushPend writes the bytes of a cut character left at the end of a field: an
// incomplete character, not UTF-8, masked as such.
func (k *keyedCSV) flushPend() {
	for range k.pend {
		k.out.WriteByte(0xff)
	}
	k.pend = nil
}

// end ends the field; bad says DuckDB refuses its row for it.
func (k *keyedCSV) end(bad bool) {
	if k.direct() {
		k.flushPend()
		return
	}
	switch {
	case bad:
		if k.rule == keyCol {
			k.masked++
		}
		k.rule = maskCol
		k.write(k.field)
		k.flushPend()
	case k.rule == keepCol:
		k.out.Write(k.field)
	default:
		k.keyField()
	}
	k.field = k.field[:0]
}

// keyField writes the identifier held in k.field: its text replaced by its
// pseudonym (by nothing when it is blank), with its quotes and the spaces around
// them kept, so that the copy has the file's structure. An identifier that holds a
// quote, comma or line end, or bytes that are not UTF-8, is masked: the view raw
// refuses its row (rawView), and DuckDB refuses a row whose bytes are not UTF-8 in
// any case.
func (k *keyedCSV) keyField() {
	f := k.field
	lead, trail := 0, 0
	if k.quoted {
		j := len(f) - 1
		for j > 0 && f[j] == ' ' {
			j--
		}
		lead, trail = bytes.IndexByte(f, '"')+1, len(f)-j
	}
	v := f[lead : len(f)-trail]
	var p []byte
	ok := true
	if known, hit := k.seen[k.col][string(v)]; hit {
		k.pbuf = append(k.pbuf[:0], known...)
		p = k.pbuf
	} else {
		p, ok = k.keyNew(v)
	}
	if !ok {
		k.masked++
		k.rule = maskCol
		k.write(f)
		k.flushPend()
		return
	}
	if len(p) == 0 && !k.quoted && len(f) > 0 {
		if k.endc != ',' && k.endc != 0 && !k.isEnd(k.endc) {
			// Blanks before a line end of another kind than the file's: the file is
			// refused (mixed), and DuckDB reads the blanks otherwise than a quoted
			// field before that line end; they are copied as they are.
			k.out.Write(f)
			return
		}
		// Blanks alone: an empty quoted field, not nothing, which on a line of its
		// own would make an empty line, which DuckDB's reader skips.
		k.out.WriteString(`""`)
		return
	}
	k.out.Write(f[:lead])
	k.out.Write(p)
	k.out.Write(f[len(f)-trail:])
}

// keyNew returns the pseudonym of an identifier not met before in its column (empty
// for a blank one; valid until the next identifier), and false for one that cannot
// be keyed in place. The column remembers it, up to maxCached identifiers, unless it
// has been found not to repeat them: when its first cacheProbe new identifiers came
// in fewer than twice as many records, it stops remembering.
func (k *keyedCSV) keyNew(v []byte) ([]byte, bool) {
	if bytes.ContainsAny(v, "\",\r\n") || !utf8.Valid(v) {
		return nil, false
	}
	k.pbuf = appendKeyed(k.hash, k.pbuf[:0], k.kinds[k.col], v)
	if seen := k.seen[k.col]; seen != nil {
		// Every identifier not met before is remembered until the probe, so the
		// column has met len(seen) + 1 new ones; and each record since the header
		// has had one identifier of the column.
		if len(seen)+1 == cacheProbe && 2*cacheProbe > k.rec-k.skip+1 {
			k.seen[k.col] = nil
		} else if len(seen) < maxCached {
			seen[string(v)] = string(k.pbuf)
		}
	}
	return k.pbuf, true
}

// endRecord takes the line end c that ended a record (a carriage return is known
// for a CRLF or a CR alone at the next byte, stCR).
func (k *keyedCSV) endRecord(c byte) {
	k.rec++
	k.col = 0
	k.bad = false
	k.st = stStart
	switch {
	case c == '\r' && k.nl == nlLF:
		k.foreign()
	case c == '\r':
		k.st = stCR
	case k.nl == nlUnknown:
		k.nl = nlLF
	case k.nl != nlLF:
		k.foreign()
	}
}

// isEnd reports whether the line end byte c ends a record of this file (a carriage
// return of a CRLF file if a line feed follows).
func (k *keyedCSV) isEnd(c byte) bool {
	switch k.nl {
	case nlLF:
		return c == '\n'
	case nlCRLF, nlCR:
		return c == '\r'
	}
	return true
}

// crEnds takes the byte after a carriage return that ended a record: whether it is a
// CRLF (lf) or a CR alone.
func (k *keyedCSV) crEnds(lf bool) {
	kind := nlCR
	if lf {
		kind = nlCRLF
	}
	switch k.nl {
	case nlUnknown:
		k.nl = kind
	case kind:
	default:
		k.foreign()
		return
	}
	k.st = stStart
}

// foreign takes a line end of another kind than the file's: DuckDB's reader gives up
// on the file there, and the rest of the copy is masked.
func (k *keyedCSV) foreign() {
	k.mixed = true
	k.rule, k.pass = maskCol, false
	k.st = stMaskAll
}

// feed copies the next bytes of the file. The bytes of fields copied as they are, and
// the commas and line ends, are written in runs: p[from:i] is such a run not yet
// written, and from is -1 while a field that is held or masked is read.
func (k *keyedCSV) feed(p []byte) {
	from := 0
	if k.st != stStart && k.st != stCR && !k.pass || k.st == stMaskAll {
		from = -1 // in a field held or masked
	}
	flush := func(to int) {
		if from >= 0 && to > from {
			k.out.Write(p[from:to])
		}
		from = -1
	}
	take := func(a, b int) {
		if !k.pass {
			k.add(p[a:b])
		}
	}
	// delimit ends the field at the comma or line end p[i].
	delimit := func(i int) {
		k.endc = p[i]
		k.end(false)
		if from < 0 {
			from = i
		}
		if c := p[i]; c == ',' {
			k.col++
			k.st = stStart
		} else {
			k.endRecord(c)
		}
	}
	for i := 0; i < len(p); {
		switch k.st {
		case stCR:
			lf := p[i] == '\n'
			if lf {
				i++
			}
			k.crEnds(lf)
		case stMaskAll:
			flush(i)
			k.write(p[i:])
			i = len(p)
		case stStart:
			if k.number && k.col == 0 && p[i] != '\n' && p[i] != '\r' && k.rec+1 >= k.skip {
				run := from >= 0
				flush(i)
				k.writeNumber()
				if run {
					from = i
				}
			}
			quoted := p[i] == '"'
			k.begin(quoted)
			if !k.pass {
				flush(i)
			}
			switch {
			case quoted:
				take(i, i+1)
				i++
				k.st = stQuoted
			case p[i] == ' ':
				take(i, i+1)
				i++
				k.st = stSpace
			default:
				k.st = stBare
			}
		case stSpace:
			// DuckDB reads a field of one space and then a quote as quoted.
			if p[i] != '"' {
				k.st = stBare
				continue
			}
			if k.pass {
				k.pass = false
				flush(i)
			}
			k.quoted = true
			k.nquoted++
			take(i, i+1)
			i++
			k.st = stQuoted
		case stBare:
			j := indexFieldEnd(p[i:])
			if j < 0 {
				take(i, len(p))
				i = len(p)
				continue
			}
			if c := p[i+j]; c != ',' && k.bad && !k.isEnd(c) {
				// In a record DuckDB refuses, a line end of another kind is text.
				take(i, i+j+1)
				i += j + 1
				continue
			}
			take(i, i+j)
			i += j
			delimit(i)
			i++
		case stQuoted:
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				take(i, len(p))
				i = len(p)
				continue
			}
			take(i, i+j+1)
			i += j + 1
			k.st = stQuote
		case stQuote:
			if p[i] == '"' {
				take(i, i+1)
				i++
				k.st = stQuoted
			} else {
				k.st = stAfter
			}
		case stAfter:
			switch p[i] {
			case ' ':
				take(i, i+1)
				i++
			case ',':
				delimit(i)
				i++
			case '\r', '\n':
				if k.isEnd(p[i]) {
					delimit(i)
					i++
					continue
				}
				fallthrough
			default:
				// Text after the closing quote (a line end of another kind than the
				// file's is text here): DuckDB refuses the record, and reads on to the
				// end of the field as if unquoted. The rest of the record is masked.
				k.bad = true
				k.broken++
				if !k.direct() {
					k.rule = maskCol
					k.write(k.field)
					k.field = k.field[:0]
				}
				k.st = stBare
			}
		}
	}
	if from >= 0 {
		flush(len(p))
	}
}

// writeNumber begins a record with its number (number).
func (k *keyedCSV) writeNumber() {
	if k.rec >= k.skip {
		k.numbered++
	}
	k.nbuf = strconv.AppendInt(k.nbuf[:0], k.rec+1, 10)
	k.nbuf = append(k.nbuf, ',')
	k.out.Write(k.nbuf)
}

// finish ends the file: a quote never closed leaves its field masked.
func (k *keyedCSV) finish() {
	switch k.st {
	case stBare, stSpace, stQuote, stAfter:
		k.end(false)
	case stQuoted:
		k.end(true)
	case stCR:
		k.crEnds(false)
	case stMaskAll:
		k.flushPend()
	}
}

// indexFieldEnd returns the index of the first comma or line end in p, or -1.
func indexFieldEnd(p []byte) int {
	for i, c := range p {
		if c == ',' || c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// readKeyed copies the open file e under the rules of its columns through a pipe,
// which read gives DuckDB to read as path, and returns the copier, to be asked
// whether the copy was unsure or mixed. An error of read (DuckDB's) is returned as
// it is; one of the copy (reading the file) names the file.
func (r *run) readKeyed(e *export, rules []colRule, kinds []string, leading int, number bool, read func(path string) error) (*keyedCSV, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.path, err)
	}
	k := newKeyedCSV(rules, kinds, r.keys, leading)
	k.number = number
	done := make(chan error, 1)
	go func() {
		err := k.copyKeyed(e.reader(), pw)
		pw.Close()
		done <- err
	}()
	err = read(fmt.Sprintf("/dev/fd/%d", pr.Fd()))
	// Closing the read end stops a copy DuckDB gave up on (keyedCSV.copyKeyed).
	pr.Close()
	cerr := <-done
	if err == nil && cerr != nil {
		err = fmt.Errorf("read %s: %w", e.path, cerr)
	}
	return k, err
}

// unsure reports, once the copy is done, whether DuckDB's reader may have split the
// copy otherwise than the copy did, or found a masked identifier (keyedCSV.broken).
func (k *keyedCSV) unsure() bool { return k.broken > 0 || k.nquoted > 0 || k.masked > 0 }
