package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/models"
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
		fmt.Fprintf(w, "Models rebuilt to cutoff %s: %d episodes, %d in the day-%d landmark cohort, in %.1fs; %s.\n",
			s.Cutoff, s.Episodes, s.Cohort, p.LandmarkDays, s.Took.Seconds(), how)
		if s.Headline != "" {
			fmt.Fprintf(w, "Landmark dropout: %s.\n", s.Headline)
		}
		// A model that lost a covariate, rows or a term, or was not fitted, is
		// said here in words: never silently.
		for _, warning := range s.Warnings {
			fmt.Fprintf(w, "Warning: model %s.\n", warning)
		}
		return nil
	}
}

// runModels is `etl models`: rebuild the models of a database on demand.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var mf modelFlags
	var sc store.Config
	var verbose, full bool
	fl := flag.NewFlagSet("etl models", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&sc.Path, "db", "outcomes.duckdb", "database `file`")
	sc.RegisterFlags(fl)
	fl.BoolVar(&verbose, "verbose", false, "log each model with its time to stderr")
	fl.BoolVar(&full, "full", false, "recompute every episode, not only those the loads since the last rebuild could change")
	mf.register(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  etl models [--db FILE] [--params FILE] [flags]   rebuild the models\n\nFlags:\n")
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

// timeNow is the clock of the models command.
func timeNow() time.Time { return time.Now() }
