package ingest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/profile"
)

// File is one export file, or one sheet of a workbook, and the source table it feeds.
type File struct {
	Path string
	// Sheet is the worksheet of an XLSX workbook; empty for a CSV file.
	Sheet string
	Table *profile.Table
	// Entity is the canonical table the source table feeds.
	Entity pipeline.Entity
}

// Name is how the ledger and messages name the file: its path, and the sheet of a
// workbook after a #.
func (f File) Name() string {
	if f.Sheet != "" {
		return f.Path + "#" + f.Sheet
	}
	return f.Path
}

// isXLSX reports whether a path is an Excel workbook.
func isXLSX(p string) bool { return strings.EqualFold(filepath.Ext(p), ".xlsx") }

// Discover lists the export files under paths (files, or folders searched
// recursively) that the profile reads, in load order: by entity as in
// pipeline.Layout, then by the order of the profile's tables, then in command-line
// order and, inside a folder, in natural name order (numbers by value, so week9 comes
// before week41 and export-2 before export-10). A later file of an entity wins over an
// earlier one, so exports named by date or number load oldest first. A CSV file feeds
// the table it is named after; each sheet of an XLSX workbook feeds the table it is
// named after (a workbook named after a table with one sheet feeds that table).
// Files in folders that are neither .csv nor .xlsx, and sheets that name no table,
// are returned as ignored; a .csv file whose name says no table is an error.
func Discover(paths []string, prof *profile.Profile) (files []File, ignored []string, err error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no export files or folders given; name at least one")
	}
	add := func(p string, explicit bool) error {
		if isXLSX(p) || strings.EqualFold(filepath.Ext(p), ".csv") {
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			if err := regular(p, info); err != nil {
				return err
			}
		}
		switch {
		case isXLSX(p):
			found, skipped, err := sheets(p, prof)
			if err != nil {
				return err
			}
			files, ignored = append(files, found...), append(ignored, skipped...)
			return nil
		case !strings.EqualFold(filepath.Ext(p), ".csv"):
			if explicit {
				return fmt.Errorf("%s: not a .csv or .xlsx file; an export is CSV files or XLSX workbooks", p)
			}
			ignored = append(ignored, p)
			return nil
		}
		t := prof.TableOfFile(p)
		if t == nil {
			return fmt.Errorf("%s: cannot tell which table this file feeds in profile %s; name it after its table: %s",
				p, prof.Name, tableNames(prof))
		}
		files = append(files, File{Path: p, Table: t, Entity: t.Entity})
		return nil
	}
	for _, root := range paths {
		from := len(files)
		info, err := os.Stat(root)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", root, err)
		}
		if !info.IsDir() {
			if err := add(root, true); err != nil {
				return nil, nil, err
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != root {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			return add(p, false)
		})
		if err != nil {
			return nil, nil, err
		}
		found := files[from:]
		sort.SliceStable(found, func(i, j int) bool { return naturalLess(found[i].Path, found[j].Path) })
	}
	order := map[*profile.Table]int{}
	entity := map[string]int{}
	for i, e := range pipeline.Layout() {
		entity[e.Name] = i
	}
	for i, t := range prof.Tables {
		order[t] = entity[t.Entity.Name]*1000 + i
	}
	sort.SliceStable(files, func(i, j int) bool { return order[files[i].Table] < order[files[j].Table] })
	return files, ignored, nil
}

// sheets lists the sheets of a workbook that feed tables of the profile.
func sheets(p string, prof *profile.Profile) (found []File, ignored []string, err error) {
	names, err := sheetNames(p)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range names {
		if t := prof.Table(s); t != nil {
			found = append(found, File{Path: p, Sheet: s, Table: t, Entity: t.Entity})
		} else {
			ignored = append(ignored, p+"#"+s)
		}
	}
	if len(found) == 0 && len(names) == 1 {
		if t := prof.TableOfFile(p); t != nil {
			return []File{{Path: p, Sheet: names[0], Table: t, Entity: t.Entity}}, nil, nil
		}
	}
	return found, ignored, nil
}

// Detect chooses the profile of a set of exports: the first built-in profile
// (canonical first) that has a table for every CSV file and every sheet of a
// workbook, preferring one under which every file's header holds the required
// columns.
func Detect(paths []string) (*profile.Profile, error) {
	var first *profile.Profile
	var firstErr error
	for _, name := range profile.BuiltIn() {
		p, err := profile.Load(name)
		if err != nil {
			return nil, err
		}
		files, ignored, err := Discover(paths, p)
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("no file or sheet is named after a table of profile %s (%s)", p.Name, tableNames(p))
		}
		for _, ig := range ignored {
			if book, sheet, ok := strings.Cut(ig, "#"); ok && isXLSX(book) && err == nil {
				err = fmt.Errorf("%s: sheet %s is named after no table of profile %s (%s)", book, sheet, p.Name, tableNames(p))
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		fits := true
		for _, f := range files {
			if h, err := fileHeader(f); err != nil || mapHeaderErr(f, h) != nil {
				fits = false
				break
			}
		}
		if fits {
			return p, nil
		}
		if first == nil {
			first = p
		}
	}
	if first != nil {
		return first, nil
	}
	return nil, fmt.Errorf("%w (no built-in profile fits these exports; name one with --profile: %s, or a profile file)",
		firstErr, strings.Join(profile.BuiltIn(), ", "))
}

// naturalLess orders names as people do: runs of digits compare by their value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func tableNames(p *profile.Profile) string {
	var names []string
	for _, t := range p.Tables {
		names = append(names, t.Source+"*.csv")
	}
	return strings.Join(names, ", ")
}

// readHeader returns the header names of a CSV file, trimmed and lower-cased, with a
// UTF-8 byte order mark removed.
func readHeader(p string) ([]string, error) {
	e, err := openExport(p)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return readHeaderFrom(e.reader())
}

// readHeaderFrom is readHeader of a file being read.
func readHeaderFrom(f io.Reader) ([]string, error) {
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 16<<20)))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty; it needs a header row naming its columns")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the header row (%v); check that the file is CSV text", err)
	}
	joined := strings.Join(rec, ",")
	if !utf8.ValidString(joined) || strings.ContainsRune(joined, 0) {
		return nil, errors.New("the header row is not UTF-8 text (the file may be binary, compressed or in another encoding); export it as UTF-8 CSV")
	}
	names := make([]string, len(rec))
	for i, h := range rec {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		names[i] = strings.ToLower(strings.TrimSpace(h))
	}
	return names, nil
}
