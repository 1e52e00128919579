package profile

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/iop-outcomes/outcomes/profiles"
)

// FuzzProfileYAML reads mutated profile files: each is a profile or an error that
// names the file, never a panic.
func FuzzProfileYAML(f *testing.F) {
	entries, _ := fs.ReadDir(profiles.FS, ".")
	for _, e := range entries {
		b, _ := fs.ReadFile(profiles.FS, e.Name())
		f.Add(b)
	}
	f.Add([]byte("name: x\ntables:\n  - source: a\n    entity: sessions\n    columns: {session_id: [1, 2]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parse("fuzz.yaml", b, func(string) ([]byte, error) { return nil, errors.New("no staging models here") })
		if err != nil {
			if len(err.Error()) < len("fuzz.yaml") || err.Error()[:len("fuzz.yaml")] != "fuzz.yaml" {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if p.Name == "" || len(p.Tables) == 0 {
			t.Fatalf("profile without a name or tables accepted: %+v", p)
		}
		for _, tb := range p.Tables {
			if tb.Staging == "" || len(tb.Columns) == 0 {
				t.Fatalf("table %s without a staging model or columns", tb.Source)
			}
		}
	})
}
