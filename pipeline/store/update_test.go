package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func sum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}
	kept, err := Update(ctx, cfg, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `CREATE TABLE t AS SELECT 1 AS v`)
		return true, err
	})
	if err != nil || !kept {
		t.Fatalf("first update: kept %v, %v", kept, err)
	}
	before := sum(t, cfg.Path)
	boom := errors.New("boom")
	for name, fn := range map[string]func(db *DB) (bool, error){
		"error": func(db *DB) (bool, error) {
			db.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
			return true, boom
		},
		"not kept": func(db *DB) (bool, error) {
			db.ExecContext(ctx, `INSERT INTO t VALUES (3)`)
			return false, nil
		},
	} {
		if kept, err := Update(ctx, cfg, fn); kept || (name == "error" && !errors.Is(err, boom)) {
			t.Errorf("%s: kept %v, err %v", name, kept, err)
		}
		if sum(t, cfg.Path) != before {
			t.Errorf("%s: the database file changed", name)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.Path), ".x.duckdb.loading")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("working file left behind (%v)", err)
	}
	// A working file left by a killed run does not get in the way.
	os.WriteFile(filepath.Join(filepath.Dir(cfg.Path), ".x.duckdb.loading"), []byte("partial"), 0o600)
	if kept, err := Update(ctx, cfg, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (4)`)
		return true, err
	}); !kept || err != nil {
		t.Fatalf("update after a stale working file: kept %v, %v", kept, err)
	}
	db, err := Open(ctx, Config{Path: cfg.Path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, total int
	if err := db.QueryRow(`SELECT count(*), sum(v) FROM t`).Scan(&n, &total); err != nil || n != 2 || total != 5 {
		t.Errorf("table has %d rows summing to %d (%v); want 2 rows (1 and 4)", n, total, err)
	}
	if info, _ := os.Stat(cfg.Path); info.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", info.Mode().Perm())
	}
}

func TestConcurrentUpdatesAreRefused(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}
	_, err := Update(ctx, cfg, func(db *DB) (bool, error) {
		_, inner := Update(ctx, cfg, func(*DB) (bool, error) { return true, nil })
		if !errors.Is(inner, ErrBusy) {
			t.Errorf("a second update while one runs: %v, want ErrBusy", inner)
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("schema file %d is numbered %d; number them 1, 2, 3 without gaps", i+1, m.Version)
		}
	}
}

// TestUpdateFoldsAnotherClientsLog checks that changes another client committed but
// left in the write-ahead log are kept, and that the log is not replayed onto the new
// file.
func TestUpdateFoldsAnotherClientsLog(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}
	if _, err := Update(ctx, cfg, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER, name VARCHAR); INSERT INTO t VALUES (1, 'one'), (2, 'two')`)
		return true, err
	}); err != nil {
		t.Fatal(err)
	}
	// Another client changes row 2 and leaves its log behind, as a killed client does.
	other, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	other.ExecContext(ctx, `SET checkpoint_threshold = '1TB'`)
	if _, err := other.ExecContext(ctx, `UPDATE t SET name = 'two, edited' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(cfg.Path + ".wal")
	db, _ := os.ReadFile(cfg.Path)
	other.Close()
	// Put the file back as the killed client left it: the log not yet folded in.
	os.WriteFile(cfg.Path, db, 0o600)
	os.WriteFile(cfg.Path+".wal", wal, 0o600)
	if len(wal) == 0 {
		t.Fatal("the other client left no write-ahead log to test with")
	}
	if _, err := Update(ctx, cfg, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `UPDATE t SET name = 'one, updated' WHERE id = 1`)
		return true, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Path + ".wal"); err == nil {
		t.Error("a write-ahead log is left beside the new file")
	}
	r, err := Open(ctx, Config{Path: cfg.Path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var one, two string
	r.QueryRow(`SELECT (SELECT name FROM t WHERE id = 1), (SELECT name FROM t WHERE id = 2)`).Scan(&one, &two)
	if one != "one, updated" || two != "two, edited" {
		t.Errorf("rows read %q and %q; want the run's change and the other client's", one, two)
	}
}

// TestUpdateFollowsASymbolicLink updates a database named by a symbolic link (in
// another folder): the load lands in the file the link points to, and the link stays
// a link. A link that points nowhere is refused.
func TestUpdateFollowsASymbolicLink(t *testing.T) {
	ctx := context.Background()
	real := filepath.Join(t.TempDir(), "real.duckdb")
	link := filepath.Join(t.TempDir(), "link.duckdb")
	if _, err := Update(ctx, Config{Path: real}, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `CREATE TABLE t AS SELECT 1 AS v`)
		return true, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if kept, err := Update(ctx, Config{Path: link}, func(db *DB) (bool, error) {
		_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
		return true, err
	}); !kept || err != nil {
		t.Fatalf("update through the link: kept %v, %v", kept, err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced (%v)", err)
	}
	db, err := Open(ctx, Config{Path: real, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n)
	db.Close()
	if err != nil || n != 2 {
		t.Errorf("the real database has %d rows (%v), want 2: the load did not reach it", n, err)
	}
	dangling := filepath.Join(t.TempDir(), "dangling.duckdb")
	if err := os.Symlink(filepath.Join(t.TempDir(), "none.duckdb"), dangling); err != nil {
		t.Fatal(err)
	}
	if kept, err := Update(ctx, Config{Path: dangling}, func(db *DB) (bool, error) { return true, nil }); kept || err == nil {
		t.Errorf("a link to nothing: kept %v, %v", kept, err)
	}
}
