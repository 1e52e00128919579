// Package export writes the canonical tables of an outcomes database, as stored
// (patients known only by their keyed pseudonym), and the parameters of the models,
// as Hive-partitioned Parquet with a manifest: the form in which a provider hands its
// validated data to a central agency, and in which a distributed engine reads them.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/outfile"
	"github.com/iop-outcomes/outcomes/pipeline/query"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// Options says what to write.
type Options struct {
	// Dir is the folder to write; it must not exist yet (an export is never written
	// over another), and appears only once every file of the export is written.
	Dir string
	// PartitionBy is "", "program_id", "quarter" or "patient_bucket:N".
	PartitionBy string
}

// NullPartition is the folder of the rows whose partition value is null, as Hive and
// Spark name it.
const NullPartition = "__HIVE_DEFAULT_PARTITION__"

// table is one exported table and the expression of each partitioning it takes ("" for
// one it is not partitioned by: it is written whole).
type table struct {
	name  string
	order string
	parts map[string]string
}

func tables() []table {
	program := `(SELECT e.program_id FROM episodes e WHERE e.episode_id = t.episode_id)`
	bucket := `CAST(hash(t.patient_key) %% %d AS VARCHAR)`
	return []table{
		{"programs", "program_id", map[string]string{"program_id": "t.program_id"}},
		{"patients", "patient_key", map[string]string{"patient_bucket": bucket}},
		{"episodes", "episode_id", map[string]string{"program_id": "t.program_id", "quarter": quarter("t.admit_date"), "patient_bucket": bucket}},
		{"sessions", "session_id", map[string]string{"program_id": program, "quarter": quarter("t.session_date"), "patient_bucket": bucket}},
		{"observations", "patient_key, obs_date, measure", map[string]string{"program_id": program, "quarter": quarter("t.obs_date"), "patient_bucket": bucket}},
		{"analysis_parameters", "name", nil},
	}
}

func quarter(col string) string {
	return `strftime(` + col + `, '%Y') || 'Q' || CAST(quarter(` + col + `) AS VARCHAR)`
}

// Manifest describes an export: each table's rows, columns and files with their
// SHA-256, and a checksum of the table (the SHA-256 of its files' paths and hashes in
// order).
type Manifest struct {
	Version     string       `json:"version"`
	PartitionBy string       `json:"partition_by,omitempty"`
	Tables      []TableEntry `json:"tables"`
}

// TableEntry is one table of a manifest.
type TableEntry struct {
	Name     string   `json:"name"`
	Rows     int64    `json:"rows"`
	Columns  []Column `json:"columns"`
	Files    []File   `json:"files"`
	Checksum string   `json:"sha256"`
}

// Column is a column's name and DuckDB type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// File is one Parquet file of a table, relative to the export folder.
type File struct {
	Path   string `json:"path"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

var bucketRe = regexp.MustCompile(`^patient_bucket:([1-9][0-9]{0,3})$`)

// Run writes the export and returns its manifest.
func Run(ctx context.Context, db *store.DB, opt Options) (*Manifest, error) {
	kind, buckets := opt.PartitionBy, 0
	if m := bucketRe.FindStringSubmatch(kind); m != nil {
		kind = "patient_bucket"
		buckets, _ = strconv.Atoi(m[1])
	} else if kind != "" && kind != "program_id" && kind != "quarter" {
		return nil, fmt.Errorf("--partition-by %q: use program_id, quarter or patient_bucket:N (N from 1 to 9999)", opt.PartitionBy)
	}
	if opt.Dir == "" {
		return nil, fmt.Errorf("name the folder to write the export into with --out")
	}
	if _, err := os.Lstat(opt.Dir); err == nil {
		return nil, fmt.Errorf("%s exists: an export is written into a new folder, never over another; name a new one with --out", opt.Dir)
	}
	parent := filepath.Dir(filepath.Clean(opt.Dir))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(opt.Dir)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("make a folder beside %s: %w", opt.Dir, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed; otherwise nothing half-written stays
	docs, err := query.Describe(ctx, db)
	if err != nil {
		return nil, err
	}
	man := &Manifest{Version: pipeline.Version, PartitionBy: opt.PartitionBy}
	for _, t := range tables() {
		e := TableEntry{Name: t.name}
		for _, c := range docs[t.name].Columns {
			e.Columns = append(e.Columns, Column{Name: c.Name, Type: c.Type})
		}
		if len(e.Columns) == 0 {
			return nil, fmt.Errorf("the database has no table %s: load exports with etl first", t.name)
		}
		if err := writeTable(ctx, db, tmp, t, kind, buckets, &e); err != nil {
			return nil, fmt.Errorf("export %s: %w", t.name, err)
		}
		man.Tables = append(man.Tables, e)
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := outfile.WriteFile(filepath.Join(tmp, "manifest.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, opt.Dir); err != nil {
		return nil, fmt.Errorf("put the export in place as %s: %w", opt.Dir, err)
	}
	return man, nil
}

// writeTable writes the files of one table into dir and records them in e.
func writeTable(ctx context.Context, db *store.DB, dir string, t table, kind string, buckets int, e *TableEntry) error {
	expr := t.parts[kind]
	if kind == "patient_bucket" && expr != "" {
		expr = fmt.Sprintf(expr, buckets)
	}
	// The values of the partition, each written as a folder of its own.
	values := []*string{nil}
	if expr != "" {
		values = nil
		rows, err := db.QueryContext(ctx, `SELECT DISTINCT `+expr+` AS v FROM `+t.name+` t ORDER BY v NULLS LAST`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v *string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			values = append(values, v)
		}
		rows.Close()
	}
	sum := sha256.New()
	for _, v := range values {
		rel := t.name
		where := ""
		if expr != "" {
			if v == nil {
				rel = filepath.Join(rel, kind+"="+NullPartition)
				where = " WHERE " + expr + " IS NULL"
			} else if *v == "" {
				return fmt.Errorf("an empty %s: a partition needs a value", kind)
			} else {
				rel = filepath.Join(rel, kind+"="+escape(*v))
				where = " WHERE " + expr + " = '" + strings.ReplaceAll(*v, "'", "''") + "'"
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o700); err != nil {
			return err
		}
		rel = filepath.Join(rel, "part-0.parquet")
		// A partition column the table has is in the folder's name, not in the file:
		// a reader (Spark, DuckDB) takes it from the path, and refuses it in both.
		sel := "*"
		if expr == "t."+kind {
			sel = "* EXCLUDE (" + kind + ")"
		}
		sqlText := `SELECT ` + sel + ` FROM ` + t.name + ` t` + where + ` ORDER BY ` + t.order
		n, err := query.Run(ctx, db, sqlText, query.Options{Format: "parquet", Out: filepath.Join(dir, rel)})
		if err != nil {
			return err
		}
		h, err := HashFile(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		e.Rows += n
		e.Files = append(e.Files, File{Path: filepath.ToSlash(rel), Rows: n, SHA256: h})
		fmt.Fprintf(sum, "%s %s\n", filepath.ToSlash(rel), h)
	}
	sort.Slice(e.Files, func(a, b int) bool { return e.Files[a].Path < e.Files[b].Path })
	e.Checksum = hex.EncodeToString(sum.Sum(nil))
	return nil
}

// escape makes a partition value safe as a folder name the way Hive does: every byte
// but letters, digits, '-', '_' and '.' as %XX (a value of "." or ".." too).
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == '.' && v != "." && v != "..") {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// HashFile is the SHA-256 of a file, in hex, as the manifest gives it.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
