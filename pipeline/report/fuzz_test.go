package report

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/iop-outcomes/outcomes/dashboards"
)

// FuzzDashboardYAML reads mutated section files: each is a section that passes its
// checks or an error that names the file, never a panic.
func FuzzDashboardYAML(f *testing.F) {
	names, _ := fs.Glob(dashboards.FS, "*.yaml")
	for _, n := range names {
		b, _ := fs.ReadFile(dashboards.FS, n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := LoadSections(context.Background(), fstest.MapFS{"fuzz.yaml": {Data: b}}, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(secs) != 1 || secs[0].Title == "" || len(secs[0].Columns) == 0 {
			t.Fatalf("incomplete section accepted: %+v", secs)
		}
	})
}

// FuzzTargetsYAML reads mutated targets files: targets or an error, never a panic.
func FuzzTargetsYAML(f *testing.F) {
	f.Add([]byte("measures:\n  completion_rate: {target: 0.6}\n  admissions: {target: 40, direction: higher}\nprograms:\n  P1:\n    attendance_rate: {target: 0.8, direction: lower}\n"))
	f.Add([]byte("measures: {retention_90: {target: 1.5}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "targets.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		tg, err := LoadTargets(p)
		if err != nil {
			return
		}
		for name, m := range tg.Measures {
			if m.Direction != "" && m.Direction != "higher" && m.Direction != "lower" {
				t.Fatalf("measure %s: direction %q accepted", name, m.Direction)
			}
		}
	})
}
