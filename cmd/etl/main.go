// Command etl loads a program's exports into the outcomes database, and makes
// synthetic exports for trying the pipeline out (etl generate).
//
//	etl [--db FILE] [flags] PATH...
//	etl generate --out DIR [--patients N] [--seed S] [--messy | --layout ehr]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

func main() {
	// Files the command makes, DuckDB's spill files among them, are its owner's
	// alone: they hold protected health information.
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			printError(os.Stderr, "etl", err)
		}
		os.Exit(1)
	}
}

// printError shows an error to a person: control characters in it (from a file name
// or an export) are escaped, so that it cannot drive the terminal.
func printError(w io.Writer, command string, err error) {
	fmt.Fprintln(w, command+":", pipeline.PrintableLines(err.Error()))
}

// errUsage is returned when the command line was wrong; the usage has been printed.
var errUsage = errors.New("usage")

// parse parses a command's flags; ok is false when it printed help or usage.
func parse(fl *flag.FlagSet, args []string) (bool, error) {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, errUsage
	}
	return true, nil
}

// debugLog logs every step with its time to w.
func debugLog(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// loadConfig is the command line of a load.
type loadConfig struct {
	store         store.Config // --db and the DuckDB sizing flags
	json          bool
	maxRejectRate float64
	keyFile       string
	profile       string
	progress      string
	verbose       bool
	noModels      bool
	models        modelFlags
	paths         []string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "generate" {
		return runGenerate(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "models" {
		return runModels(ctx, args[1:], stdout, stderr)
	}
	var cfg loadConfig
	fl := flag.NewFlagSet("etl", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&cfg.store.Path, "db", "outcomes.duckdb", "database `file` to load into (created if missing)")
	fl.BoolVar(&cfg.json, "json", false, "print the run's ledger as JSON instead of a table")
	fl.Float64Var(&cfg.maxRejectRate, "max-reject-rate", 0.10, "share of rows (0-1) that may be rejected; above it the run fails and loads nothing")
	fl.StringVar(&cfg.keyFile, "key-file", "", "site key `file` for pseudonyms (default $OUTCOMES_KEY_FILE, else the user config folder); $OUTCOMES_SITE_KEY overrides")
	fl.StringVar(&cfg.profile, "profile", "", "source `profile` of the exports: a built-in name or a profile file (.yaml); detected when not given")
	cfg.store.RegisterFlags(fl)
	fl.StringVar(&cfg.progress, "progress", "auto", "progress bar: auto (on a terminal), always or never")
	fl.BoolVar(&cfg.verbose, "verbose", false, "log each step of the load with its time to stderr")
	fl.BoolVar(&cfg.noModels, "no-models", false, "load only; do not rebuild the models after the load")
	cfg.models.register(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  etl [flags] PATH...           load export files or folders, then rebuild the models\n  etl models [flags]            rebuild the models (etl models -h)\n  etl generate --out DIR [...]  write synthetic exports (etl generate -h)\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if ok, err := parse(fl, args); !ok {
		return err
	}
	cfg.paths = fl.Args()
	if len(cfg.paths) == 0 {
		fl.Usage()
		return errUsage
	}
	return load(ctx, cfg, stdout, stderr)
}

func load(ctx context.Context, cfg loadConfig, stdout, stderr io.Writer) error {
	opt := ingest.Options{
		Profile:       cfg.profile,
		MaxRejectRate: cfg.maxRejectRate,
		KeyFile:       cfg.keyFile,
	}
	if cfg.verbose {
		opt.Log = debugLog(stderr)
	}
	if showProgress(cfg.progress, stderr) {
		opt.Progress = &bar{w: stderr}
	}
	var modelOut strings.Builder
	if !cfg.noModels {
		p, err := cfg.models.params()
		if err != nil {
			return err
		}
		opt.Then = rebuild(p, false, opt.Log, &modelOut, opt.Progress)
	}
	res, err := ingest.Run(ctx, cfg.store, cfg.paths, opt)
	if res != nil && (err == nil || len(res.Files) > 0) {
		if cfg.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			printSummary(stdout, cfg.store.Path, res, err == nil)
			if err == nil {
				fmt.Fprint(stdout, modelOut.String())
			}
		}
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted; nothing was loaded: %w", ctx.Err())
	}
	return err
}

// printSummary prints the run's ledger for a person. File names and messages are
// shown through pipeline.Printable: a name from an export cannot drive the terminal.
func printSummary(w io.Writer, db string, res *ingest.Result, ok bool) {
	p := pipeline.Printable
	db = p(db)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "file\ttable\tread\tloaded\tnew\tupdated\tduplicate\trejected\tstatus\t")
	for _, f := range res.Files {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			p(f.Path), f.Entity, f.Read, f.Loaded, f.Inserted, f.Updated, f.Duplicate, f.Rejected, f.Status)
	}
	tw.Flush()
	reasons := map[string]int64{}
	for _, f := range res.Files {
		if f.Status == ingest.StatusFailed {
			fmt.Fprintf(w, "\n%s was refused whole: %s\n", p(f.Path), p(f.Message))
		}
		for k, n := range f.Reasons {
			reasons[k] += n
		}
	}
	if len(reasons) > 0 {
		fmt.Fprintln(w, "\nProblems found (one row can have several; details in the rejects table):")
		names := ingest.ReasonNames(reasons)
		sort.SliceStable(names, func(i, j int) bool { return reasons[names[i]] > reasons[names[j]] })
		for _, k := range names {
			fmt.Fprintf(w, "  %-28s %d\n", p(k), reasons[k])
		}
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "\nWarning: %s.\n", p(warning))
	}
	if res.Moved > 0 {
		fmt.Fprintf(w, "\n%d sessions and observations followed their episode to another patient, as a later export said.\n", res.Moved)
	}
	if res.Linked > 0 {
		fmt.Fprintf(w, "\n%d observations without an episode were linked to the episode that now contains their date.\n", res.Linked)
	}
	if res.Outside > 0 {
		fmt.Fprintf(w, "\nWarning: %d sessions lie outside their episode's admission and discharge dates after a later export changed the episode; they are kept, and left out of the models. Correct the episode or the sessions in the export.\n", res.Outside)
	}
	if len(res.Ignored) > 0 {
		fmt.Fprintf(w, "\nIgnored %d file(s) and sheet(s) that profile %s does not read: %s\n", len(res.Ignored), p(res.Profile), p(strings.Join(res.Ignored, ", ")))
	}
	switch {
	case !ok:
		fmt.Fprintf(w, "\nNothing was loaded: %s is as it was before the run.\n", db)
	case !res.Committed:
		fmt.Fprintf(w, "\nNothing new: every file was loaded before; %s is unchanged.\n", db)
	default:
		rate := 0.0
		if res.Read > 0 {
			rate = 100 * float64(res.Rejected) / float64(res.Read)
		}
		fmt.Fprintf(w, "\nRun %d committed to %s: %d rows read, %d rejected (%.1f%%); every file balances (read = loaded + rejected + duplicate).\n",
			res.RunID, db, res.Read, res.Rejected, rate)
	}
	if res.KeyCreated != "" {
		fmt.Fprintf(w, "A new site key was created at %s (mode 0600). Keep it safe and out of the database's folder: later loads into this database need it.\n", p(res.KeyCreated))
	}
}

func showProgress(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bar shows a run's progress on a terminal, by bytes of files done.
type bar struct {
	w io.Writer
	b *progressbar.ProgressBar
}

func (p *bar) Begin(total int64) {
	p.b = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100_000_000),
	)
}

func (p *bar) Stage(file, stage string) {
	p.b.Describe(fmt.Sprintf("%-10s %s", stage, shorten(pipeline.Printable(file), 40)))
}
func (p *bar) Advance(n int64) { p.b.Add64(n) }
func (p *bar) End()            { p.b.Finish() }

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n+3:]
}
