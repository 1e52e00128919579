package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/query"
)

// TestQueryReachesNoFile attacks `report query` as a researcher who wants more than
// the database: the site key (after which every pseudonym can be recomputed), the
// original exports (which join back to patient_key through the ledger), files of
// the system, a listing of folders, other databases and extensions. Each is refused
// with a message and shows nothing of the file; the database's own tables stay open
// to SELECT, DESCRIBE, SUMMARIZE and SHOW.
func TestQueryReachesNoFile(t *testing.T) {
	db := sampleDB(t)
	key := filepath.Join(filepath.Dir(db), "site.key")
	t.Setenv(pseudo.EnvKeyFile, key)
	keyText, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	export, err := filepath.Abs("../../sample-data/synthetic/export-1/patients.csv")
	if err != nil {
		t.Fatal(err)
	}
	exportText, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	firstMRN := strings.Split(strings.Split(string(exportText), "\n")[1], ",")[0]
	victim := filepath.Join(t.TempDir(), "victim.csv")
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

	refused := map[string]string{
		"read_text of the key":          "SELECT content FROM read_text(" + q(key) + ")",
		"read_blob of the key":          "SELECT content FROM read_blob(" + q(key) + ")",
		"read_csv of an export":         "SELECT * FROM read_csv(" + q(export) + ")",
		"an export by its name":         "SELECT * FROM " + q(export),
		"read_text of /etc/passwd":      "SELECT content FROM read_text('/etc/passwd')",
		"glob":                          "SELECT * FROM glob('*')",
		"glob of the key's folder":      "SELECT * FROM glob(" + q(filepath.Dir(key)+"/*") + ")",
		"sniff_csv":                     "SELECT * FROM sniff_csv(" + q(export) + ")",
		"read_parquet":                  "SELECT * FROM read_parquet(" + q(export) + ")",
		"SUMMARIZE a file":              "SUMMARIZE SELECT * FROM read_csv(" + q(export) + ")",
		"DESCRIBE a file":               "DESCRIBE SELECT * FROM read_text(" + q(key) + ")",
		"query() of a file":             "SELECT * FROM query(" + q("SELECT * FROM read_text("+q(key)+")") + ")",
		"ATTACH":                        "ATTACH " + q(filepath.Join(t.TempDir(), "other.duckdb")) + " AS other",
		"ATTACH the key":                "ATTACH " + q(key) + " AS k",
		"INSTALL":                       "INSTALL httpfs",
		"LOAD":                          "LOAD httpfs",
		"COPY TO":                       "COPY (SELECT * FROM patients) TO " + q(victim),
		"COPY FROM":                     "COPY patients FROM " + q(export),
		"SET enable_external_access":    "SET enable_external_access = true",
		"SET lock_configuration":        "SET lock_configuration = false",
		"RESET":                         "RESET enable_external_access",
		"PRAGMA":                        "PRAGMA enable_external_access=true",
		"EXPORT DATABASE":               "EXPORT DATABASE " + q(t.TempDir()),
		"a SELECT, then SET":            "SELECT 1; SET enable_external_access = true",
		"a SELECT with a file in a CTE": "WITH k AS (SELECT * FROM read_text(" + q(key) + ")) SELECT * FROM k",
	}
	for name, sql := range refused {
		t.Run(name, func(t *testing.T) {
			out, err := runCLI(t, "query", "--db", db, "--format", "csv", sql)
			if err == nil {
				t.Fatalf("ran, and printed %d bytes", len(out))
			}
			if !errors.Is(err, query.ErrNoFiles) && !errors.Is(err, query.ErrNotQuery) && !errors.Is(err, query.ErrReadOnly) {
				t.Errorf("refused without saying why: %v", err)
			}
			for _, secret := range []string{strings.TrimSpace(string(keyText)), firstMRN, "root:x:0:0"} {
				if strings.Contains(out+err.Error(), secret) {
					t.Errorf("the output or the message shows the file's content: %v", err)
				}
			}
		})
	}
	if _, err := os.Stat(victim); err == nil {
		t.Error("a query wrote a file")
	}

	// The database's own tables and their descriptions stay open.
	for _, sql := range []string{"SELECT count(*) FROM episodes", "DESCRIBE episodes", "SUMMARIZE kpis", "SHOW TABLES", "SHOW episodes"} {
		if out, err := runCLI(t, "query", "--db", db, "--format", "csv", sql); err != nil || strings.Count(out, "\n") < 2 {
			t.Errorf("%s: %v\n%s", sql, err, out)
		}
	}
}

// TestQueryOutNeverReplacesTheDatabaseOrKey points --out at the database and the
// site key by their names, through a symbolic link and through a hard link: each is
// refused with a message and leaves the file as it was.
func TestQueryOutNeverReplacesTheDatabaseOrKey(t *testing.T) {
	db := sampleDB(t)
	key := filepath.Join(filepath.Dir(db), "site.key")
	t.Setenv(pseudo.EnvKeyFile, key)
	links := t.TempDir()
	for _, l := range []struct{ name, target string }{{"db-link", db}, {"key-link", key}} {
		if err := os.Symlink(l.target, filepath.Join(links, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(db, filepath.Join(links, "db-hard")); err != nil {
		t.Fatal(err)
	}
	relDB, err := filepath.Rel(mustGetwd(t), db)
	if err != nil {
		t.Fatal(err)
	}
	dbBefore, keyBefore := mustReadFile(t, db), mustReadFile(t, key)
	for _, out := range []string{db, key, relDB, filepath.Join(links, "db-link"), filepath.Join(links, "key-link"), filepath.Join(links, "db-hard")} {
		for _, format := range []string{"csv", "json", "xlsx", "parquet", "arrow"} {
			_, err := runCLI(t, "query", "--db", db, "--format", format, "--out", out, "SELECT * FROM episodes")
			if !errors.Is(err, query.ErrProtected) || !strings.Contains(err.Error(), "nothing was written") {
				t.Errorf("--out %s --format %s: %v; want ErrProtected saying nothing was written", out, format, err)
			}
		}
	}
	if !bytes.Equal(mustReadFile(t, db), dbBefore) {
		t.Error("the database changed")
	}
	if !bytes.Equal(mustReadFile(t, key), keyBefore) {
		t.Error("the site key changed")
	}
}

// TestQueryTimeout runs a cross join that would take hours with --timeout 1s: it is
// stopped within seconds with a message that names the flag, and an output file
// named with --out is left as it was.
func TestQueryTimeout(t *testing.T) {
	db := sampleDB(t)
	out := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(out, []byte("earlier result\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := runCLI(t, "query", "--db", db, "--timeout", "1s", "--format", "csv", "--out", out,
		"SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = 7")
	took := time.Since(start)
	if !errors.Is(err, query.ErrTimeout) || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("after %v: %v; want ErrTimeout naming --timeout", took, err)
	}
	if took > 30*time.Second {
		t.Errorf("the query was stopped only after %v", took)
	}
	if got := string(mustReadFile(t, out)); got != "earlier result\n" {
		t.Errorf("the output file was changed to %q", got)
	}
	if _, err := runCLI(t, "query", "--db", db, "--timeout", "0s", "SELECT 1"); err == nil {
		t.Error("--timeout 0s was accepted")
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
