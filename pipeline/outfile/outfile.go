// Package outfile writes the files the commands hand to people (reports, extracts,
// query results, the data dictionary): each file whole or not at all, readable by its
// owner only (mode 0600, whatever an older file of the same name had), and a set of
// files that belong together either all new or all as they were.
package outfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Mode is the mode of every file written: the outputs come from protected health
// information.
const Mode = 0o600

// File is one file of a set: its name in the folder and its content.
type File struct {
	Name string
	Data []byte
}

// WriteFile writes data to path as a whole: into a new file beside it (mode 0600),
// synced, then renamed over path. A failure leaves path as it was.
func WriteFile(path string, data []byte) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return WriteSet(dir, []File{{Name: name, Data: data}})
}

// WriteSet writes files into dir (created 0700 if missing) as one set. Every file is
// first written whole to a temporary file in dir and synced; only when all are on
// disk are they renamed into place, in the order given, so the last file (a
// manifest) lands last. If a rename fails, the files already renamed are put back as
// they were (a hard link keeps each old file until the set is in place). A failure
// before the renames, a full disk included, leaves every file of the old set
// untouched; only a crash in the moment between two renames can leave some files
// new and some old, which a manifest written last and naming the others' hashes
// shows.
func WriteSet(dir string, files []File) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	temps := make([]string, len(files))
	defer func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()
	for i, f := range files {
		if f.Name == "" || strings.ContainsRune(f.Name, os.PathSeparator) {
			return fmt.Errorf("write %s: not a file name", f.Name)
		}
		if temps[i], err = writeTemp(dir, f); err != nil {
			return err
		}
	}
	// Keep each old file under a second name until the whole set is in place.
	prevs := make([]string, len(files))
	defer func() {
		for _, p := range prevs {
			if p != "" {
				os.Remove(p)
			}
		}
	}()
	for i, f := range files {
		final := filepath.Join(dir, f.Name)
		p := filepath.Join(dir, "."+f.Name+".prev")
		os.Remove(p)
		if err := os.Link(final, p); err == nil {
			prevs[i] = p
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("keep the old %s until the new set is written: %w", final, err)
		}
	}
	for i, f := range files {
		final := filepath.Join(dir, f.Name)
		if err := os.Rename(temps[i], final); err != nil {
			for j := i - 1; j >= 0; j-- {
				back := filepath.Join(dir, files[j].Name)
				if prevs[j] != "" {
					os.Rename(prevs[j], back)
					prevs[j] = ""
				} else {
					os.Remove(back)
				}
			}
			return fmt.Errorf("write %s: %w; the files of the old set are as they were", final, err)
		}
		temps[i] = ""
	}
	syncDir(dir)
	return nil
}

// writeTemp writes f to a new temporary file in dir, synced and closed, and returns
// its path.
func writeTemp(dir string, f File) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+f.Name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	name := tmp.Name()
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	if err := tmp.Chmod(Mode); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(f.Data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	return name, nil
}

// syncDir makes the renames in dir durable; a failure only weakens durability after
// a power cut, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
