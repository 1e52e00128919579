package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
	"go.yaml.in/yaml/v3"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// hostileNames are texts that would run SQL if a profile's names were pasted into a
// statement: closing a string, an identifier or a parenthesis, then COPY writing a
// file (the site key's text among them) into the folder pwn.
func hostileNames(pwn, key string) []string {
	return []string{
		fmt.Sprintf(`x AS SELECT 1; COPY (SELECT * FROM read_text('%s')) TO '%s/a.csv'; CREATE TEMP TABLE z`, key, pwn),
		fmt.Sprintf(`x"; COPY (SELECT 1) TO '%s/b.csv'; --`, pwn),
		fmt.Sprintf(`x'); COPY (SELECT 1) TO '%s/c.csv'; --`, pwn),
	}
}

// canonicalMapping is a mapping-only profile of the canonical layout (every column
// read from the header of its own name), as YAML values to edit.
func canonicalMapping() map[string]any {
	var tables []any
	for _, e := range pipeline.Layout() {
		cols := map[string]any{}
		for _, c := range e.Columns {
			cols[c.Name] = c.Name
		}
		tables = append(tables, map[string]any{"source": e.Name, "entity": e.Name, "columns": cols})
	}
	return map[string]any{"name": "hostile", "tables": tables}
}

// TestHostileProfileRunsNoSQL loads the canonical fixture under mapping-only
// profiles with SQL in every field a profile gives (source, lookups, entity, columns,
// headers, codes, date_format, anchor, name). Each load either treats the text as a
// literal name and loads, or fails with an error that says what is wrong in the
// profile; none writes a file, reads the key into the database or adds a table.
func TestHostileProfileRunsNoSQL(t *testing.T) {
	export := writeExport(t, fixture())
	clean := newEnv(t)
	clean.load(t, export)
	wantTables := queryStrings(t, clean.open(t), `SELECT table_name FROM duckdb_tables() ORDER BY ALL`)

	// Sources are lower-cased before use, so the folder's name must be too.
	pwn, err := os.MkdirTemp("", "pwn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pwn) })
	pwn = strings.ToLower(pwn)

	type edit func(p map[string]any)
	table := func(p map[string]any, i int) map[string]any { return p["tables"].([]any)[i].(map[string]any) }
	cases := map[string]edit{}
	for i, h := range hostileNames(pwn, "KEY") {
		// A lookup with no file of its own: its empty table is made from its name.
		cases[fmt.Sprintf("lookup source %d", i)] = func(p map[string]any) {
			p["tables"] = append(p["tables"].([]any), map[string]any{"source": h, "entity": "programs",
				"columns": table(p, 0)["columns"]})
			table(p, 1)["lookups"] = []any{h}
		}
		cases[fmt.Sprintf("source %d", i)] = func(p map[string]any) { table(p, 1)["source"] = h }
		cases[fmt.Sprintf("entity %d", i)] = func(p map[string]any) { table(p, 1)["entity"] = h }
		cases[fmt.Sprintf("column %d", i)] = func(p map[string]any) { table(p, 1)["columns"].(map[string]any)[h] = "sex" }
		cases[fmt.Sprintf("header %d", i)] = func(p map[string]any) { table(p, 1)["columns"].(map[string]any)["race"] = h }
		cases[fmt.Sprintf("code %d", i)] = func(p map[string]any) {
			table(p, 1)["codes"] = map[string]any{"sex": map[string]any{h: h, "female": h}}
		}
		cases[fmt.Sprintf("code column %d", i)] = func(p map[string]any) {
			table(p, 1)["codes"] = map[string]any{h: map[string]any{"a": "b"}}
		}
		cases[fmt.Sprintf("date_format %d", i)] = func(p map[string]any) { p["date_format"] = h }
		cases[fmt.Sprintf("date_format without quotes %d", i)] = func(p map[string]any) {
			p["date_format"] = "%Y-%m-%d" + strings.ReplaceAll(strings.ReplaceAll(h, "'", ""), `"`, "")
		}
		cases[fmt.Sprintf("anchor %d", i)] = func(p map[string]any) { p["date_format"] = "days"; p["anchor"] = h }
		cases[fmt.Sprintf("name %d", i)] = func(p map[string]any) { p["name"] = h }
	}
	for name, ed := range cases {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			// The run creates the key file before it reads any table, so a payload
			// that reads the key would find it (in a folder whose name has no capitals,
			// as sources are lower-cased).
			keyDir, err := os.MkdirTemp("", "key")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(keyDir) })
			key := filepath.Join(strings.ToLower(keyDir), "site.key")
			p := canonicalMapping()
			ed(p)
			var b []byte
			b, err = yaml.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.ReplaceAll(string(b), "KEY", key))
			prof := filepath.Join(t.TempDir(), "hostile.yaml")
			if err := os.WriteFile(prof, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), store.Config{Path: env.db}, []string{export}, Options{MaxRejectRate: 1, KeyFile: key, Profile: prof})
			if err != nil {
				var de *duckdb.Error
				if errors.As(err, &de) && de.Type == duckdb.ErrorTypeParser {
					t.Errorf("the profile's text reached the SQL parser: %v", err)
				}
				t.Logf("refused: %v", err)
			}
			if left, _ := os.ReadDir(pwn); len(left) > 0 {
				for _, e := range left {
					os.Remove(filepath.Join(pwn, e.Name()))
				}
				t.Fatalf("the profile's text ran as SQL and wrote %v", left)
			}
			if _, statErr := os.Stat(env.db); statErr == nil {
				got := queryStrings(t, env.open(t), `SELECT table_name FROM duckdb_tables() ORDER BY ALL`)
				if !slices.Equal(got, wantTables) {
					t.Errorf("tables after the load %v, want %v", got, wantTables)
				}
			}
		})
	}
}
