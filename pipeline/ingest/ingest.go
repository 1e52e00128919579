// Package ingest is the load stage of the data flow: it reads export files with
// DuckDB's CSV reader, keys patient identifiers, stages each row through the SQL
// models in queries/staging, records every problem in rejects, applies the rows to the
// core tables (the newer export wins) and keeps the ledger. A run is one atomic
// update of the database file (store.Update): all of it lands, or none.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/profile"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/queries"
)

// ErrRejectRate is returned when more rows were rejected than the run allows; the run
// commits nothing.
var ErrRejectRate = errors.New("reject rate above the limit")

// ErrUnbalanced is returned when a file's rows do not add up: read must equal loaded
// + rejected + duplicate. It means a defect in the loader; the run commits nothing.
var ErrUnbalanced = errors.New("ledger does not balance")

// ErrKey is returned when the site key is missing or is not the one the database was
// built with.
var ErrKey = errors.New("site key problem")

// Options controls a run.
type Options struct {
	// Profile is the source profile of the files: a built-in name or a YAML file
	// (pipeline/profile); empty means detect it from the file names and headers.
	Profile string
	// MaxRejectRate is the share of rows read (0..1) that may be rejected before the
	// run fails and commits nothing.
	MaxRejectRate float64
	// KeyFile is where the site key is read from, and created on a new database.
	KeyFile string
	// Now is the clock; nil means time.Now. Its time in UTC stamps the ledger, and its
	// date in UTC is the load day: dates after it are rejected (future_date) and
	// birth years are top-coded by its year.
	Now func() time.Time
	// Progress receives progress; nil means none.
	Progress Progress
	// Log receives a line per stage; nil means none.
	Log *slog.Logger
	// Then, when set, runs on the working copy after a load that changed something
	// and before it replaces the database (the models rebuild), so that it lands
	// with the load or not at all.
	Then func(ctx context.Context, db *store.DB) error

	// readThenStage makes every CSV file be read whole before it is staged, as a file
	// with quotes is (stageCSV), so that tests can compare the two ways.
	readThenStage bool
}

// Progress is told how a run advances.
type Progress interface {
	// Begin is called once with the total bytes of the files to load.
	Begin(totalBytes int64)
	// Stage names what is being done to which file.
	Stage(file, stage string)
	// Advance adds bytes of files finished.
	Advance(bytes int64)
	// End is called once when the run is over.
	End()
}

// FileResult is the ledger entry of one file.
type FileResult struct {
	Path      string           `json:"path"`
	Entity    string           `json:"entity"`
	SHA256    string           `json:"sha256"`
	Bytes     int64            `json:"bytes"`
	Status    string           `json:"status"`
	Message   string           `json:"message,omitempty"`
	Read      int64            `json:"rows_read"`
	Loaded    int64            `json:"rows_loaded"`
	Inserted  int64            `json:"rows_inserted"`
	Updated   int64            `json:"rows_updated"`
	Rejected  int64            `json:"rows_rejected"`
	Duplicate int64            `json:"rows_duplicate"`
	Reasons   map[string]int64 `json:"reject_reasons,omitempty"`
}

// Result is what a run did.
type Result struct {
	RunID      int          `json:"run_id,omitempty"`
	Profile    string       `json:"profile"`
	Committed  bool         `json:"committed"`
	Files      []FileResult `json:"files"`
	Ignored    []string     `json:"ignored,omitempty"`
	Read       int64        `json:"rows_read"`
	Rejected   int64        `json:"rows_rejected"`
	KeyCreated string       `json:"key_created,omitempty"`
	// Moved counts sessions and observations that followed their episode to another
	// patient; Linked, observations newly linked to an episode; Outside, sessions that
	// now lie outside their episode's dates (kept, and left out of the models).
	Warnings []string `json:"warnings,omitempty"`
	Moved    int64    `json:"rows_moved_with_episode,omitempty"`
	Linked   int64    `json:"observations_linked,omitempty"`
	Outside  int64    `json:"sessions_outside_episode,omitempty"`
}

