package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSealShutsEveryConnectionOffFiles seals a database opened read-only and then
// runs, on several connections at once, statements that would read, list, write or
// attach files or undo the seal: DuckDB itself must refuse each, so that a
// statement the query checks let through still reaches no file.
func TestSealShutsEveryConnectionOffFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.duckdb")
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t AS SELECT 1 AS x`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	// A connection opened before the seal is sealed too.
	early, err := ro.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	if err := ro.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ro.Seal(ctx); err != nil {
		t.Fatalf("sealing twice: %v", err)
	}
	late, err := ro.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	out := filepath.Join(dir, "out.csv")
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	for _, stmt := range []string{
		"SELECT * FROM read_text(" + q(secret) + ")",
		"SELECT * FROM read_csv(" + q(secret) + ")",
		"SELECT * FROM glob(" + q(dir+"/*") + ")",
		"COPY (SELECT 1) TO " + q(out),
		"ATTACH " + q(filepath.Join(dir, "other.duckdb")) + " AS o",
		"INSTALL httpfs",
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"SET temp_directory = " + q(dir),
	} {
		if _, err := early.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s ran on a connection opened before the seal", stmt)
		}
		if _, err := late.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s ran on a connection opened after the seal", stmt)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a sealed database wrote a file")
	}
	var x int
	if err := late.QueryRowContext(ctx, `SELECT x FROM t`).Scan(&x); err != nil || x != 1 {
		t.Errorf("the database's own table: %d, %v", x, err)
	}
}
