package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSpillFolderIsPrivateAndCleanedUp opens a database with a temp folder that
// holds the spill folders of a process that died (its lock free) and of one that
// died before locking (its process gone), and one of a live process: the open
// removes the dead ones, spills into a folder of its own with mode 0700 under a
// loose umask, keeps the live one, and Close removes its own.
func TestSpillFolderIsPrivateAndCleanedUp(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	temp := t.TempDir()
	// A process that has exited gives a process id that no longer runs.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := gone.ProcessState.Pid()
	dead := filepath.Join(temp, fmt.Sprintf(".x.duckdb-00000000.spill-%d", deadPID))
	unlocked := filepath.Join(temp, ".y.duckdb-00000000.spill-1")
	noLock := filepath.Join(temp, fmt.Sprintf(".z.duckdb-00000000.spill-%d", deadPID+1000000))
	live := filepath.Join(temp, fmt.Sprintf(".w.duckdb-00000000.spill-%d", os.Getppid()))
	for _, d := range []string{dead, unlocked, noLock, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "duckdb_temp_storage_DEFAULT-0.tmp"), []byte("MRN0000001"), 0o600)
	}
	for _, d := range []string{dead, unlocked} {
		os.WriteFile(filepath.Join(d, spillLockName), nil, 0o600)
	}
	// The live folder's lock is held, as its process would hold it.
	os.WriteFile(filepath.Join(live, spillLockName), nil, 0o600)
	held, err := acquireLockForTest(filepath.Join(live, spillLockName))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "a.duckdb"), TempDir: temp, MemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	var spillTo string
	if err := db.QueryRow(`SELECT current_setting('temp_directory')`).Scan(&spillTo); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(spillTo) != temp || spillTo == temp {
		t.Errorf("DuckDB spills to %s, want a folder of its own inside %s", spillTo, temp)
	}
	if info, err := os.Stat(spillTo); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("spill folder %s: mode %v (%v), want 0700", spillTo, info.Mode().Perm(), err)
	}
	for _, d := range []string{dead, unlocked, noLock} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("the dead process's spill folder %s was kept", d)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live process's spill folder was removed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spillTo); err == nil {
		t.Errorf("Close left the spill folder %s", spillTo)
	}
}

// acquireLockForTest holds the lock of a spill folder as another process would.
func acquireLockForTest(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
