package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/spark"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// modelFlags are the flags that set model parameters, on a load and on etl models.
type modelFlags struct {
	file          string
	landmarkDays  int
	cutoff        string
	relapse       string
	missingPolicy string
	covariates    string
	window        *int // --outcome-window-weeks, nil when not given (0 is a value: the whole episode)
}

func (m *modelFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&m.file, "params", "", "model parameter `file` (YAML; see the README); flags below override it")
	fl.IntVar(&m.landmarkDays, "landmark-days", 0, "landmark in days (default 28)")
	fl.StringVar(&m.cutoff, "cutoff", "", "data cutoff `date` YYYY-MM-DD (default: the latest date in the data)")
	fl.StringVar(&m.relapse, "relapse", "", "default relapse `definition`: "+strings.Join(models.Definitions(), ", "))
	fl.StringVar(&m.missingPolicy, "missing-policy", "", "missing-test `policy`: "+strings.Join(models.Policies(), ", "))
	fl.Func("outcome-window-weeks", "outcome window: relapse and dropout by screens read only weeks 1..`N` from admission (0: the whole episode, the default)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("give a number of weeks, or 0 for the whole episode")
		}
		m.window = &n
		return nil
	})
	fl.StringVar(&m.covariates, "covariates", "", "comma-separated covariates of the adjusted models: "+strings.Join(models.CovariateNames(), ", ")+" (\"none\" for none)")
}

// params resolves the parameters: defaults, then the file, then the flags.
func (m *modelFlags) params() (models.Params, error) {
	p := models.DefaultParams()
	if m.file != "" {
		var err error
		if p, err = models.LoadParams(m.file); err != nil {
			return p, err
		}
	}
	if m.landmarkDays != 0 {
		p.LandmarkDays = m.landmarkDays
	}
	if m.cutoff != "" {
		p.Cutoff = m.cutoff
	}
	if m.relapse != "" {
		p.RelapseDefinition = m.relapse
	}
	if m.missingPolicy != "" {
		p.MissingPolicy = m.missingPolicy
	}
	if m.window != nil {
		p.OutcomeWindowWeeks = *m.window
	}
	switch m.covariates {
	case "":
	case "none":
		p.Covariates = nil
	default:
		p.Covariates = strings.Split(m.covariates, ",")
	}
	return p, p.Validate()
}

// rebuild returns the step that rebuilds the models on a working copy, printing its
// summary to w.
func rebuild(p models.Params, full bool, log *slog.Logger, w io.Writer, progress ingest.Progress) func(ctx context.Context, db *store.DB) error {
	return func(ctx context.Context, db *store.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if progress != nil {
			progress.Stage("", "rebuilding models")
		}
		build := models.Rebuild
		if full {
			build = models.RebuildAll
		}
		s, err := build(ctx, conn, p, log)
		if err != nil {
			return fmt.Errorf("rebuild models (nothing was changed): %w", err)
		}
		how := fmt.Sprintf("every episode recomputed (%s)", s.Reason)
		if s.Mode != "full" {
			how = fmt.Sprintf("%d episodes recomputed, those the loads since the last rebuild could change", s.Recomputed)
		}
		printRebuild(w, s, p, how)
		return nil
	}
}

// printRebuild prints what a rebuild did: its size, the headline and every warning.
func printRebuild(w io.Writer, s *models.Summary, p models.Params, how string) {
	fmt.Fprintf(w, "Models rebuilt to cutoff %s: %d episodes, %d in the day-%d landmark cohort, in %.1fs; %s.\n",
		s.Cutoff, s.Episodes, s.Cohort, p.LandmarkDays, s.Took.Seconds(), how)
	if s.Headline != "" {
		fmt.Fprintf(w, "Landmark dropout: %s.\n", s.Headline)
	}
	// A model that lost a covariate, rows or a term, or was not fitted, is said
	// here in words: never silently.
	for _, warning := range s.Warnings {
		fmt.Fprintf(w, "Warning: model %s.\n", warning)
	}
}

