package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMEndsTheRunCleanly sends SIGTERM (and SIGINT) to etl at moments spread
// over a load and its model rebuild: each time the run ends within seconds, says it
// was interrupted, leaves the database byte for byte as it was and no working file.
func TestSIGTERMEndsTheRunCleanly(t *testing.T) {
	c, before, start := interruptible(t, 2000, 7)
	// Time one whole run on a copy of the database, to spread the signals over it.
	cp := filepath.Join(t.TempDir(), "copy.duckdb")
	b, _ := os.ReadFile(c.db)
	os.WriteFile(cp, b, 0o600)
	timed := start()
	timed.Args[2] = cp
	t0 := time.Now()
	if o, err := timed.CombinedOutput(); err != nil {
		t.Fatalf("a whole run: %v\n%s", err, o)
	}
	whole := time.Since(t0)
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM, syscall.SIGTERM} {
		// Within the first half of a run: a run can go twice as fast as the timed
		// one on a shared machine, and a signal after its end interrupts nothing.
		delay := whole * time.Duration(i+1) / 10
		cmd := start()
		var o bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &o
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v after %v: etl was still running 15 s later\n%s", sig, delay, o.String())
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(o.String(), "interrupted") || strings.Contains(o.String(), "panic") {
			t.Errorf("%v after %v: %v, want exit 1 saying it was interrupted:\n%s", sig, delay, err, o.String())
		}
		if sum(t, c.db) != before {
			t.Fatalf("%v after %v: the database file changed", sig, delay)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(c.db), ".outcomes.duckdb.loading")); !os.IsNotExist(err) {
			t.Errorf("%v after %v: the working file was left behind (%v)", sig, delay, err)
		}
		t.Logf("%v after %v of %v: ended cleanly", sig, delay, whole)
	}
}
