package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMain lets the test binary act as the report command, so that a test can run
// it as a separate process under limits.
func TestMain(m *testing.M) {
	if os.Getenv("REPORT_TEST_AS_COMMAND") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// folderSums returns the SHA-256 of every file in dir, by name.
func folderSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums[e.Name()] = hex.EncodeToString(h[:])
	}
	return sums
}

// TestReportSetIsWrittenWhole writes a report, then writes another one over it in a
// process that cannot finish (a file size limit, as a full disk refuses a write): the
// folder must hold the first set exactly, with no stray files. The same run without
// the limit then replaces the set, and its manifest names the other files' hashes.
func TestReportSetIsWrittenWhole(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to set the file size limit")
	}
	db := sampleDB(t)
	out := filepath.Join(t.TempDir(), "report")
	if _, err := runCLI(t, "--db", db, "--out", out); err != nil {
		t.Fatal(err)
	}
	before := folderSums(t, out)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// 256 KiB: the workbook and manifest fit, the page (the charting library inlined)
	// does not.
	cmd := exec.Command("bash", "-c", `trap '' XFSZ; ulimit -f 256 && exec "$@"`, "bash",
		self, "--db", db, "--out", out, "--audience", "external")
	cmd.Env = append(os.Environ(), "REPORT_TEST_AS_COMMAND=1")
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the report fit under the limit:\n%s", b)
	}
	if msg := string(b); strings.Contains(msg, "panic") || !strings.Contains(msg, "report.html") {
		t.Errorf("no clear error:\n%s", msg)
	}
	if diff := cmp.Diff(before, folderSums(t, out)); diff != "" {
		t.Fatalf("a failed report run changed the folder (-want +got):\n%s", diff)
	}
	if _, err := runCLI(t, "--db", db, "--out", out, "--audience", "external"); err != nil {
		t.Fatal(err)
	}
	after := folderSums(t, out)
	var m struct {
		Audience string            `json:"audience"`
		Files    map[string]string `json:"files"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(after, "manifest.json")
	if m.Audience != "external" {
		t.Errorf("manifest audience %q after the second run", m.Audience)
	}
	if diff := cmp.Diff(after, m.Files); diff != "" {
		t.Errorf("the manifest does not name the set's files (-folder +manifest):\n%s", diff)
	}
}
