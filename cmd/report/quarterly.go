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
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/outfile"
	"github.com/iop-outcomes/outcomes/pipeline/report"
)

// runReport is `report` itself: the quarterly report as report.html, report.xlsx and
// manifest.json in a folder.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	out := fl.String("out", "out", "`folder` to write report.html, report.xlsx and manifest.json into")
	var opt report.Options
	fl.StringVar(&opt.Period, "period", "", "`quarter` to report, such as 2026Q3 (default: the quarter of the data cutoff)")
	fl.StringVar(&opt.From, "from", "", "first `date` (YYYY-MM-DD) of a window to report instead of a quarter (internal audience only)")
	fl.StringVar(&opt.To, "to", "", "last `date` (YYYY-MM-DD) of that window")
	fl.StringVar(&opt.Program, "program", "", "program `id` to report on (default: all programs)")
	fl.StringVar(&opt.Audience, "audience", "internal", "internal, or external: counts rounded to bands of six, counts of 1-12 hidden, for release outside the organization")
	fl.StringVar(&opt.Targets, "targets", "", "targets `file` (YAML; see the README)")
	fl.StringVar(&opt.Sections, "sections", "all", "all, or board: the board's pages without the appendix (methods, models, retention curves, data quality), in the page and the workbook")
	verbose := fl.Bool("verbose", false, "print the time of the queries and of each renderer to stderr")
	fl.Usage = func() { usage(stderr); fmt.Fprintln(stderr, "\nFlags of report:"); fl.PrintDefaults() }
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return errUsage
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := report.Build(ctx, db, opt)
	if err != nil {
		return err
	}
	if *verbose {
		fmt.Fprintf(stderr, "queries: %v\n", time.Since(start).Round(time.Millisecond))
	}
	// The three files are one set: rendered first, then written whole and renamed
	// into place together, the manifest last and naming the others' hashes, so that
	// a failed run leaves the previous set as it was (outfile.WriteSet).
	var set []outfile.File
	render := func(name string, fn func(io.Writer) error) error {
		start := time.Now()
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if *verbose {
			fmt.Fprintf(stderr, "%s: %v\n", name, time.Since(start).Round(time.Millisecond))
		}
		set = append(set, outfile.File{Name: name, Data: b.Bytes()})
		return nil
	}
	if err := render("report.html", func(w io.Writer) error { return report.RenderHTML(w, rep) }); err != nil {
		return err
	}
	if err := render("report.xlsx", func(w io.Writer) error { return report.RenderXLSX(w, rep) }); err != nil {
		return err
	}
	rep.Manifest.Files = map[string]string{}
	for _, f := range set {
		h := sha256.Sum256(f.Data)
		rep.Manifest.Files[f.Name] = hex.EncodeToString(h[:])
	}
	if err := render("manifest.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.Manifest)
	}); err != nil {
		return err
	}
	if err := outfile.WriteSet(*out, set); err != nil {
		return fmt.Errorf("%w; free space or choose another folder with --out", err)
	}
	fmt.Fprintf(stdout, "Wrote report.html, report.xlsx and manifest.json to %s: period %s, program %s, audience %s",
		*out, rep.Manifest.Period, rep.Manifest.Program, rep.Manifest.Audience)
	if rep.Manifest.Suppressed > 0 {
		fmt.Fprintf(stdout, ", %d cells suppressed", rep.Manifest.Suppressed)
	}
	fmt.Fprintln(stdout, ".")
	return nil
}
