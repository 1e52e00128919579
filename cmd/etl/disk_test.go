package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// TestFullDiskLeavesTheDatabase runs a load that cannot fit: etl runs under a file
// size limit (RLIMIT_FSIZE, as a full disk refuses a write) a little above the
// database's size. The run must fail with a clear error and leave the database file
// byte for byte as it was; the same load without the limit then commits.
func TestFullDiskLeavesTheDatabase(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to set the file size limit")
	}
	c := newCLI(t)
	if _, _, err := c.run(sampleData); err != nil {
		t.Fatal(err)
	}
	before := sum(t, c.db)
	info, err := os.Stat(c.db)
	if err != nil {
		t.Fatal(err)
	}
	big := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"generate", "--out", big, "--patients", "2000", "--seed", "5"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	limitKiB := info.Size()/1024 + 2048 // the copy fits; the load does not
	cmd := exec.Command("bash", "-c", `trap '' XFSZ; ulimit -f "$0" && exec "$@"`, strconv.FormatInt(limitKiB, 10),
		self, "--db", c.db, "--key-file", c.key, "--progress", "never", big)
	cmd.Env = append(os.Environ(), "ETL_TEST_AS_COMMAND=1", pseudo.EnvKey+"=")
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the load fit under a %d KiB file limit:\n%s", limitKiB, b)
	}
	msg := string(b)
	if strings.Contains(msg, "panic") || !strings.Contains(msg, "the disk is full") {
		t.Fatalf("no clear error:\n%s", msg)
	}
	t.Logf("under the limit: %v\n%s", err, msg[max(0, len(msg)-400):])
	if sum(t, c.db) != before {
		t.Fatal("the failed load changed the database file")
	}
	if o, _, err := c.run("--progress", "never", big); err != nil || !strings.Contains(o, "committed") {
		t.Fatalf("the load without the limit: %v\n%s", err, o)
	}
}
