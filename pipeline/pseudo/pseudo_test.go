package pseudo

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestMACMatchesRFC4231 checks the keyed hash against RFC 4231 test cases 6 and 7
// (HMAC-SHA-256 with a key longer than the block size).
func TestMACMatchesRFC4231(t *testing.T) {
	key, err := New(bytes.Repeat([]byte{0xaa}, 131), "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ data, want string }{
		{"Test Using Larger Than Block-Size Key - Hash Key First",
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
			"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(key.mac([]byte(tc.data))); got != tc.want {
			t.Errorf("HMAC(%.20q...) = %s, want %s", tc.data, got, tc.want)
		}
	}
}

func TestPseudonym(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, 32), "a")
	b, _ := New(bytes.Repeat([]byte{2}, 32), "b")
	p := a.Pseudonym("patient", "MRN0001")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(p) {
		t.Errorf("pseudonym %q is not 32 hex characters", p)
	}
	if p != hex.EncodeToString(a.mac([]byte("patient\x1fMRN0001"))[:16]) {
		t.Error("pseudonym is not the first 128 bits of HMAC(kind 0x1f id)")
	}
	for _, other := range []string{a.Pseudonym("clinician", "MRN0001"), a.Pseudonym("patient", "MRN0002"), b.Pseudonym("patient", "MRN0001")} {
		if other == p {
			t.Errorf("pseudonym %s repeats for a different kind, id or key", p)
		}
	}
	if a.Pseudonym("patient", "MRN0001") != p {
		t.Error("pseudonym is not stable")
	}
}

func TestKeyFile(t *testing.T) {
	t.Setenv(EnvKey, "")
	file := filepath.Join(t.TempDir(), "sub", "site.key")
	if _, err := Load(file); !errors.Is(err, ErrNoKey) {
		t.Fatalf("load of a missing key file: %v, want ErrNoKey", err)
	}
	k, err := Create(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	again, err := Load(file)
	if err != nil || again.Fingerprint() != k.Fingerprint() {
		t.Fatalf("key read back differs (%v)", err)
	}
	if _, err := Create(file); err == nil {
		t.Error("Create overwrote an existing key file")
	}
	t.Setenv(EnvKey, "abcd")
	if _, err := Load(file); err == nil {
		t.Error("a 2-byte key from the environment was accepted")
	}
	t.Setenv(EnvKey, hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	env, err := Load(file)
	if err != nil || env.Fingerprint() == k.Fingerprint() || env.Source != "$"+EnvKey {
		t.Errorf("the environment key did not take precedence (%v)", err)
	}
}
