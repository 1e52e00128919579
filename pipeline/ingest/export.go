package ingest

import (
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
)

// export is an export file held open from its hashing to the end of the run. The
// loader hashes, counts and reads the bytes of this one open file (DuckDB reads a
// copy of them made as it reads, keyedcsv.go), never its name again: the name is
// taken literally (DuckDB would read programs_[x].csv as a glob pattern), and a file
// renamed over the name during the run does not change what is loaded, so the
// ledger's hash is of the bytes loaded.
// A file written in place while it is read is caught by changed.
type export struct {
	path string
	f    *os.File
	at   identity // when opened
}

// identity is what changes when a file is written or replaced: its device and inode,
// size and modification time. (Not its change time: that moves also when another
// file is renamed over its name, which does not change what the open file holds.)
type identity struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func identityOf(info os.FileInfo) identity {
	id := identity{size: info.Size(), mtime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id
}

// regular refuses what is not a regular file (a FIFO, a device, a socket): reading
// one could hang the run or never end.
func regular(p string, info os.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is not a regular file (%v); an export is a CSV file or an XLSX workbook saved on disk", p, info.Mode().Type())
}

// openExport opens an export file for reading. It never blocks on a FIFO: the file
// is checked before it is opened, and again once open.
func openExport(p string) (*export, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if err := regular(p, info); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err = f.Stat()
	if err == nil {
		err = regular(p, info)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &export{path: p, f: f, at: identityOf(info)}, nil
}

// reader reads the open file from its start.
func (e *export) reader() io.Reader { return io.NewSectionReader(e.f, 0, math.MaxInt64) }

// changed reports whether the open file was written since it was opened; with byName
// (a workbook, which is read by its name) also whether another file took its name.
func (e *export) changed(byName bool) bool {
	info, err := e.f.Stat()
	if err != nil || identityOf(info) != e.at {
		return true
	}
	if byName {
		info, err := os.Stat(e.path)
		return err != nil || identityOf(info) != e.at
	}
	return false
}

func (e *export) Close() error { return e.f.Close() }
