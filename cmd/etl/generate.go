package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
)

// runGenerate is `etl generate`: synthetic exports in the canonical or the EHR layout.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg generate.Config
	var out string
	fl := flag.NewFlagSet("etl generate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&out, "out", "", "`folder` to write the exports into (created if missing)")
	fl.IntVar(&cfg.Patients, "patients", 300, "number of patients (about 45 sessions each)")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "random seed; the same seed gives the same files")
	fl.BoolVar(&cfg.Messy, "messy", false, "write two overlapping exports with the defects of real ones")
	fl.BoolVar(&cfg.Weekly, "weekly", false, "split the export into base/ (as of a week before the cutoff) and weekly/ (the last week's export), to load one after the other")
	fl.StringVar(&cfg.Layout, "layout", generate.LayoutCanonical, "`layout` of the export: canonical (CSV files) or ehr (one XLSX workbook in an EHR's names, codes and dates; load it with --profile ehr-example)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  etl generate --out DIR [--patients N] [--seed S] [--messy | --weekly | --layout ehr]\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if out == "" || fl.NArg() > 0 {
		fl.Usage()
		return errUsage
	}
	t, err := generate.Generate(ctx, cfg, out)
	if err != nil {
		return err
	}
	var rows int64
	for _, n := range t.Written {
		rows += n
	}
	where := out
	if cfg.Weekly {
		where = out + " (" + filepath.Join(out, "base") + ", then the last week in " + filepath.Join(out, "weekly") + ")"
	}
	fmt.Fprintf(stdout, "Wrote %d patients, %d episodes, %d sessions and %d observations (%d rows in all) to %s; planted effects and expected counts are in %s.\n",
		t.Core["patients"], t.Core["episodes"], t.Core["sessions"], t.Core["observations"], rows, where, filepath.Join(out, generate.TruthFile))
	return nil
}
