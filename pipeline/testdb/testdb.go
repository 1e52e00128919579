// Package testdb builds databases for tests: exports loaded with the models rebuilt,
// as etl does, into a temporary folder. Only tests import it.
package testdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
