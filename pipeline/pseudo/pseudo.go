// Package pseudo replaces patient and clinician identifiers with keyed pseudonyms at
// ingest (docs/methods.md and the README, Privacy): HMAC-SHA256 under a site key that is kept outside the
// database, so the same person gets the same pseudonym in every load at a site and
// nobody without the key can link a pseudonym back to a record number.
package pseudo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey is the environment variable that may hold the site key, as hex.
const EnvKey = "OUTCOMES_SITE_KEY"

// EnvKeyFile is the environment variable that may name the site key file.
const EnvKeyFile = "OUTCOMES_KEY_FILE"

// minKeyBytes is the shortest key accepted: 256 bits, the HMAC-SHA256 block output.
const minKeyBytes = 32

// minDistinctBytes is the fewest distinct byte values a key may hold. A random
// 32-byte key has about 30; fewer than 16 happens by chance with a probability far
// below 2^-100, so such a key was typed or patterned, not drawn.
const minDistinctBytes = 16

// ErrNoKey is returned by Load when no key is set and the key file does not exist.
var ErrNoKey = errors.New("no site key")

// ErrWeakKey is returned for a key that was not drawn at random: all one byte, a
// short pattern repeated, or too few distinct bytes.
var ErrWeakKey = errors.New("site key is not random")

// ErrKeyFileMode is returned by Load for a key file that group or others may read
// or write.
var ErrKeyFileMode = errors.New("site key file is open to other users")

// Key is a site key.
type Key struct {
	secret []byte
	// Source says where the key came from, for messages (never the key itself).
	Source string
}

// New returns a key for the given secret, which must hold at least 32 bytes drawn
// at random (see weak).
func New(secret []byte, source string) (Key, error) {
	if len(secret) < minKeyBytes {
		return Key{}, fmt.Errorf("site key from %s is %d bytes; it must be at least %d bytes (%d hex characters)", source, len(secret), minKeyBytes, 2*minKeyBytes)
	}
	if why := weak(secret); why != "" {
		return Key{}, fmt.Errorf("%w: the key from %s %s; make a random one (for example: head -c 32 /dev/urandom | xxd -p -c 64), or remove the key file and let etl create one for a new database", ErrWeakKey, source, why)
	}
	return Key{secret: append([]byte(nil), secret...), Source: source}, nil
}

// weak says why a secret cannot have been drawn at random, or "" when nothing says
// so: one byte repeated, a pattern of up to half its length repeated, or fewer than
// minDistinctBytes distinct bytes. It never shows the key's bytes.
func weak(secret []byte) string {
	for period := 1; period <= len(secret)/2; period++ {
		repeats := true
		for i := period; i < len(secret); i++ {
			if secret[i] != secret[i-period] {
				repeats = false
				break
			}
		}
		if repeats {
			if period == 1 {
				return "is one byte repeated"
			}
			return fmt.Sprintf("repeats a pattern of %d bytes", period)
		}
	}
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minDistinctBytes {
		return fmt.Sprintf("has only %d distinct byte values (a random key of %d bytes has about %d)", distinct, len(secret), expectedDistinct(len(secret)))
	}
	return ""
}

// expectedDistinct is the expected number of distinct values among n random bytes.
func expectedDistinct(n int) int {
	missing := 1.0
	for i := 0; i < n; i++ {
		missing *= 255.0 / 256.0
	}
	return int(256*(1-missing) + 0.5)
}

// Parse reads a key written as hex.
func Parse(text, source string) (Key, error) {
	secret, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return Key{}, fmt.Errorf("site key from %s is not hex: write it as %d hex characters", source, 2*minKeyBytes)
	}
	return New(secret, source)
}

// DefaultFile is the key file used when neither flag nor environment names one.
func DefaultFile() string {
	if p := os.Getenv(EnvKeyFile); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "iop-outcomes", "site.key")
}

// Load returns the key from the environment variable OUTCOMES_SITE_KEY when it is
// set, else from file. It returns an error wrapping ErrNoKey when the file does not
// exist, and one wrapping ErrKeyFileMode when group or others may read or write it
// (the key would let them recompute every pseudonym from a record number).
func Load(file string) (Key, error) {
	if v := os.Getenv(EnvKey); v != "" {
		return Parse(v, "$"+EnvKey)
	}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Key{}, fmt.Errorf("key file %s: %w", file, ErrNoKey)
	}
	if err != nil {
		return Key{}, fmt.Errorf("read key file %s: %w", file, err)
	}
	defer f.Close()
	// The mode is read from the file opened, so a swap between the check and the
	// read cannot slip another file in.
	info, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("read key file %s: %w", file, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("%w: %s has mode %04o, so group or others can read or change it; restrict it with: chmod 600 %s (and consider the key exposed: if others may have read it, the pseudonyms of this site can be recomputed)", ErrKeyFileMode, file, perm, file)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return Key{}, fmt.Errorf("read key file %s: %w", file, err)
	}
	return Parse(string(b), file)
}

// Create makes a new random key and writes it to file with mode 0600 (its folder
// 0700), refusing to overwrite an existing file.
func Create(file string) (Key, error) {
	secret := make([]byte, minKeyBytes)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("make site key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return Key{}, fmt.Errorf("make folder for key file %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Key{}, fmt.Errorf("create key file %s: %w", file, err)
	}
	// The process's umask can only take bits away from 0600; set it outright anyway,
	// so that Load, which refuses any group or other bit, accepts the file.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(file)
		return Key{}, fmt.Errorf("restrict key file %s: %w", file, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		os.Remove(file)
		return Key{}, fmt.Errorf("write key file %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(file)
		return Key{}, fmt.Errorf("write key file %s: %w", file, err)
	}
	return New(secret, file)
}

// Pseudonym returns the pseudonym of an identifier of the given kind ("patient",
// "clinician"): the first 128 bits of HMAC-SHA256(key, kind + 0x1f + id), as 32 hex
// characters. The kind keeps a patient and a clinician with the same number apart.
func (k Key) Pseudonym(kind, id string) string {
	return string(k.Hasher().Append(nil, kind, []byte(id)))
}

// Hasher computes pseudonyms one after another with one HMAC, set up with the key
// once: setting it up is a third of the work of a pseudonym. It is not safe for
// concurrent use.
type Hasher struct {
	mac hash.Hash
	sum []byte
}

// Hasher returns a Hasher of pseudonyms under the key.
func (k Key) Hasher() *Hasher {
	return &Hasher{mac: hmac.New(sha256.New, k.secret)}
}

// kindSep ends the kind in the text a pseudonym is the HMAC of.
var kindSep = []byte{0x1f}

// Append appends to dst the pseudonym of the identifier id of the given kind, as
// Pseudonym writes it.
func (h *Hasher) Append(dst []byte, kind string, id []byte) []byte {
	h.mac.Reset()
	h.mac.Write([]byte(kind))
	h.mac.Write(kindSep)
	h.mac.Write(id)
	h.sum = h.mac.Sum(h.sum[:0])
	return hex.AppendEncode(dst, h.sum[:16])
}

// Fingerprint identifies the key without revealing it: HMAC-SHA256 of a fixed label.
func (k Key) Fingerprint() string {
	return hex.EncodeToString(k.mac([]byte("iop-outcomes site key fingerprint v1")))
}

// mac is HMAC-SHA256 under the key of the concatenated parts.
func (k Key) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Valid reports whether the key has been set.
func (k Key) Valid() bool { return len(k.secret) >= minKeyBytes }