// File statuses.
const (
	StatusLoaded  = "loaded"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Run loads the export files under paths into the database of cfg as one atomic
// step (store.Update): either every file of the run is applied and the ledger
// balances, or the database is left exactly as it was. It returns the result even
// when the run fails, so the caller can show what was found.
func Run(ctx context.Context, cfg store.Config, paths []string, opt Options) (*Result, error) {
	if opt.MaxRejectRate < 0 || opt.MaxRejectRate > 1 {
		return nil, fmt.Errorf("max reject rate %v: give a share between 0 and 1", opt.MaxRejectRate)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	var prof *profile.Profile
	var err error
	if opt.Profile == "" {
		prof, err = Detect(paths)
	} else {
		prof, err = profile.Load(opt.Profile)
	}
	if err != nil {
		return nil, err
	}
	files, ignored, err := Discover(paths, prof)
	if err != nil {
		return nil, err
	}
	res := &Result{Profile: prof.Name, Ignored: ignored}
	var total int64
	for _, f := range files {
		if info, err := os.Stat(f.Path); err == nil {
			total += info.Size()
		}
	}
	if opt.Progress != nil {
		opt.Progress.Begin(total)
		defer opt.Progress.End()
	}
	created := ""
	kept, err := store.Update(ctx, cfg, func(db *store.DB) (bool, error) {
		var keep bool
		var err error
		keep, created, err = load(ctx, db, prof, files, opt, res)
		if err != nil || !keep || opt.Then == nil {
			return keep, err
		}
		return true, opt.Then(ctx, db)
	})
	if err != nil {
		if m := err.Error(); strings.Contains(m, "No space left") || strings.Contains(m, "File too large") || strings.Contains(m, "Disk quota") {
			err = fmt.Errorf("%w; the disk is full (or a file size limit was reached): free space, or give DuckDB's spill folder room elsewhere with --temp-dir; the database is unchanged", err)
		}
		return res, err
	}
	res.Committed = kept
	if kept {
		res.KeyCreated = created
	}
	return res, nil
}

// load applies files to the working copy of the database. It reports whether the
// copy should replace the original: not when every file had been loaded before.
func load(ctx context.Context, db *store.DB, prof *profile.Profile, files []File, opt Options, res *Result) (keep bool, keyCreated string, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, "", fmt.Errorf("connect to %s: %w", db.Path(), err)
	}
	defer conn.Close()
	started := opt.Now().UTC()
	if err := store.Migrate(ctx, conn, started); err != nil {
		return false, "", err
	}
	key, created, err := siteKey(ctx, conn, opt.KeyFile)
	if err != nil {
		return false, "", err
	}
	for _, name := range []string{"staging/macros.sql", "staging/spans.sql"} {
		macros, err := fs.ReadFile(queries.FS, name)
		if err != nil {
			return false, "", err
		}
		if _, err := conn.ExecContext(ctx, string(macros)); err != nil {
			return false, "", fmt.Errorf("create staging macros: %w", err)
		}
	}
	// load_day() is the day of the load by the run's clock, in UTC: the one date
	// that every date decision of the staging models (a date in the future, a birth
	// year top-coded) is made against, whatever the machine's time zone.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE OR REPLACE TEMP MACRO load_day() AS DATE '%s'`, started.Format(time.DateOnly))); err != nil {
		return false, "", fmt.Errorf("create staging macros: %w", err)
	}
	r := &run{conn: conn, key: key, opt: opt, prof: prof, rows: "src", date1904: map[string]bool{}, exports: map[string]*export{}, scans: map[string]*scanned{},
		keys: &keyer{key: key.Key}}
	defer r.closeExports()
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(run_id), 0) + 1 FROM load_runs`).Scan(&r.id); err != nil {
		return false, "", fmt.Errorf("next run id: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(file_id), 0) FROM load_files`).Scan(&r.lastFile); err != nil {
		return false, "", fmt.Errorf("next file id: %w", err)
	}

	r.prefetch(ctx, files)
	if err := r.readLookups(ctx, files); err != nil {
		return false, "", err
	}
	seen := map[string]bool{}
	var loaded, failed, skipped int
	episodesLoaded := false
	for _, f := range files {
		fr, err := r.file(ctx, f, seen)
		if fr.Status != "" {
			res.Files = append(res.Files, fr)
		}
		if err != nil {
			return false, "", err
		}
		r.finish(fr.Bytes)
		switch fr.Status {
		case StatusLoaded:
			loaded++
			episodesLoaded = episodesLoaded || fr.Entity == "episodes"
		case StatusFailed:
			failed++
		case StatusSkipped:
			skipped++
			continue
		}
		res.Read += fr.Read
		res.Rejected += fr.Rejected
	}
	if loaded+failed == 0 {
		// Nothing new: leave the database exactly as it was.
		return false, "", nil
	}
	if res.Read > 0 {
		if rate := float64(res.Rejected) / float64(res.Read); rate > opt.MaxRejectRate {
			return false, "", fmt.Errorf("%w: %d of %d rows rejected (%.1f%%, limit %.1f%%); nothing was loaded: fix the rejected rows, or raise --max-reject-rate",
				ErrRejectRate, res.Rejected, res.Read, 100*rate, 100*opt.MaxRejectRate)
		}
	}
	// A file loaded now that sorts before a file of the same table loaded by an
	// earlier run overwrites the newer export's records: say so.
	for i, a := range res.Files {
		if a.Status != StatusLoaded {
			continue
		}
		for _, b := range res.Files[i+1:] {
			if b.Entity == a.Entity && b.Status == StatusSkipped {
				res.Warnings = append(res.Warnings, fmt.Sprintf(
					"%s was loaded now although %s, which sorts after it, was loaded by an earlier run: the records they share now hold %s's values; if it is the older export, correct the records with a new export named to sort last",
					a.Path, b.Path, a.Path))
				break
			}
		}
	}
	if episodesLoaded {
		if err := r.followEpisodes(ctx, res); err != nil {
			return false, "", err
		}
	}
	if err := r.checkLedger(ctx); err != nil {
		return false, "", err
	}
	if key.created {
		if _, err := conn.ExecContext(ctx, `INSERT INTO site_key VALUES (?, ?)`, key.Fingerprint(), started); err != nil {
			return false, "", fmt.Errorf("record key fingerprint: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO load_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.id, started, opt.Now().UTC(), pipeline.Version, prof.Name, loaded, failed, skipped,
		res.Read, res.Rejected, opt.MaxRejectRate); err != nil {
		return false, "", fmt.Errorf("record run: %w", err)
	}
	res.RunID = r.id
	// The scratch tables hold original identifiers; drop them before the file is kept.
	if err := r.dropScratch(ctx); err != nil {
		return false, "", err
	}
	for _, t := range r.lookups {
		if err := r.exec(ctx, "drop "+t, "DROP TABLE IF EXISTS temp."+t); err != nil {
			return false, "", err
		}
	}
	return true, created, nil
}

// followEpisodes brings the rows that hang on episodes in line after episodes were
// loaded: sessions and observations of an episode that a later export gave to another
// patient follow it; observations loaded with no episode are linked to the patient's
// one episode whose dates now contain them. Sessions that an episode's new dates
// leave outside are kept (the models leave them out) and counted in the result.
func (r *run) followEpisodes(ctx context.Context, res *Result) error {
	steps := []struct {
		what string
		sql  string
		n    *int64
	}{
		{"move sessions with their episode", `
			UPDATE sessions SET patient_key = e.patient_key
			FROM episodes e WHERE sessions.episode_id = e.episode_id AND sessions.patient_key <> e.patient_key`, &res.Moved},
		{"move observations with their episode", `
			UPDATE observations SET patient_key = e.patient_key
			FROM episodes e WHERE observations.episode_id = e.episode_id AND observations.patient_key <> e.patient_key`, &res.Moved},
		// The staging models' rule (spans.sql): a date inside one episode alone.
		{"link observations to episodes", `
			UPDATE observations SET episode_id = l.episode_id
			FROM episode_spans() l
			WHERE observations.episode_id IS NULL AND l.candidates = 1
			  AND l.patient_key = observations.patient_key AND observations.obs_date BETWEEN l.lo AND l.hi`, &res.Linked},
	}
	for _, s := range steps {
		out, err := r.conn.ExecContext(ctx, s.sql)
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		n, _ := out.RowsAffected()
		*s.n += n
	}
	return r.conn.QueryRowContext(ctx, `
		SELECT count(*) FROM sessions s JOIN episodes e USING (episode_id)
		WHERE s.session_date < e.admit_date OR s.session_date > e.discharge_date`).Scan(&res.Outside)
}

// runKey is the site key of a run and whether the database is new to it.
type runKey struct {
	pseudo.Key
	created bool // the database had no fingerprint: record this key's
}

// siteKey finds the site key and checks it against the fingerprint in the database.
// A database that has none yet takes the key found, or a new one written to keyFile.
func siteKey(ctx context.Context, conn *sql.Conn, keyFile string) (runKey, string, error) {
	if keyFile == "" {
		keyFile = pseudo.DefaultFile()
	}
	var stored sql.NullString
	if err := conn.QueryRowContext(ctx, `SELECT any_value(fingerprint) FROM site_key`).Scan(&stored); err != nil {
		return runKey{}, "", fmt.Errorf("read key fingerprint: %w", err)
	}
	k, err := pseudo.Load(keyFile)
	created := ""
	switch {
	case errors.Is(err, pseudo.ErrNoKey) && stored.Valid:
		return runKey{}, "", fmt.Errorf("%w: this database was built under a site key, and none was found: set %s, or put the key file at %s (or name it with --key-file)",
			ErrKey, pseudo.EnvKey, keyFile)
	case errors.Is(err, pseudo.ErrNoKey):
		k, err = pseudo.Create(keyFile)
		if err != nil {
			return runKey{}, "", err
		}
		created = keyFile
	case err != nil:
		return runKey{}, "", fmt.Errorf("%w: %v", ErrKey, err)
	}
	if stored.Valid && stored.String != k.Fingerprint() {
		return runKey{}, "", fmt.Errorf("%w: the key from %s is not the key this database was built with (fingerprints differ); use the original key, or load into a new database",
			ErrKey, k.Source)
	}
	return runKey{Key: k, created: !stored.Valid}, created, nil
}

// run is the state of one run on the working copy of the database.
type run struct {
	conn     *sql.Conn
	key      runKey
	keys     *keyer // keys identifiers as files are read
	opt      Options
	prof     *profile.Profile
	dates    string   // the date format the date macros read now
	lookups  []string // temp tables of whole source tables, quoted as identifiers
	scans    map[string]*scanned
	exports  map[string]*export // the files of the run, held open (export.go)
	date1904 map[string]bool    // workbooks saved in the 1904 date system
	id       int
	lastFile int
	shown    int64 // bytes of the current file shown as done
	unkeyed  bool  // the temp table unkeyed holds the rows of the file to refuse (rawView)
	// rows is the temp table with one row per row read of the file: src, or stg when
	// the file was staged as it was read (stageCSV).
	rows string
}

func (r *run) exec(ctx context.Context, what, query string, args ...any) error {
	t := time.Now()
	if _, err := r.conn.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	r.opt.Log.Debug(what, "took", time.Since(t).Round(time.Millisecond))
	return nil
}

func (r *run) count(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	if err := r.conn.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// stageShare is the share of a file's work done when a stage starts, as measured on
// a large sessions file; the progress display advances by it.
func stageShare(what string) float64 {
	return map[string]float64{"hashing": 0, "reading": 0.03, "validating": 0.30, "writing": 0.70}[what]
}

// stage tells the progress display what is being done to a file of the given size.
func (r *run) stage(file string, size int64, what string) {
	if r.opt.Progress != nil {
		r.opt.Progress.Stage(file, what)
		r.advanceTo(size, stageShare(what))
	}
	r.opt.Log.Debug(what, "file", file)
}

// advanceTo moves the progress display to the given share of the current file.
func (r *run) advanceTo(size int64, share float64) {
	target := int64(share * float64(size))
	if target > r.shown {
		r.opt.Progress.Advance(target - r.shown)
		r.shown = target
	}
}

// finish completes the current file on the progress display.
func (r *run) finish(size int64) {
	if r.opt.Progress != nil {
		r.advanceTo(size, 1)
	}
	r.shown = 0
}

// hashFile returns the SHA-256 (hex) and size of a file.
func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sum, size, _, err := scanFile(f)
	return sum, size, err
}

// scanFile reads a file once for its SHA-256 (hex), its size and its blank lines.
func scanFile(in io.Reader) (string, int64, *blankLines, error) {
	h := sha256.New()
	b := &blankLines{line: 1}
	n, err := io.Copy(io.MultiWriter(h, b), in)
	if err != nil {
		return "", 0, nil, err
	}
	if b.text {
		b.Text++ // a last line without a line end
	}
	return hex.EncodeToString(h.Sum(nil)), n, b, nil
}

// blankLines finds the empty lines of a CSV file. DuckDB's reader skips them without
// a word, and numbers the lines of rejected rows counting them, so the loader needs
// them to give every row its true line number. Leading counts the empty lines before
// the header; After holds the line numbers (1-based) of empty lines after it.
type blankLines struct {
	Leading int
	After   []int64
	// Text counts the lines with text, the header included.
	Text   int64
	line   int64
	text   bool // the current line has a byte other than \r
	header bool // a line with text has been seen
	// crlf, lf and cr count the line ends of each kind (\r\n, \n alone, \r alone).
	crlf, lf, cr int64
	lastCR       bool // the bytes so far end in \r
	// quotes says the file holds a double quote: without one, every line end of the
	// file ends a record, and its records are its lines (readCSV numbers them so).
	quotes bool
}

// mixedEndings reports whether the file's lines end in more than one way.
func (b *blankLines) mixedEndings() bool {
	kinds := 0
	for _, n := range []int64{b.crlf, b.lf, b.cr} {
		if n > 0 {
			kinds++
		}
	}
	return kinds > 1
}

func (b *blankLines) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	crlf := int64(bytes.Count(p, []byte("\r\n")))
	if b.lastCR && p[0] == '\n' {
		crlf++
		b.cr-- // counted as a lone \r at the end of the last write
	}
	b.crlf += crlf
	b.lf += int64(bytes.Count(p, []byte("\n"))) - crlf
	b.cr += int64(bytes.Count(p, []byte("\r"))) - int64(bytes.Count(p, []byte("\r\n")))
	b.lastCR = p[len(p)-1] == '\r'
	b.quotes = b.quotes || bytes.IndexByte(p, '"') >= 0
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if len(bytes.Trim(seg, "\r")) > 0 {
			b.text = true
		}
		if i < 0 {
			break
		}
		switch {
		case b.text:
			b.header = true
			b.Text++
		case !b.header:
			b.Leading++
		default:
			b.After = append(b.After, b.line)
		}
		b.line++
		b.text = false
		rest = rest[i+1:]
	}
	return len(p), nil
}

// checkLedger verifies from the ledger tables themselves that every file of this run
// balances.
func (r *run) checkLedger(ctx context.Context) error {
	rows, err := r.conn.QueryContext(ctx, `
		SELECT path, rows_read, rows_loaded, rows_rejected, rows_duplicate
		FROM load_files
		WHERE run_id = ? AND rows_read <> rows_loaded + rows_rejected + rows_duplicate
		ORDER BY file_id`, r.id)
	if err != nil {
		return fmt.Errorf("check ledger: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var p string
		var read, loaded, rejected, dup int64
		if err := rows.Scan(&p, &read, &loaded, &rejected, &dup); err != nil {
			return fmt.Errorf("check ledger: %w", err)
		}
		bad = append(bad, fmt.Sprintf("%s: read %d, loaded %d, rejected %d, duplicate %d", p, read, loaded, rejected, dup))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check ledger: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrUnbalanced, strings.Join(bad, "; "))
	}
	return nil
}
