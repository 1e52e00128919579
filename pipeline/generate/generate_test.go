package generate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameSeedSameFiles(t *testing.T) {
	for _, messy := range []bool{false, true} {
		gen := func(seed uint64) map[string][]byte {
			dir := t.TempDir()
			if _, err := Generate(context.Background(), Config{Patients: 200, Seed: seed, Messy: messy}, dir); err != nil {
				t.Fatal(err)
			}
			return readAll(t, dir)
		}
		a, b, c := gen(3), gen(3), gen(4)
		if len(a) < 6 {
			t.Fatalf("messy=%v: only %d files written", messy, len(a))
		}
		for name, body := range a {
			if !bytes.Equal(body, b[name]) {
				t.Errorf("messy=%v: %s differs between two runs with the same seed", messy, name)
			}
		}
		if bytes.Equal(a[filepath.Join(map[bool]string{true: "export-1", false: ""}[messy], "sessions.csv")],
			c[filepath.Join(map[bool]string{true: "export-1", false: ""}[messy], "sessions.csv")]) {
			t.Errorf("messy=%v: a different seed gave the same sessions", messy)
		}
	}
}

// TestMessKeepsTheUnderlyingData checks that a messy generation describes the same
// people as a clean one with the same seed: the defects are drawn separately.
func TestMessKeepsTheUnderlyingData(t *testing.T) {
	clean, err := Generate(context.Background(), Config{Patients: 300, Seed: 9}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	messy, err := Generate(context.Background(), Config{Patients: 300, Seed: 9, Messy: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if clean.Core["episodes"] != messy.Core["episodes"] || clean.Core["patients"] != messy.Core["patients"] {
		t.Errorf("clean %v and messy %v describe different episodes", clean.Core, messy.Core)
	}
	if messy.Core["sessions"] > clean.Core["sessions"] || messy.Core["sessions"] < clean.Core["sessions"]*99/100 {
		t.Errorf("messy keeps %d of %d sessions loadable", messy.Core["sessions"], clean.Core["sessions"])
	}
	if len(messy.Injected) < 8 || messy.Corrected == 0 || messy.Repeats == 0 {
		t.Errorf("messy generation injected too little: %v, %d corrected, %d repeats", messy.Injected, messy.Corrected, messy.Repeats)
	}
}

func TestProgramsFitTheirLevelOfCare(t *testing.T) {
	for _, p := range programs() {
		h := p.hours()
		switch {
		case p.level == "IOP" && p.adolescent && (h < 6 || h > 19):
			t.Errorf("%s: %.1f hours a week; an adolescent IOP has 6-19", p.name, h)
		case p.level == "IOP" && !p.adolescent && (h < 9 || h > 19):
			t.Errorf("%s: %.1f hours a week; an IOP has 9-19", p.name, h)
		case p.level == "PHP" && h < 20:
			t.Errorf("%s: %.1f hours a week; a PHP has 20 or more", p.name, h)
		}
	}
}
