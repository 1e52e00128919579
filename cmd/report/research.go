package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/iop-outcomes/outcomes/pipeline/export"
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

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("report export", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbCfg := dbFlags(fl)
	var opt export.Options
	var format string
	fl.StringVar(&opt.Dir, "out", "", "new `folder` to write the export into")
	fl.StringVar(&format, "format", "parquet", "file `format`: parquet")
	fl.StringVar(&opt.PartitionBy, "partition-by", "", "partition the tables by program_id, quarter or patient_bucket:N")
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if format != "parquet" {
		return fmt.Errorf("--format %q: an export is written as parquet", format)
	}
	db, err := openReadOnly(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	man, err := export.Run(ctx, db, opt)
	if err != nil {
		return err
	}
	files := 0
	for _, t := range man.Tables {
		files += len(t.Files)
	}
	fmt.Fprintf(stdout, "Wrote %d tables in %d Parquet files to %s; manifest.json there gives each table's rows, columns and SHA-256. "+
		"Patients are known by their keyed pseudonym only, but the rows are protected health information: hand them over under a data use agreement.\n",
		len(man.Tables), files, opt.Dir)
	return nil
}