// runModels is `etl models`: rebuild the models of a database on demand.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var mf modelFlags
	var sc store.Config
	var verbose, full bool
	var engine string
	var so spark.Options
	fl := flag.NewFlagSet("etl models", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&sc.Path, "db", "outcomes.duckdb", "database `file`")
	sc.RegisterFlags(fl)
	fl.BoolVar(&verbose, "verbose", false, "log each model with its time to stderr")
	fl.BoolVar(&full, "full", false, "recompute every episode, not only those the loads since the last rebuild could change")
	fl.StringVar(&engine, "engine", "duckdb", "`engine` of the session-level models: duckdb (the database of --db) or spark (an export, --input, on a cluster, --master)")
	fl.StringVar(&so.Master, "master", "", "Spark master `URL` (spark://host:7077, yarn, local[2]); or spark.master in the parameter file")
	fl.Func("input", "with --engine spark: an export `folder` that report export wrote (repeat it for the union of several sites' exports)", func(v string) error {
		so.Inputs = append(so.Inputs, v)
		return nil
	})
	fl.StringVar(&so.Out, "out", "", "with --engine spark: a new `folder` for the results (Parquet and "+spark.DatabaseFile+")")
	fl.StringVar(&so.Submit, "spark-submit", "", "Spark's spark-submit `program` (default: $SPARK_HOME/bin/spark-submit, or the PATH's)")
	fl.Func("conf", "a Spark setting `name=value` (repeatable), such as spark.executor.memory=4g", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("give name=value")
		}
		if so.Conf == nil {
			so.Conf = map[string]string{}
		}
		so.Conf[k] = val
		return nil
	})
	mf.register(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  etl models [--db FILE] [--params FILE] [flags]   rebuild the models\n"+
			"  etl models --engine spark --master URL --input DIR --out DIR [--params FILE] [flags]\n"+
			"                                                 run them on Spark over an export\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if ok, err := parse(fl, args); !ok {
		return err
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return errUsage
	}
	p, err := mf.params()
	if err != nil {
		return err
	}
	switch engine {
	case "duckdb":
		if len(so.Inputs) > 0 || so.Out != "" || so.Master != "" {
			return fmt.Errorf("--input, --out and --master are for --engine spark; the DuckDB models run on the database of --db")
		}
	case "spark":
		so.DuckDB = sc
		return runSparkModels(ctx, so, p, verbose, stdout, stderr)
	default:
		return fmt.Errorf("--engine %q: use duckdb or spark", engine)
	}
	if _, err := os.Stat(sc.Path); err != nil {
		return fmt.Errorf("%s: %w; load exports first with etl", sc.Path, err)
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = debugLog(stderr)
	}
	step := rebuild(p, full, log, stdout, nil)
	_, err = store.Update(ctx, sc, func(db *store.DB) (bool, error) {
		if err := store.Migrate(ctx, db, timeNow()); err != nil {
			return false, err
		}
		return true, step(ctx, db)
	})
	return err
}

// runSparkModels is `etl models --engine spark`: the models over an export, on a
// Spark cluster, into a new folder with a database of the results.
func runSparkModels(ctx context.Context, so spark.Options, p models.Params, verbose bool, stdout, stderr io.Writer) error {
	// Flags first, then the parameter file's spark section.
	file := p.Spark
	if so.Master == "" {
		so.Master = file.Master
	}
	if so.Submit == "" {
		so.Submit = file.Submit
	}
	for k, v := range file.Conf {
		if _, given := so.Conf[k]; !given {
			if so.Conf == nil {
				so.Conf = map[string]string{}
			}
			so.Conf[k] = v
		}
	}
	so.Params = p
	so.Progress = stdout
	if verbose {
		so.Log = debugLog(stderr)
	}
	s, err := spark.Run(ctx, so)
	if err != nil {
		return fmt.Errorf("models on Spark (nothing was written): %w", err)
	}
	printRebuild(stdout, s, p, "every episode computed on Spark")
	fmt.Fprintf(stdout, "Results in %s: report --db %s\n", so.Out, filepath.Join(so.Out, spark.DatabaseFile))
	return nil
}

// timeNow is the clock of the models command.
func timeNow() time.Time { return time.Now() }
