package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// A spill folder is where DuckDB writes what does not fit in memory. Spilled
// pages are raw table data (a load's scratch tables among them), so the tool makes
// the folder itself, readable by its owner only, one per process and database:
// <temp dir or the database's folder>/.<database name>-<hash>.spill-<pid>. A lock file
// inside is held while the folder is in use; the folder is removed when the last
// handle on the database closes, and a later open removes the folders of processes
// that died (killed, or out of power) before they could.

// spillLockName is the lock file inside a spill folder.
const spillLockName = "lock"

// spillPattern matches the name of a spill folder and gives its process id.
var spillPattern = regexp.MustCompile(`^\..*\.spill-([0-9]+)$`)

// spills counts the open handles on each spill folder of this process. DuckDB shares
// one database instance among the handles that open the same file in one process,
// and with it the spill folder, which must outlive every one of them.
var spills = struct {
	sync.Mutex
	open map[string]*spill
}{open: map[string]*spill{}}

type spill struct {
	dir  string
	lock *os.File
	refs int
}

// spillDir returns the spill folder of a database: in tempDir when given, else
// beside the database file, else (in memory) in the system's temp folder. The name
// holds a hash of the file's absolute path, so that two databases spilling to one
// folder never share a folder, and a number for each in-memory database, which
// DuckDB never shares.
func spillDir(path, tempDir string) string {
	base, name := tempDir, ""
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		sum := sha256.Sum256([]byte(abs))
		name = filepath.Base(path) + "-" + hex.EncodeToString(sum[:4])
		if base == "" {
			base = filepath.Dir(path)
		}
	} else {
		name = fmt.Sprintf("outcomes-memory-%d", memorySpills.Add(1))
	}
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, fmt.Sprintf(".%s.spill-%d", name, os.Getpid()))
}

// memorySpills numbers the in-memory databases of this process.
var memorySpills atomic.Int64

// acquireSpill makes (or shares) the spill folder dir, mode 0700, holding its
// lock, after removing the spill folders that dead processes left beside it.
func acquireSpill(dir string) (*spill, error) {
	spills.Lock()
	defer spills.Unlock()
	if s, ok := spills.open[dir]; ok {
		s.refs++
		return s, nil
	}
	removeStaleSpills(filepath.Dir(dir))
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("make the spill folder %s: %w", dir, err)
	}
	// A folder of this name is left by an earlier process with this process's id:
	// nothing in it is in use.
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the spill folder %s: %w; give a folder you can write with --temp-dir", dir, err)
	}
	// The mode given to Mkdir is narrowed by the umask only; set it outright.
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("restrict the spill folder %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, spillLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = flockExclusive(lock)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock the spill folder %s: %w", dir, err)
	}
	s := &spill{dir: dir, lock: lock, refs: 1}
	spills.open[dir] = s
	return s, nil
}

// release drops a handle on the spill folder; the last one removes it.
func (s *spill) release() error {
	spills.Lock()
	defer spills.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(spills.open, s.dir)
	err := os.RemoveAll(s.dir)
	s.lock.Close()
	if err != nil {
		return fmt.Errorf("remove the spill folder %s: %w", s.dir, err)
	}
	return nil
}

// removeStaleSpills removes the spill folders in base whose process is gone: their
// lock is free (or was never taken, and the process id is not running).
func removeStaleSpills(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := spillPattern.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if _, mine := spills.open[dir]; mine {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || !spillAbandoned(dir, pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// spillAbandoned reports whether no live process holds the spill folder dir.
func spillAbandoned(dir string, pid int) bool {
	f, err := os.OpenFile(filepath.Join(dir, spillLockName), os.O_RDWR, 0)
	if err != nil {
		// No lock file: the process died between making the folder and locking it,
		// or it is not a folder of ours. Only a process that no longer runs lets go.
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	defer f.Close()
	if err := flockExclusive(f); err != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// flockExclusive takes an exclusive lock on f without waiting. The lock belongs to
// the open file, so it goes when the process does, however it ends.
func flockExclusive(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
