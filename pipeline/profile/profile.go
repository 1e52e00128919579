// Package profile describes source profiles: how one export layout maps onto the
// canonical tables. A profile names its source tables (a CSV file stem or an XLSX
// sheet name each), the canonical table each one feeds, and either a mapping (column
// names, code maps, a date format) read through the canonical staging models, or a
// staging model of its own in SQL for what a mapping cannot say. The canonical layout
// is itself a profile; others are YAML files, built in (profiles/) or written by a
// user and named by path.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/profiles"
	"github.com/iop-outcomes/outcomes/queries"
)

// Canonical is the name of the default profile, the project's own layout.
const Canonical = "canonical"

// Date formats other than strptime patterns.
const (
	// ISODate is the canonical date form, YYYY-MM-DD.
	ISODate = "%Y-%m-%d"
	// DayCount means a date is written as a whole number of days from the anchor.
	DayCount = "days"
)

// Profile is one export layout.
type Profile struct {
	Name        string
	Description string
	// Source is where the profile was read from: "built-in" or a file path.
	Source string
	Tables []*Table
}

// Table is one source table of a profile: the files or sheets named after it feed
// one canonical table.
type Table struct {
	// Source is the file stem or sheet name, matched without regard to case: a file
	// source.csv or source_anything.csv, or a sheet named source in a workbook.
	Source string
	Entity pipeline.Entity
	// Columns are the columns read from the file, in the names the staging model
	// sees; every other column of the file is never read.
	Columns []Column
	// Codes maps, per column, a source code (lower case) to the canonical one. Codes
	// not listed pass through and are checked as usual.
	Codes map[string]map[string]string
	// DateFormat is how dates are written: ISODate, DayCount or a strptime pattern.
	DateFormat string
	// Anchor is day 0 of DayCount dates.
	Anchor time.Time
	// Model, when set, is the SQL that maps the source rows onto the canonical
	// columns: it reads the view source (the columns read, with line) and any
	// lookup_<source> tables, and returns line and every column of the entity as
	// text, one row per source row. The canonical staging model then checks them.
	Model string
	// Staging is the SQL of the canonical staging model of the entity: it reads the
	// view raw and returns the core columns, line and problems.
	Staging string
	// Lookups are other source tables of the profile whose rows the staging model
	// reads whole, as temp tables lookup_<source>.
	Lookups []string
}

// Column is one column read from a source file.
type Column struct {
	// Name is the column's name in the view raw.
	Name string
	// Header is the header it is read from, lower case.
	Header string
	// Optional columns may be absent; a required one that is absent fails the file.
	Optional bool
	// Pseudonym names the identifier kind whose values are keyed at ingest.
	Pseudonym string
}

// Reads is the view a table's rows are read into: raw for a mapping, which the
// canonical staging model reads, or source for a table with a model of its own.
func (t *Table) Reads() string {
	if t.Model != "" {
		return "source"
	}
	return "raw"
}

// file is the YAML form of a profile.
type file struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	DateFormat  string      `yaml:"date_format"`
	Anchor      string      `yaml:"anchor"`
	Tables      []tableFile `yaml:"tables"`
}

type tableFile struct {
	Source     string                       `yaml:"source"`
	Entity     string                       `yaml:"entity"`
	Columns    map[string]string            `yaml:"columns"`
	Codes      map[string]map[string]string `yaml:"codes"`
	DateFormat string                       `yaml:"date_format"`
	Read       []string                     `yaml:"read"`
	Pseudonyms map[string]string            `yaml:"pseudonyms"`
	Staging    string                       `yaml:"staging"`
	Lookups    []string                     `yaml:"lookups"`
}

// BuiltIn lists the names of the built-in profiles, canonical first.
func BuiltIn() []string {
	names := []string{Canonical}
	entries, _ := fs.ReadDir(profiles.FS, ".")
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	return names
}

// Load returns a profile by built-in name, or reads a YAML file when the name is a
// path (it contains a slash or ends in .yaml).
func Load(name string) (*Profile, error) {
	if name == "" || name == Canonical {
		return CanonicalProfile(), nil
	}
	if strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		dir := filepath.Dir(name)
		return parse(name, b, func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, p)) })
	}
	b, err := fs.ReadFile(profiles.FS, name+".yaml")
	if err != nil {
		return nil, fmt.Errorf("profile %q: unknown; the built-in profiles are %s, or name a profile file (.yaml)",
			name, strings.Join(BuiltIn(), ", "))
	}
	return parse("built-in profile "+name, b, func(p string) ([]byte, error) {
		return fs.ReadFile(queries.FS, path.Join("staging", name, p))
	})
}

