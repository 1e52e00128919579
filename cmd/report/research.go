package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/iop-outcomes/outcomes/pipeline/extract"
	"github.com/iop-outcomes/outcomes/pipeline/outfile"
	"github.com/iop-outcomes/outcomes/pipeline/query"
)

// runDictionary is `report dictionary`: the data dictionary as Markdown.
func runDictionary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report dictionary", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	out := fl.String("out", "", "write to this `file` instead of standard output")
	if ok, err := parse(fl, args); !ok {
		return err
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	md, err := query.Dictionary(ctx, db)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = io.WriteString(stdout, md)
		return err
	}
	return outfile.WriteFile(*out, []byte(md))
}

// runExtract is `report extract`: de-identified analysis tables for sharing.
func runExtract(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report extract", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	var opt extract.Options
	fl.StringVar(&opt.Dir, "out", "", "`folder` to write the extract into")
	fl.StringVar(&opt.Format, "format", "parquet", "file `format`: parquet, arrow or csv")
	fl.BoolVar(&opt.DateOffsets, "date-offsets", false, "replace dates by days from admission (admission by its year)")
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if opt.Dir == "" {
		return fmt.Errorf("name the folder to write the extract into with --out")
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	files, err := extract.Run(ctx, db, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %d files to %s; README.md there describes every column.\n", len(files), opt.Dir)
	return nil
}
