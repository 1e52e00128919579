package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

const programsHeader = "program_id,name,site,level_of_care,planned_weeks,planned_hours_per_week\n"

// TestPathsAreReadLiterally loads files whose names are glob patterns, each beside a
// file the pattern matches: the named file's rows load, never the other's.
func TestPathsAreReadLiterally(t *testing.T) {
	for _, tc := range []struct{ name, decoy string }{
		{"programs_[x].csv", "programs_x.csv"},
		{"programs_?.csv", "programs_a.csv"},
		{"programs_*.csv", "programs_zz.csv"},
		{"programs_{a,b}.csv", "programs_a.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			dir := writeExport(t, map[string]string{
				tc.name:  programsHeader + "P1,Named,North,IOP,8,10\n",
				tc.decoy: programsHeader + "P9,Decoy,South,IOP,8,10\n",
			})
			res := env.load(t, filepath.Join(dir, tc.name))
			db := env.open(t)
			if got := queryStrings(t, db, `SELECT program_id || ' ' || name FROM programs ORDER BY 1`); !cmp.Equal(got, []string{"P1 Named"}) {
				t.Errorf("programs %v, want only the named file's P1", got)
			}
			if len(res.Files) != 1 || res.Files[0].Read != 1 || res.Files[0].SHA256 != fileSum(t, filepath.Join(dir, tc.name)) {
				t.Errorf("ledger %+v", res.Files)
			}
		})
	}
}

// swapper is a progress display that changes a file when its reading starts, as
// another program might while the load runs.
type swapper struct {
	file string
	fn   func()
	done bool
}

func (s *swapper) Begin(int64)   {}
func (s *swapper) Advance(int64) {}
func (s *swapper) End()          {}
func (s *swapper) Stage(file, stage string) {
	if file == s.file && stage == "reading" && !s.done {
		s.done = true
		s.fn()
	}
}

func sumOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestFileChangedDuringLoad changes programs.csv after it was hashed and before it
// is read. Replaced by another file (renamed over it), the run loads the bytes it
// hashed; written over in place, the file is refused with file_changed and no hash
// is recorded for it. Either way the ledger never pairs one content's hash with
// another's rows.
func TestFileChangedDuringLoad(t *testing.T) {
	oldBody := programsHeader + "P1,Old name,North,IOP,8,10\n"
	newBody := programsHeader + "P1,New name,North,IOP,8,10\nP2,Added,South,IOP,8,10\n"
	for _, tc := range []struct {
		name       string
		change     func(t *testing.T, p string)
		programs   []string
		status     string
		sha        string
		rejectWhy  string
		readRows   int64
		rejectRows int64
	}{
		{"renamed over", func(t *testing.T, p string) {
			tmp := p + ".new"
			if err := os.WriteFile(tmp, []byte(newBody), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		}, []string{"P1 Old name"}, StatusLoaded, sumOf(oldBody), "", 1, 0},
		{"written in place", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(newBody), 0o644); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(p, later, later); err != nil {
				t.Fatal(err)
			}
		}, nil, StatusFailed, "", ReasonFileChanged, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			dir := writeExport(t, map[string]string{"programs.csv": oldBody})
			p := filepath.Join(dir, "programs.csv")
			res, err := Run(context.Background(), store.Config{Path: env.db}, []string{p}, Options{
				MaxRejectRate: 1, KeyFile: env.key,
				Progress: &swapper{file: p, fn: func() { tc.change(t, p) }},
			})
			if err != nil {
				t.Fatal(err)
			}
			db := env.open(t)
			if got := queryStrings(t, db, `SELECT program_id || ' ' || name FROM programs ORDER BY 1`); !cmp.Equal(got, tc.programs) {
				t.Errorf("programs %v, want %v", got, tc.programs)
			}
			f := res.Files[0]
			if f.Status != tc.status || f.SHA256 != tc.sha || f.Read != tc.readRows || f.Rejected != tc.rejectRows {
				t.Errorf("ledger %+v, want status %s, sha256 %q, read %d, rejected %d", f, tc.status, tc.sha, tc.readRows, tc.rejectRows)
			}
			if tc.rejectWhy != "" && f.Reasons[tc.rejectWhy] != 1 {
				t.Errorf("reasons %v, want %s", f.Reasons, tc.rejectWhy)
			}
			checkBalanced(t, db)
		})
	}
}

// TestNonRegularFilesAreRefused names a FIFO, and a link to /dev/zero, as exports
// (alone or in a folder): the run is refused at once with the file named, rather than
// waiting forever for a writer or reading without end.
func TestNonRegularFilesAreRefused(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "programs.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zeroDir := t.TempDir()
	zero := filepath.Join(zeroDir, "sessions.csv")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir, zero, zeroDir} {
		want := fifo
		if strings.HasPrefix(path, zeroDir) {
			want = zero
		}
		done := make(chan error, 1)
		go func() {
			_, err := Run(context.Background(), store.Config{Path: env.db}, []string{path}, Options{MaxRejectRate: 1, KeyFile: env.key, Profile: "canonical"})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v, want one that names %s as not a regular file", path, err, want)
			}
		case <-time.After(20 * time.Second):
			// Open the FIFO for writing so the stuck run can end.
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			t.Fatalf("%s: the run waited on the FIFO", path)
		}
	}
}
