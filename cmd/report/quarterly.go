package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/outfile"
	"github.com/iop-outcomes/outcomes/pipeline/pdf"
	"github.com/iop-outcomes/outcomes/pipeline/report"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// reportConfig is the command line of `report` itself.
type reportConfig struct {
	out         string
	opt         report.Options
	pdf         bool
	paper       pdf.Paper
	browser     string
	eachProgram bool
	verbose     bool
}

// runReport is `report` itself: the quarterly report as report.html, report.xlsx
// (report.pdf with --pdf) and manifest.json in a folder; with --each-program, one
// such folder per program and one for the network (ALL).
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	var cfg reportConfig
	fl.StringVar(&cfg.out, "out", "out", "`folder` to write report.html, report.xlsx and manifest.json into")
	opt := &cfg.opt
	fl.StringVar(&opt.Period, "period", "", "`quarter` to report, such as 2026Q3 (default: the quarter of the data cutoff)")
	fl.StringVar(&opt.From, "from", "", "first `date` (YYYY-MM-DD) of a window to report instead of a quarter (internal audience only)")
	fl.StringVar(&opt.To, "to", "", "last `date` (YYYY-MM-DD) of that window")
	fl.StringVar(&opt.Program, "program", "", "program `id` to report on (default: all programs)")
	fl.StringVar(&opt.Audience, "audience", "internal", "internal, or external: counts rounded to bands of six, counts of 1-12 hidden, for release outside the organization")
	fl.StringVar(&opt.Targets, "targets", "", "targets `file` (YAML; see the README)")
	fl.StringVar(&opt.Sections, "sections", "all", "all, or board: the board's pages without the appendix (methods, models, retention curves, data quality), in the page and the workbook")
	fl.BoolVar(&cfg.pdf, "pdf", false, "also write report.pdf, printed from the page by a Chromium found on the machine")
	paper := fl.String("paper", "letter", "paper of report.pdf: letter or a4")
	fl.BoolVar(&cfg.eachProgram, "each-program", false, "write one report per program, each in a subfolder of --out named by its id, and the network's in ALL/")
	fl.BoolVar(&cfg.verbose, "verbose", false, "print the time of the queries and of each renderer to stderr")
	fl.Usage = func() { usage(stderr); fmt.Fprintln(stderr, "\nFlags of report:"); fl.PrintDefaults() }
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return errUsage
	}
	var err error
	if cfg.paper, err = pdf.PaperNamed(*paper); err != nil {
		return err
	}
	if cfg.eachProgram && opt.Program != "" {
		return fmt.Errorf("give either --program or --each-program, not both")
	}
	if cfg.pdf {
		// Before any query: a missing browser is known at once.
		if cfg.browser, err = pdf.Find(); err != nil {
			return err
		}
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if !cfg.eachProgram {
		return writeReport(ctx, db, cfg, cfg.out, stdout, stderr)
	}
	ids, err := report.ProgramIDs(ctx, db)
	if err != nil {
		return err
	}
	folders, err := programFolders(ids)
	if err != nil {
		return err
	}
	// The network's report goes to ALL/, beside the programs' (the id the database
	// gives all programs): every report of the run is a folder of the same shape.
	for _, id := range append([]string{"ALL"}, ids...) {
		c := cfg
		c.opt.Program = id
		dir := filepath.Join(cfg.out, "ALL")
		if id == "ALL" {
			c.opt.Program = ""
		} else {
			dir = filepath.Join(cfg.out, folders[id])
		}
		if err := writeReport(ctx, db, c, dir, stdout, stderr); err != nil {
			return fmt.Errorf("program %s: %w", id, err)
		}
	}
	return nil
}

// programFolders names the folder of each program's report: its id, with any
// character other than a letter, a digit, '-' or '_' replaced by '_', so that an id
// from an export can name no other folder. Two ids that give one name are refused.
func programFolders(ids []string) (map[string]string, error) {
	out := map[string]string{}
	seen := map[string]string{"ALL": "ALL"}
	for _, id := range ids {
		name := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, id)
		if name == "" {
			name = "_"
		}
		if other, ok := seen[strings.ToUpper(name)]; ok {
			return nil, fmt.Errorf("programs %q and %q would share the folder %s: report them one at a time with --program", other, id, name)
		}
		seen[strings.ToUpper(name)] = id
		out[id] = name
	}
	return out, nil
}

// writeReport builds one report and writes its set into dir.
func writeReport(ctx context.Context, db *store.DB, cfg reportConfig, dir string, stdout, stderr io.Writer) error {
	start := time.Now()
	rep, err := report.Build(ctx, db, cfg.opt)
	if err != nil {
		return err
	}
	if cfg.verbose {
		fmt.Fprintf(stderr, "queries: %v\n", time.Since(start).Round(time.Millisecond))
	}
	// The files are one set: rendered first, then written whole and renamed into
	// place together, the manifest last and naming the others' hashes, so that a
	// failed run leaves the previous set as it was (outfile.WriteSet).
	var set []outfile.File
	render := func(name string, fn func(io.Writer) error) error {
		start := time.Now()
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if cfg.verbose {
			fmt.Fprintf(stderr, "%s: %v\n", name, time.Since(start).Round(time.Millisecond))
		}
		set = append(set, outfile.File{Name: name, Data: b.Bytes()})
		return nil
	}
	if err := render("report.html", func(w io.Writer) error { return report.RenderHTML(w, rep) }); err != nil {
		return err
	}
	page := set[0].Data
	if err := render("report.xlsx", func(w io.Writer) error { return report.RenderXLSX(w, rep) }); err != nil {
		return err
	}
	if cfg.pdf {
		if err := render("report.pdf", func(w io.Writer) error {
			b, err := pdf.Print(ctx, cfg.browser, page, cfg.paper)
			if err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		}); err != nil {
			return err
		}
	}
	rep.Manifest.Files = map[string]string{}
	var names []string
	for _, f := range set {
		h := sha256.Sum256(f.Data)
		rep.Manifest.Files[f.Name] = hex.EncodeToString(h[:])
		names = append(names, f.Name)
	}
	if err := render("manifest.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.Manifest)
	}); err != nil {
		return err
	}
	if err := outfile.WriteSet(dir, set); err != nil {
		return fmt.Errorf("%w; free space or choose another folder with --out", err)
	}
	fmt.Fprintf(stdout, "Wrote %s and manifest.json to %s: period %s, program %s, audience %s",
		strings.Join(names, ", "), dir, rep.Manifest.Period, rep.Manifest.Program, rep.Manifest.Audience)
	if rep.Manifest.Suppressed > 0 {
		fmt.Fprintf(stdout, ", %d cells suppressed", rep.Manifest.Suppressed)
	}
	fmt.Fprintln(stdout, ".")
	return nil
}