// CanonicalProfile is the project's own layout (pipeline.Layout) as a profile.
func CanonicalProfile() *Profile {
	p := &Profile{Name: Canonical, Description: "the canonical export layout (README)", Source: "built-in"}
	for _, e := range pipeline.Layout() {
		t := &Table{Source: e.Name, Entity: e, DateFormat: ISODate, Staging: canonicalStaging(e.Name)}
		for _, c := range e.Columns {
			t.Columns = append(t.Columns, Column{Name: c.Name, Header: c.Name, Optional: c.Optional, Pseudonym: c.Pseudonym})
		}
		p.Tables = append(p.Tables, t)
	}
	return p
}

func canonicalStaging(entity string) string {
	b, err := fs.ReadFile(queries.FS, path.Join("staging", Canonical, entity+".sql"))
	if err != nil {
		panic("canonical staging model missing for " + entity) // a build defect: the files are embedded
	}
	return string(b)
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// parse reads a profile's YAML; readSQL reads a staging model named in it.
func parse(where string, b []byte, readSQL func(string) ([]byte, error)) (*Profile, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the profile is empty; it needs a name and its tables (see profiles/ehr-example.yaml)", where)
		}
		return nil, fmt.Errorf("%s: %v", where, yamlError(err))
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	if f.Name == "" {
		return nil, bad("give the profile a name")
	}
	if len(f.Tables) == 0 {
		return nil, bad("list the source tables under tables:")
	}
	p := &Profile{Name: f.Name, Description: f.Description, Source: where}
	seen := map[string]bool{}
	for i, tf := range f.Tables {
		at := fmt.Sprintf("tables[%d]", i)
		if tf.Source == "" {
			return nil, bad("%s: give the source (file stem or sheet name)", at)
		}
		at = fmt.Sprintf("table %s", tf.Source)
		src := strings.ToLower(tf.Source)
		if seen[src] {
			return nil, bad("%s is listed twice", at)
		}
		seen[src] = true
		e, ok := pipeline.EntityByName(tf.Entity)
		if !ok {
			return nil, bad("%s: entity %q is not a canonical table; use one of %s", at, tf.Entity, entityList())
		}
		t := &Table{Source: tf.Source, Entity: e, Lookups: tf.Lookups}
		format := cmpOr(tf.DateFormat, f.DateFormat, ISODate)
		if err := checkFormat(format); err != nil {
			return nil, bad("%s: date_format %q: %v", at, format, err)
		}
		t.DateFormat = format
		if format == DayCount {
			a, err := time.Parse(time.DateOnly, f.Anchor)
			if err != nil {
				return nil, bad("date_format days needs anchor: the date of day 0 as YYYY-MM-DD (got %q)", f.Anchor)
			}
			t.Anchor = a
		}
		switch {
		case tf.Staging == "" && len(tf.Read) > 0:
			return nil, bad("%s: read lists columns for a staging model; name it with staging:, or map columns with columns:", at)
		case tf.Staging == "":
			// A mapping: the canonical staging model reads the mapped columns.
			if len(tf.Pseudonyms) > 0 {
				return nil, bad("%s: pseudonyms belong to tables with a staging model; a mapped column keys as its canonical column does", at)
			}
			headers := map[string]string{}
			for canon, header := range tf.Columns {
				if !slices.ContainsFunc(e.Columns, func(c pipeline.Column) bool { return c.Name == canon }) {
					return nil, bad("%s: columns: %q is not a column of %s; its columns are %s", at, canon, e.Name, columnList(e))
				}
				h := strings.ToLower(strings.TrimSpace(header))
				if h == "" {
					return nil, bad("%s: columns: %s maps to an empty header", at, canon)
				}
				if other, dup := headers[h]; dup {
					return nil, bad("%s: columns: header %q is mapped to both %s and %s", at, header, other, canon)
				}
				headers[h] = canon
			}
			for _, c := range e.Columns {
				h, ok := tf.Columns[c.Name]
				if !ok && !c.Optional {
					return nil, bad("%s: columns: the required column %s of %s is not mapped to a header", at, c.Name, e.Name)
				}
				// An optional column left unmapped is read as absent (NULL), as in the
				// canonical layout: its header is empty and never matches.
				t.Columns = append(t.Columns, Column{Name: c.Name, Header: strings.ToLower(strings.TrimSpace(h)), Pseudonym: c.Pseudonym, Optional: c.Optional})
			}
			t.Staging = canonicalStaging(e.Name)
		default:
			if len(tf.Columns) > 0 {
				return nil, bad("%s: a table with a staging model lists the columns it reads under read:, not columns:", at)
			}
			if len(tf.Read) == 0 {
				return nil, bad("%s: list the columns the staging model reads under read:", at)
			}
			for _, h := range tf.Read {
				name := strings.ToLower(strings.TrimSpace(h))
				if !identifier.MatchString(name) {
					return nil, bad("%s: read: %q must be a plain name (letters, digits, underscores)", at, h)
				}
				t.Columns = append(t.Columns, Column{Name: name, Header: name})
			}
			for col, kind := range tf.Pseudonyms {
				j := slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == strings.ToLower(col) })
				if j < 0 {
					return nil, bad("%s: pseudonyms: %s is not a column under read:", at, col)
				}
				if kind != "patient" && kind != "clinician" {
					return nil, bad("%s: pseudonyms: %s: kind %q; use patient or clinician", at, col, kind)
				}
				t.Columns[j].Pseudonym = kind
			}
			sql, err := readSQL(tf.Staging)
			if err != nil {
				return nil, bad("%s: staging model %s: %v", at, tf.Staging, err)
			}
			t.Model = string(sql)
			t.Staging = canonicalStaging(e.Name)
		}
		if len(tf.Codes) > 0 {
			t.Codes = map[string]map[string]string{}
			for col, m := range tf.Codes {
				if !slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == col && c.Header != "" }) {
					return nil, bad("%s: codes: %s is not a column this table reads", at, col)
				}
				if slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == col && c.Pseudonym != "" }) {
					return nil, bad("%s: codes: %s holds identifiers, which are keyed as they are read and never translated; remove its codes", at, col)
				}
				lower := map[string]string{}
				for from, to := range m {
					lower[strings.ToLower(strings.TrimSpace(from))] = to
				}
				t.Codes[col] = lower
			}
		}
		p.Tables = append(p.Tables, t)
	}
	for _, t := range p.Tables {
		for _, l := range t.Lookups {
			if p.Table(l) == nil {
				return nil, bad("table %s: lookups: %s is not a source table of this profile", t.Source, l)
			}
		}
	}
	return p, nil
}

