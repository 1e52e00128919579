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
)

// File is one export file and the entity it feeds.
type File struct {
	Path   string
	Entity pipeline.Entity
}

// Discover lists the export files under paths (files, or folders searched
// recursively) in load order: by entity as in pipeline.Layout, then in command-line
// order and, inside a folder, in natural name order (numbers by value, so week9 comes
// before week41 and export-2 before export-10). A later file of an entity wins over an
// earlier one, so exports named by date or number load oldest first.
// Files in folders that are not .csv are returned as ignored; a .csv file whose name
// does not say its entity is an error.
func Discover(paths []string) (files []File, ignored []string, err error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no export files or folders given; name at least one")
	}
	add := func(p string, explicit bool) error {
		if !strings.EqualFold(filepath.Ext(p), ".csv") {
			if explicit {
				return fmt.Errorf("%s: not a .csv file; the canonical layout is a folder of CSV files", p)
			}
			ignored = append(ignored, p)
			return nil
		}
		e, ok := entityOf(p)
		if !ok {
			return fmt.Errorf("%s: cannot tell which table this file feeds; name it after its table: %s", p, entityNames())
		}
		files = append(files, File{Path: p, Entity: e})
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
	order := map[string]int{}
	for i, e := range pipeline.Layout() {
		order[e.Name] = i
	}
	sort.SliceStable(files, func(i, j int) bool { return order[files[i].Entity.Name] < order[files[j].Entity.Name] })
	return files, ignored, nil
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

// entityOf reads the entity from a file name: the name of a layout entity, alone or
// followed by a separator and anything (sessions.csv, sessions_2026-10.csv).
func entityOf(p string) (pipeline.Entity, bool) {
	stem := strings.ToLower(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)))
	for _, e := range pipeline.Layout() {
		rest, ok := strings.CutPrefix(stem, e.Name)
		if ok && (rest == "" || strings.ContainsRune("-_. ", rune(rest[0]))) {
			return e, true
		}
	}
	return pipeline.Entity{}, false
}

func entityNames() string {
	var names []string
	for _, e := range pipeline.Layout() {
		names = append(names, e.Name+"*.csv")
	}
	return strings.Join(names, ", ")
}

// readHeader returns the header names of a CSV file, trimmed and lower-cased, with a
// UTF-8 byte order mark removed.
func readHeader(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
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
