package ingest

import (
	"github.com/iop-outcomes/outcomes/pipeline/profile"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiscoverOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{
		"export-10/sessions.csv", "export-2/sessions.csv", "export-2/episodes.csv",
		"sessions-week41.csv", "sessions-week9.csv", "programs.csv", "notes.txt",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	files, ignored, err := Discover([]string{dir}, profile.CanonicalProfile())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, rel)
	}
	want := []string{"programs.csv", "export-2/episodes.csv", "export-2/sessions.csv", "export-10/sessions.csv",
		"sessions-week9.csv", "sessions-week41.csv"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("load order (-want +got):\n%s", diff)
	}
	if len(ignored) != 1 {
		t.Errorf("ignored %v, want notes.txt", ignored)
	}
	if _, _, err := Discover([]string{filepath.Join(dir, "notes.txt")}, profile.CanonicalProfile()); err == nil {
		t.Error("a named .txt file was accepted")
	}
}
