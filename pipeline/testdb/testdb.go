// Package testdb builds databases for tests: exports loaded with the models rebuilt,
// as etl does, into a temporary folder. Only tests import it.
package testdb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// Load loads the exports under paths into a new database in a temporary folder,
// rebuilds the models with p, and returns the database's path. A fixed clock, when
// given, stamps the ledger (for golden files).
func Load(tb testing.TB, paths []string, p models.Params, now func() time.Time) string {
	tb.Helper()
	tb.Setenv(pseudo.EnvKey, "")
	dir := tb.TempDir()
	path := filepath.Join(dir, "outcomes.duckdb")
	_, err := ingest.Run(context.Background(), store.Config{Path: path}, paths, ingest.Options{
		MaxRejectRate: 1, KeyFile: filepath.Join(dir, "site.key"), Now: now,
		Then: func(ctx context.Context, d *store.DB) error {
			conn, err := d.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = models.Rebuild(ctx, conn, p, nil)
			return err
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Open opens a database read-only and closes it when the test ends.
func Open(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), store.Config{Path: path, ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Golden compares got with the golden file at path, first rewriting the file when
// update is set; refresh says how to refresh it.
func Golden(tb testing.TB, path, got string, update bool, refresh string) {
	tb.Helper()
	if update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v; run %s", err, refresh)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		tb.Errorf("%s differs; if the change is meant, run %s (-want +got):\n%s", path, refresh, diff)
	}
}
