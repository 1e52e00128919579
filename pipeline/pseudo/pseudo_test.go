package pseudo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// testSecret is a fixed 32-byte secret that looks random, made from a label.
func testSecret(label string) []byte {
	s := sha256.Sum256([]byte(label))
	return s[:]
}

func testKey(t *testing.T, label string) Key {
	t.Helper()
	k, err := New(testSecret(label), label)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyFileOpenToOthersRefused writes a good key into files of every mode that
// gives group or others a bit, and checks that Load refuses each, naming the file
// and the chmod that fixes it, and accepts it after that chmod.
func TestKeyFileOpenToOthersRefused(t *testing.T) {
	t.Setenv(EnvKey, "")
	text := hex.EncodeToString(testSecret("file")) + "\n"
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o666, 0o660, 0o606, 0o700 | 0o070} {
		t.Run(mode.String(), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "site.key")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file)
			if !errors.Is(err, ErrKeyFileMode) {
				t.Fatalf("key file of mode %v: %v, want ErrKeyFileMode", mode, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "chmod 600 "+file) || strings.Contains(msg, strings.TrimSpace(text)) {
				t.Errorf("message does not say chmod 600 %s, or shows the key: %s", file, msg)
			}
			if err := os.Chmod(file, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(file); err != nil {
				t.Errorf("after chmod 600: %v", err)
			}
		})
	}
}

// TestWeakKeysRefused gives keys that were not drawn at random through each way in:
// New, the environment variable and a key file.
func TestWeakKeysRefused(t *testing.T) {
	pattern := func(p []byte, n int) []byte { return bytes.Repeat(p, n/len(p)+1)[:n] }
	few := make([]byte, 32)
	for i := range few {
		few[i] = byte(i % 15) // 15 distinct values, no period
	}
	few[31], few[30] = few[30], few[31]
	cases := map[string][]byte{
		"all zero":            make([]byte, 32),
		"all 0xff, 64 bytes":  bytes.Repeat([]byte{0xff}, 64),
		"two bytes repeated":  pattern([]byte{0xde, 0xad}, 32),
		"16 bytes twice":      pattern(testSecret("half")[:16], 32),
		"7-byte pattern":      pattern([]byte("secret!"), 33),
		"15 distinct values":  few,
		"ascii digits as key": []byte("01234567890123456789012345678901"),
	}
	for name, secret := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(secret, "test"); !errors.Is(err, ErrWeakKey) {
				t.Errorf("New: %v, want ErrWeakKey", err)
			}
			t.Setenv(EnvKey, hex.EncodeToString(secret))
			if _, err := Load(filepath.Join(t.TempDir(), "none.key")); !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), "$"+EnvKey) {
				t.Errorf("from $%s: %v, want ErrWeakKey naming the variable", EnvKey, err)
			}
			t.Setenv(EnvKey, "")
			file := filepath.Join(t.TempDir(), "site.key")
			if err := os.WriteFile(file, []byte(hex.EncodeToString(secret)), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(file); !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), file) {
				t.Errorf("from a file: %v, want ErrWeakKey naming the file", err)
			}
		})
	}
	// Keys drawn at random pass, many times over.
	for i := 0; i < 1000; i++ {
		if _, err := New(testSecret(strings.Repeat("x", i)), "random"); err != nil {
			t.Fatalf("a random key was refused: %v", err)
		}
	}
}

// TestCreatedKeyIsPrivate creates a key under the loosest umask: the file must
// still be 0600 and a folder it made 0700, and Load must accept it.
func TestCreatedKeyIsPrivate(t *testing.T) {
	t.Setenv(EnvKey, "")
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	file := filepath.Join(t.TempDir(), "a", "b", "site.key")
	if _, err := Create(file); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700, filepath.Dir(filepath.Dir(file)): 0o700} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, info.Mode().Perm(), err, want)
		}
	}
	if _, err := Load(file); err != nil {
		t.Errorf("the created key is refused: %v", err)
	}
}

// TestMACMatchesRFC4231 checks the keyed hash against RFC 4231 test cases 6 and 7
// (HMAC-SHA-256 with a key longer than the block size).
func TestMACMatchesRFC4231(t *testing.T) {
	// RFC 4231's key is one byte repeated, which New refuses as not random: make
	// the key directly.
	key := Key{secret: bytes.Repeat([]byte{0xaa}, 131), Source: "test"}
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
	a, b := testKey(t, "a"), testKey(t, "b")
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

// TestHasherReused checks that one Hasher, used for identifier after identifier of
// several kinds, gives each the pseudonym of a fresh HMAC of kind 0x1f id.
func TestHasherReused(t *testing.T) {
	key := testKey(t, "a")
	h := key.Hasher()
	var buf []byte
	for i := range 300 {
		kind := []string{"patient", "episode", "clinician"}[i%3]
		id := fmt.Sprintf("ID-%0*d", i%40, i)
		buf = h.Append(buf[:0], kind, []byte(id))
		want := hex.EncodeToString(key.mac([]byte(kind + "\x1f" + id))[:16])
		if string(buf) != want {
			t.Fatalf("pseudonym %d (%s %s) = %s, want %s", i, kind, id, buf, want)
		}
	}
	if got := string(h.Append([]byte("x:"), "patient", []byte("MRN0001"))); got != "x:"+key.Pseudonym("patient", "MRN0001") {
		t.Errorf("Append to text = %q, want it after the text", got)
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
	if dir, err := os.Stat(filepath.Dir(file)); err != nil || dir.Mode().Perm() != 0o700 {
		t.Fatalf("key folder mode %v (%v), want 0700", dir.Mode().Perm(), err)
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
	t.Setenv(EnvKey, hex.EncodeToString(testSecret("env")))
	env, err := Load(file)
	if err != nil || env.Fingerprint() == k.Fingerprint() || env.Source != "$"+EnvKey {
		t.Errorf("the environment key did not take precedence (%v)", err)
	}
}
