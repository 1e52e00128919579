package models

import (
	"context"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/ingest"
	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
	"github.com/iop-outcomes/outcomes/pipeline/stats"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// loaded holds the exports the fit tests use, each loaded once (without models)
// into a database under dir; the tests rebuild copies of them.
var loaded struct {
	mu      sync.Mutex
	dir     string
	sources map[string]*source
}

type source struct {
	once sync.Once
	n    int
	path string
	err  error
}

// sampleData is the synthetic sample.
const sampleData = "../../sample-data/synthetic"

func TestMain(m *testing.M) {
	code := m.Run()
	if loaded.dir != "" {
		os.RemoveAll(loaded.dir)
	}
	os.Exit(code)
}

// loadOnce loads the export at dir (made first by build, when given, in a folder of
// its own) once per test binary and returns the database's path.
func loadOnce(t *testing.T, dir string, build func(dir string) error) string {
	t.Helper()
	loaded.mu.Lock()
	if loaded.sources == nil {
		loaded.sources = map[string]*source{}
		var err error
		if loaded.dir, err = os.MkdirTemp("", "models-test-"); err != nil {
			loaded.mu.Unlock()
			t.Fatal(err)
		}
	}
	src, ok := loaded.sources[dir]
	if !ok {
		src = &source{n: len(loaded.sources)}
		loaded.sources[dir] = src
	}
	root := loaded.dir
	loaded.mu.Unlock()
	src.once.Do(func() {
		base := filepath.Join(root, strconv.Itoa(src.n))
		if src.err = os.MkdirAll(base, 0o700); src.err != nil {
			return
		}
		export := dir
		if build != nil {
			export = filepath.Join(base, "export")
			if src.err = build(export); src.err != nil {
				return
			}
		}
		os.Setenv(pseudo.EnvKey, "")
		src.path = filepath.Join(base, "loaded.duckdb")
		_, src.err = ingest.Run(context.Background(), store.Config{Path: src.path}, []string{export},
			ingest.Options{MaxRejectRate: 1, KeyFile: filepath.Join(base, "site.key")})
	})
	if src.err != nil {
		t.Fatal(src.err)
	}
	return src.path
}

// rebuildSample rebuilds the models on a copy of the synthetic sample with p, after
// running the statements of prepare on it; it returns the database and the summary.
func rebuildSample(t *testing.T, p Params, prepare ...string) (*store.DB, *Summary) {
	t.Helper()
	return rebuildCopy(t, loadOnce(t, sampleData, nil), p, prepare...)
}

// rebuildCopy rebuilds the models with p on a copy of the database at path, after
// running the statements of prepare on it.
func rebuildCopy(t *testing.T, path string, p Params, prepare ...string) (*store.DB, *Summary) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.duckdb")
	if err := store.CopyFile(path, dst); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Path: dst})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range prepare {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s, err := RebuildAll(ctx, conn, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

// term is one row of model_estimates.
type term struct {
	estimate, stdErr, ratio, lower, upper, p sql.NullFloat64
	n, excluded                              int
	converged                                bool
	warning                                  sql.NullString
}

func estimatesOf(t *testing.T, db *store.DB, model string) map[string]term {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `
		SELECT term, estimate, std_error, ratio, lower, upper, p_value, n, n_excluded, converged, warning
		FROM model_estimates WHERE model = ? ORDER BY term`, model)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]term{}
	for rows.Next() {
		var name string
		var e term
		if err := rows.Scan(&name, &e.estimate, &e.stdErr, &e.ratio, &e.lower, &e.upper, &e.p, &e.n, &e.excluded, &e.converged, &e.warning); err != nil {
			t.Fatal(err)
		}
		out[name] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func relClose(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

// TestAliasedCovariateLeftOut adjusts for all six covariates on the sample, where
// program P04 is exactly the under-18 age band. R (coxph on the same rows, levels
// against the most frequent) leaves program P04 out as NA, warns that the
// coefficients of age 18-25, sex unknown and other and benzodiazepines may be
// infinite (no dropout among them), and gives the dose -0.311648222 (se 0.127180378,
// p 0.0142680692, HR 0.732).
func TestAliasedCovariateLeftOut(t *testing.T) {
	p := DefaultParams()
	p.Covariates = CovariateNames()
	db, s := rebuildSample(t, p)
	got := estimatesOf(t, db, "landmark_cox_dropout")
	dose := got["landmark_sessions_per_week"]
	if !relClose(dose.estimate.Float64, -0.311648222, 1e-6) || !relClose(dose.stdErr.Float64, 0.127180378, 1e-6) || !relClose(dose.p.Float64, 0.0142680692, 1e-6) {
		t.Errorf("dose %v (se %v, p %v); want R's -0.311648222 (0.127180378, 0.0142680692)", dose.estimate, dose.stdErr, dose.p)
	}
	if p04, ok := got["program=P04"]; !ok || p04.estimate.Valid || !strings.Contains(p04.warning.String, "program=P04") {
		t.Errorf("program=P04: %+v; want a row with a null estimate and a warning naming it", p04)
	}
	for _, name := range []string{"age_band=18-25", "sex=unknown", "sex=other", "primary_substance=benzodiazepines"} {
		if e := got[name]; e.estimate.Valid || !strings.Contains(e.warning.String, name) || e.converged {
			t.Errorf("%s: %+v; want a null estimate, a warning naming it as infinite and converged false", name, e)
		}
	}
	if !strings.Contains(s.Headline, "HR 0.73") || !strings.Contains(strings.Join(s.Warnings, "\n"), "program=P04") {
		t.Errorf("headline %q, warnings %q; want HR 0.73 and a warning naming program=P04", s.Headline, s.Warnings)
	}
}

// TestMissingCovariateLeftOutAndSaid empties co_occurring, one of the default
// covariates, for every episode (as the ctn0094 profile leaves it): the covariate is
// left out of every adjusted model with a warning that names it, and the models are
// fitted on every episode.
func TestMissingCovariateLeftOutAndSaid(t *testing.T) {
	// The sample's programs last 6 to 12 weeks: a relapse by day 90 cannot be seen
	// for an episode without one, so the logistic model asks about day 42.
	p := DefaultParams()
	p.HorizonDays = 42
	db, s := rebuildSample(t, p, `UPDATE episodes SET co_occurring = NULL`)
	for _, model := range []string{"landmark_cox_dropout", "landmark_cox_relapse", "time_varying_cox_dropout", "landmark_logistic_relapse"} {
		got := estimatesOf(t, db, model)
		if _, ok := got["(no fit)"]; ok {
			t.Errorf("%s not fitted: %+v", model, got["(no fit)"])
			continue
		}
		c := got["co_occurring"]
		if c.estimate.Valid || !strings.Contains(c.warning.String, "co_occurring is missing for every episode of the fit") {
			t.Errorf("%s: co_occurring %+v; want a null estimate and a warning that it is missing for every episode", model, c)
		}
		if e, ok := got["on_medication"]; !ok || !e.estimate.Valid || e.excluded != 0 {
			t.Errorf("%s: on_medication %+v; want an estimate with no episode excluded", model, e)
		}
	}
	if s.Headline == "" || !strings.Contains(strings.Join(s.Warnings, "\n"), "landmark_cox_dropout (the headline model): co_occurring is missing") {
		t.Errorf("headline %q, warnings %q; want a headline and a warning about co_occurring", s.Headline, s.Warnings)
	}
}

// TestIncompleteRowsCountedAndReasonSaid empties co_occurring for half of the
// episodes and on_medication for the other half: no episode is complete, and the
// warning must say so (not "no episodes in the landmark cohort"); with only the first
// half emptied, the complete cases are fitted and the excluded counted beside n.
func TestIncompleteRowsCountedAndReasonSaid(t *testing.T) {
	db, s := rebuildSample(t, DefaultParams(),
		`UPDATE episodes SET co_occurring = NULL WHERE hash(episode_id) % 2 = 0`,
		`UPDATE episodes SET on_medication = NULL WHERE hash(episode_id) % 2 = 1`)
	got := estimatesOf(t, db, "landmark_cox_dropout")
	var size int // the landmark cohort
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FILTER (WHERE in_landmark_cohort) FROM episode_outcomes`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	nf, ok := got["(no fit)"]
	if !ok || !strings.Contains(nf.warning.String, "every episode of the landmark cohort lacks a covariate") ||
		!strings.Contains(nf.warning.String, "episodes missing co_occurring or on_medication were left out") || nf.excluded != size || size < 100 {
		t.Errorf("no fit: %+v; want the reason (every episode of the cohort lacks a covariate) and all %d of the cohort excluded", nf, size)
	}
	if !strings.Contains(strings.Join(s.Warnings, "\n"), "lacks a covariate") {
		t.Errorf("warnings %q; want the reason the headline model was not fitted", s.Warnings)
	}

	db, _ = rebuildSample(t, DefaultParams(), `UPDATE episodes SET co_occurring = NULL WHERE hash(episode_id) % 2 = 0`)
	var cohort int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FILTER (WHERE in_landmark_cohort AND co_occurring IS NULL) FROM episode_outcomes`).Scan(&cohort); err != nil {
		t.Fatal(err)
	}
	dose := estimatesOf(t, db, "landmark_cox_dropout")["landmark_sessions_per_week"]
	if cohort == 0 || dose.excluded != cohort || dose.n != size-cohort || !strings.Contains(dose.warning.String, "episodes missing co_occurring were left out (complete cases") {
		t.Errorf("dose %+v; want %d excluded, n %d and a warning", dose, cohort, size-cohort)
	}
}

// TestLimitsUseExactQuantiles checks the Wilson intervals and funnel limits of kpis
// and the p values of model_estimates against the exact normal quantile and tail
// (R's qnorm and pnorm) to 1e-12 relative (1e-15 absolute, for limits at 0): with
// the rounded 1.959964 and 3.090232 the limits near 0 move by up to 5e-5, and
// 1 - erf makes the naive model's p 0.
func TestLimitsUseExactQuantiles(t *testing.T) {
	db, _ := rebuildSample(t, DefaultParams())
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `
		SELECT k.measure, k.numerator, k.denominator, k.lower, k.upper, a.rate,
		       k.funnel_lower_95, k.funnel_upper_95, k.funnel_lower_998, k.funnel_upper_998
		FROM kpis k JOIN kpis a ON a.program_id = 'ALL' AND a.period = k.period AND a.measure = k.measure
		WHERE k.denominator > 0 AND k.measure NOT LIKE 'retention_%' AND a.rate > 0 AND a.rate < 1
		ORDER BY k.program_id, k.period, k.measure`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var measure string
		var k, n, lo, hi, p0, f95lo, f95hi, f998lo, f998hi float64
		if err := rows.Scan(&measure, &k, &n, &lo, &hi, &p0, &f95lo, &f95hi, &f998lo, &f998hi); err != nil {
			t.Fatal(err)
		}
		wlo, whi := stats.Wilson(int(k), int(n), 0.95)
		w95 := stats.NormalQuantile(0.975) * math.Sqrt(p0*(1-p0)/n)
		w998 := stats.NormalQuantile(0.999) * math.Sqrt(p0*(1-p0)/n)
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"Wilson lower", lo, wlo}, {"Wilson upper", hi, whi},
			{"funnel lower 95", f95lo, math.Max(0, p0-w95)}, {"funnel upper 95", f95hi, math.Min(1, p0+w95)},
			{"funnel lower 99.8", f998lo, math.Max(0, p0-w998)}, {"funnel upper 99.8", f998hi, math.Min(1, p0+w998)}} {
			if math.Abs(c.got-c.want) > 1e-12*math.Abs(c.want)+1e-15 {
				t.Errorf("%s %v/%v: %s %.17g; want %.17g", measure, k, n, c.name, c.got, c.want)
				return
			}
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("%d kpi rows checked; want at least 100", checked)
	}
	naive := estimatesOf(t, db, "naive_cox_dropout")["sessions_per_week"]
	z := naive.estimate.Float64 / naive.stdErr.Float64
	if want := math.Erfc(math.Abs(z) / math.Sqrt2); !relClose(naive.p.Float64, want, 1e-9) {
		t.Errorf("naive p %.6g at z %.4f; want %.6g", naive.p.Float64, z, want)
	}
}
