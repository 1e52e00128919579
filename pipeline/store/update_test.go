package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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

// TestMain lets the test binary act as another DuckDB client: with
// STORE_TEST_WRITE set to a database file, it opens the file for writing, commits a
// row and exits (status 3 when it could not); with STORE_TEST_HOLD it writes nothing
// and keeps the file open, after printing "open", until its standard input closes.
func TestMain(m *testing.M) {
	if path := os.Getenv("STORE_TEST_WRITE"); path != "" {
		ctx := context.Background()
		db, err := Open(ctx, Config{Path: path})
		if err == nil && os.Getenv("STORE_TEST_HOLD") != "" {
			fmt.Println("open")
			io.Copy(io.Discard, os.Stdin)
		} else if err == nil {
			_, err = db.ExecContext(ctx, `INSERT INTO t VALUES (100)`)
		}
		if err == nil {
			if cerr := db.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestUpdateLosesNoOtherChange has another client (a separate process) commit to
// the database while an update works on its copy, a client keep it open for writing
// when the update ends, and a backup restored over the file meanwhile. Each time the
// update refuses to replace the file, which keeps the other change.
func TestUpdateLosesNoOtherChange(t *testing.T) {
	ctx := context.Background()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// withTable is a new database of one table, t, written by an update.
	withTable := func(t *testing.T) Config {
		t.Helper()
		cfg := Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}
		if _, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			_, err := db.ExecContext(ctx, `CREATE TABLE t AS SELECT 1 AS v`)
			return true, err
		}); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	t.Run("a client commits", func(t *testing.T) {
		cfg := withTable(t)
		var committed bool
		var clientOut []byte
		kept, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (2)`); err != nil {
				return false, err
			}
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), "STORE_TEST_WRITE="+cfg.Path)
			clientOut, err = cmd.CombinedOutput()
			committed = err == nil
			return true, nil
		})
		t.Logf("client committed: %v %s; update kept %v, %v", committed, clientOut, kept, err)
		db, err2 := Open(ctx, Config{Path: cfg.Path, ReadOnly: true})
		if err2 != nil {
			t.Fatal(err2)
		}
		defer db.Close()
		var client, update int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (v = 100), count(*) FILTER (v = 2) FROM t`).Scan(&client, &update); err != nil {
			t.Fatal(err)
		}
		if !committed || client != 1 || kept || update != 0 || !errors.Is(err, ErrChanged) {
			t.Errorf("client committed %v, its row there %d times; update kept %v, its row there %d times, %v; want the client's change kept and the update refused with %v",
				committed, client, kept, update, err, ErrChanged)
		}
	})
	t.Run("a client holds it open", func(t *testing.T) {
		cfg := withTable(t)
		var stdin io.WriteCloser
		var cmd *exec.Cmd
		kept, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			cmd = exec.Command(self)
			cmd.Env = append(os.Environ(), "STORE_TEST_WRITE="+cfg.Path, "STORE_TEST_HOLD=1")
			var err error
			if stdin, err = cmd.StdinPipe(); err != nil {
				return false, err
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				return false, err
			}
			if err := cmd.Start(); err != nil {
				return false, err
			}
			b := make([]byte, 4)
			if _, err := io.ReadFull(out, b); err != nil || string(b) != "open" {
				return false, fmt.Errorf("the client did not open the file: %q %v", b, err)
			}
			return true, nil
		})
		if stdin != nil {
			stdin.Close()
			cmd.Wait()
		}
		if kept || err == nil {
			t.Errorf("kept %v, %v; want the update refused while a client has the file open for writing", kept, err)
		}
		t.Log(err)
	})
	t.Run("a backup is restored", func(t *testing.T) {
		cfg := withTable(t)
		backup, err := os.ReadFile(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (2)`); err != nil {
				return false, err
			}
			tmp := cfg.Path + ".restored"
			if err := os.WriteFile(tmp, backup, 0o600); err != nil {
				return false, err
			}
			return true, os.Rename(tmp, cfg.Path)
		})
		if kept || !errors.Is(err, ErrChanged) {
			t.Fatalf("kept %v, err %v; want the update refused with %v", kept, err, ErrChanged)
		}
		if sum(t, cfg.Path) != sha256.Sum256(backup) {
			t.Error("the restored file was replaced")
		}
	})
}

// leaveLog has another client change the database and leave its write-ahead log, as
// a killed client does; it returns the log. open opens the database for writing.
func leaveLog(t *testing.T, path string, open func() (*sql.DB, error)) []byte {
	t.Helper()
	other, err := open()
	if err != nil {
		t.Fatal(err)
	}
	other.Exec(`SET checkpoint_threshold = '1TB'`)
	if _, err := other.Exec(`DELETE FROM t WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(path + ".wal")
	db, _ := os.ReadFile(path)
	other.Close()
	os.WriteFile(path, db, 0o600)
	if len(wal) == 0 {
		t.Fatal("the other client left no write-ahead log to test with")
	}
	return wal
}

// TestUpdateRefusesAForeignLog restores a backup of the database beside the
// write-ahead log a crashed client left on the newer file: the update refuses it
// (ErrForeignLog) instead of replaying it onto the backup, and leaves the file and
// the log as they were. A log beside a database of DuckDB's older storage format,
// which cannot say whose it is, is refused too.
func TestUpdateRefusesAForeignLog(t *testing.T) {
	ctx := context.Background()
	t.Run("backup restored", func(t *testing.T) {
		cfg := Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}
		if _, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			_, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2)`)
			return true, err
		}); err != nil {
			t.Fatal(err)
		}
		backup, err := os.ReadFile(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Update(ctx, cfg, func(db *DB) (bool, error) {
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (3)`)
			return true, err
		}); err != nil {
			t.Fatal(err)
		}
		wal := leaveLog(t, cfg.Path, func() (*sql.DB, error) {
			db, err := Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return db.DB, nil
		})
		os.WriteFile(cfg.Path, backup, 0o600)
		os.WriteFile(cfg.Path+".wal", wal, 0o600)
		kept, err := Update(ctx, cfg, func(db *DB) (bool, error) { return true, nil })
		if kept || !errors.Is(err, ErrForeignLog) {
			t.Fatalf("kept %v, err %v; want %v", kept, err, ErrForeignLog)
		}
		t.Log(err)
		if sum(t, cfg.Path) != sha256.Sum256(backup) || sum(t, cfg.Path+".wal") != sha256.Sum256(wal) {
			t.Error("the refused update changed the file or its log")
		}
	})
	t.Run("older storage format", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.duckdb")
		open := func() (*sql.DB, error) { return sql.Open("duckdb", path+"?storage_compatibility_version=v1.0.0") }
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		wal := leaveLog(t, path, open)
		os.WriteFile(path+".wal", wal, 0o600)
		before := sum(t, path)
		kept, err := Update(ctx, Config{Path: path}, func(db *DB) (bool, error) { return true, nil })
		if kept || !errors.Is(err, ErrForeignLog) {
			t.Fatalf("kept %v, err %v; want %v", kept, err, ErrForeignLog)
		}
		t.Log(err)
		if sum(t, path) != before {
			t.Error("the refused update changed the file")
		}
	})
}
