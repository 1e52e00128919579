package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// TestKilledSpillingLoadLeavesNoIdentifiers loads a generated export under a memory
// limit small enough that DuckDB spills to --temp-dir, kills the load while its
// spill files exist, and searches every file left in the spill folder and beside the
// database for the export's original patient and clinician ids: none may be there.
// The spill folder must be the owner's only, and the next run must remove it.
func TestKilledSpillingLoadLeavesNoIdentifiers(t *testing.T) {
	c := newCLI(t)
	export := filepath.Join(t.TempDir(), "export")
	if _, err := generate.Generate(context.Background(), generate.Config{Patients: 3000, Seed: 5}, export); err != nil {
		t.Fatal(err)
	}
	ids := exportIDs(t, export)
	if len(ids) < 3000 {
		t.Fatalf("found only %d ids in the export", len(ids))
	}
	temp := filepath.Join(t.TempDir(), "spill")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "--db", c.db, "--key-file", c.key, "--progress", "never", "--no-models",
		"--memory-limit", "64MB", "--threads", "1", "--temp-dir", temp, export)
	cmd.Env = append(os.Environ(), "ETL_TEST_AS_COMMAND=1", pseudo.EnvKey+"=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Kill the load once DuckDB has spilled a good part of the export's rows.
	const enough = 8 << 20
	spilled, size := "", int64(0)
	for size < enough {
		select {
		case err := <-done:
			t.Fatalf("the load ended (%v) having spilled %d bytes; lower its memory limit\n%s", err, size, out.String())
		case <-time.After(2 * time.Millisecond):
		}
		size = 0
		filepath.WalkDir(temp, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "duckdb_temp") {
				if info, err := d.Info(); err == nil {
					spilled = p
					size += info.Size()
				}
			}
			return nil
		})
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	t.Logf("killed the load once it had spilled %d bytes, to %s", size, filepath.Dir(spilled))

	// The spill folder is the owner's only, and so is every file in it.
	dir := filepath.Dir(spilled)
	if dir == temp {
		t.Errorf("DuckDB spilled straight into --temp-dir %s, not into a folder of the tool's own", temp)
	} else if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("spill folder %s: mode %v (%v), want 0700", dir, info.Mode().Perm(), err)
	}

	// No original identifier in any file the killed load left.
	searched := 0
	for _, root := range []string{temp, filepath.Dir(c.db)} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
				return nil
			}
			searched++
			for _, id := range ids {
				if bytes.Contains(b, []byte(id)) {
					t.Errorf("%s (%d bytes) holds the original id %s", p, len(b), id)
					return nil
				}
			}
			return nil
		})
	}
	if searched == 0 {
		t.Error("found no file to search")
	}

	// The next run removes what the killed one left, and its own folder at the end.
	if _, _, err := c.run("--no-models", "--progress", "never", "--temp-dir", temp, export); err != nil {
		t.Fatalf("the run after the kill: %v", err)
	}
	filepath.WalkDir(temp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != temp {
			t.Errorf("%s is left in --temp-dir after the next run", p)
		}
		return nil
	})
}

// exportIDs returns every patient and clinician id of the export's CSV files.
func exportIDs(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".csv") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			return nil
		}
		for i, h := range recs[0] {
			if h != "patient_id" && h != "clinician_id" {
				continue
			}
			for _, r := range recs[1:] {
				if i < len(r) && r[i] != "" {
					seen[r[i]] = true
				}
			}
		}
		return nil
	})
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	return ids
}
