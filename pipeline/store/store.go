// Package store opens the DuckDB database that is the pipeline's one place of truth
// and brings its schema up to date from the numbered files in queries/schema.
package store

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/queries"
)

// StorageVersion is the DuckDB storage format of new database files: any DuckDB
// client of version 1.5 reads it.
const StorageVersion = "v1.5.0"

// ErrLocked is returned by Open when another process holds the database file.
var ErrLocked = errors.New("database is in use by another process")

// Config says which database to open and how much of the machine DuckDB may use.
type Config struct {
	// Path is the database file; empty opens an in-memory database.
	Path string
	// MemoryLimit caps DuckDB's memory (for example "3GB"); empty keeps DuckDB's default.
	MemoryLimit string
	// TempDir is where DuckDB spills what does not fit in memory; empty keeps the default.
	TempDir string // DuckDB spills into a private folder made inside it (spill.go)
	// Threads caps DuckDB's worker threads; zero keeps the default (one per core).
	Threads int
	// ReadOnly opens the file for reading only.
	ReadOnly bool
	// deferCheckpoints keeps DuckDB from checkpointing on its own while a run works
	// on its private copy (Update), which checkpoints once at the end.
	deferCheckpoints bool
}

// RegisterFlags adds the flags that size DuckDB (--memory-limit, --temp-dir,
// --threads) to a command line, filling cfg. Every command that opens a database
// offers them, so that a large database can be worked on within a memory budget.
func (cfg *Config) RegisterFlags(fl *flag.FlagSet) {
	fl.StringVar(&cfg.MemoryLimit, "memory-limit", "", "DuckDB memory `limit`, for example 2GB; what does not fit spills to --temp-dir (default: DuckDB's, 80% of RAM)")
	fl.StringVar(&cfg.TempDir, "temp-dir", "", "`folder` where DuckDB spills what does not fit in memory (default: beside the database)")
	fl.IntVar(&cfg.Threads, "threads", 0, "DuckDB worker threads (default: one per core)")
}

// DB is an open database.
type DB struct {
	*sql.DB
	path  string
	spill *spill
}

// Open opens (and creates, unless read-only) the database described by cfg.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	q := url.Values{}
	if cfg.MemoryLimit != "" {
		q.Set("memory_limit", cfg.MemoryLimit)
	}
	// DuckDB spills to a folder the tool makes, owner-only, and removes (spill.go).
	sp, err := acquireSpill(spillDir(cfg.Path, cfg.TempDir))
	if err != nil {
		return nil, err
	}
	q.Set("temp_directory", sp.dir)
	if cfg.Threads > 0 {
		q.Set("threads", strconv.Itoa(cfg.Threads))
	}
	if cfg.ReadOnly {
		q.Set("access_mode", "read_only")
	} else {
		// A file created now records its identity in its write-ahead log (DuckDB's
		// storage format of 1.3 and later), so that DuckDB refuses a log left by
		// another file, such as the database before a backup was restored over it.
		q.Set("storage_compatibility_version", StorageVersion)
	}
	if cfg.deferCheckpoints {
		q.Set("checkpoint_threshold", "1TB")
	}
	// Nothing is ever downloaded: extensions are neither installed nor loaded on
	// their own (the machines that hold patient data may have no network at all).
	q.Set("autoinstall_known_extensions", "false")
	q.Set("autoload_known_extensions", "false")
	dsn := cfg.Path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		sp.release()
		return nil, openError(cfg.Path, err)
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		sp.release()
		return nil, openError(cfg.Path, err)
	}
	return &DB{DB: db, path: cfg.Path, spill: sp}, nil
}

// Close closes the database and then removes its spill folder, unless another
// handle of this process on the same file still uses it.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.spill != nil {
		if serr := db.spill.release(); err == nil {
			err = serr
		}
		db.spill = nil
	}
	return err
}

func openError(path string, err error) error {
	if strings.Contains(err.Error(), "Could not set lock") || strings.Contains(err.Error(), "Conflicting lock") {
		return fmt.Errorf("open %s: %w; wait for the other process (another etl run, or a client with the file open) to finish, or close it: %v", path, ErrLocked, err)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// Seal shuts the database off from the file system for the rest of its life and
// locks its configuration, so that SQL run on it afterwards (a researcher's query)
// reaches only the database's own tables: no reading files (read_csv, read_text,
// glob), no writing them (COPY ... TO, EXPORT), no ATTACH, no installing or loading
// extensions, and no SET that would undo it. DuckDB holds both settings for the
// whole database, every connection included; call Seal after everything the tool
// itself needs from the file system is done. Sealing twice is harmless.
func (db *DB) Seal(ctx context.Context) error {
	var locked bool
	if err := db.QueryRowContext(ctx, `SELECT CAST(current_setting('lock_configuration') AS BOOLEAN)`).Scan(&locked); err != nil {
		return fmt.Errorf("seal %s: %w", db.path, err)
	}
	if locked {
		return nil
	}
	for _, stmt := range []string{`SET enable_external_access = false`, `SET lock_configuration = true`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("seal %s: %w", db.path, err)
		}
	}
	return nil
}

// Path returns the database file ("" for in-memory).
func (db *DB) Path() string { return db.path }

// Execer is what Migrate needs: a connection or a transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Migration is one schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the schema files of queries/schema in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(queries.FS, "schema")
	if err != nil {
		return nil, fmt.Errorf("read schema files: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("schema file %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(queries.FS, path.Join("schema", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read schema file %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies the schema files the database has not seen yet, in order. Loads run
// it on the working copy of store.Update, so a failed run leaves no half-made schema.
func Migrate(ctx context.Context, x Execer, now time.Time) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := x.QueryRowContext(ctx,
		`SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'schema_migrations'`,
	).Scan(&exists); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	current := 0
	if exists {
		if err := x.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := x.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply schema %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := x.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, ?)`, m.Version, m.Name, now.UTC()); err != nil {
			return fmt.Errorf("record schema %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}