// Table returns the source table of the given name (any case), or nil.
func (p *Profile) Table(source string) *Table {
	for _, t := range p.Tables {
		if strings.EqualFold(t.Source, source) {
			return t
		}
	}
	return nil
}

// TableOfFile returns the source table a file name feeds: the table's source, alone or
// followed by a separator and anything (sessions.csv, sessions_2026-10.csv). The
// longest matching source wins, so uds_temp.csv feeds uds_temp and not uds.
func (p *Profile) TableOfFile(name string) *Table {
	stem := strings.ToLower(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)))
	var best *Table
	for _, t := range p.Tables {
		rest, ok := strings.CutPrefix(stem, strings.ToLower(t.Source))
		if ok && (rest == "" || strings.ContainsRune("-_. ", rune(rest[0]))) {
			if best == nil || len(t.Source) > len(best.Source) || rest == "" {
				best = t
			}
			if rest == "" {
				break
			}
		}
	}
	return best
}

// Sources lists the file or sheet names a profile reads, for messages.
func (p *Profile) Sources() string {
	var names []string
	for _, t := range p.Tables {
		names = append(names, t.Source)
	}
	return strings.Join(names, ", ")
}

// IsLookup reports whether another table of the profile reads this one whole.
func (p *Profile) IsLookup(t *Table) bool {
	for _, o := range p.Tables {
		if slices.ContainsFunc(o.Lookups, func(l string) bool { return strings.EqualFold(l, t.Source) }) {
			return true
		}
	}
	return false
}

func checkFormat(f string) error {
	if f == ISODate || f == DayCount {
		return nil
	}
	if strings.ContainsRune(f, '\'') {
		return errors.New("a format cannot contain a quote")
	}
	// Every specifier must be one DuckDB's strptime knows; an unknown one would fail
	// every row instead of the profile.
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		j := i + 1
		if j < len(f) && f[j] == '-' {
			j++
		}
		if j >= len(f) {
			return fmt.Errorf("the format %q ends in an unfinished %%; write %%%% for a literal percent sign", f)
		}
		if !strings.ContainsRune("aAwdbhBmyYHIpMSgfnzZjUWcxX%", rune(f[j])) {
			return fmt.Errorf("the format %q has %%%s, which is no strptime specifier; use for example %%d, %%m, %%b, %%Y or %%y", f, f[i+1:j+1])
		}
		i = j
	}
	hasDay := strings.Contains(f, "%d") || strings.Contains(f, "%-d")
	hasMonth := strings.Contains(f, "%m") || strings.Contains(f, "%-m") || strings.Contains(f, "%b") || strings.Contains(f, "%B")
	hasYear := strings.Contains(f, "%Y") || strings.Contains(f, "%y")
	if !hasDay || !hasMonth || !hasYear {
		return errors.New(`give a strptime pattern with a day, a month and a year (for example "%m/%d/%Y"), "%Y-%m-%d", or days`)
	}
	return nil
}

func cmpOr(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func entityList() string {
	var names []string
	for _, e := range pipeline.Layout() {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

func columnList(e pipeline.Entity) string {
	var names []string
	for _, c := range e.Columns {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// yamlError shortens the YAML decoder's messages.
func yamlError(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
