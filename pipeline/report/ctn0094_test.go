package report

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

const ctnDir = "../../sample-data/ctn0094"

// readCSV reads a sample file as records, the header first.
func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(ctnDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// armShares returns, per program, how many episodes meet a condition and how many
// there are.
func armShares(t *testing.T, db *store.DB, cond string) map[string][2]int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `
		SELECT e.program_id, count(*) FILTER (WHERE `+cond+`), count(*)
		FROM episodes e LEFT JOIN relapse_events r
		  ON r.episode_id = e.episode_id AND r.definition = 'consecutive4_from_week3' AND r.missing_policy = 'positive'
		GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var p string
		var k, n int64
		if err := rows.Scan(&p, &k, &n); err != nil {
			t.Fatal(err)
		}
		out[p] = [2]int64{k, n}
	}
	return out
}

// TestCTN0094ReproducesPublishedResults loads the real trial data through the ctn0094
// profile (detected from the file names) with the trials' analysis parameters and
// checks published results of the trials against the pipeline's own tables.
func TestCTN0094ReproducesPublishedResults(t *testing.T) {
	p, err := models.LoadParams(filepath.Join(ctnDir, "analysis.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := testdb.Load(t, []string{ctnDir}, p, nil)
	db := testdb.Open(t, path)
	ctx := context.Background()

	// The ledger: every row read is loaded, a duplicate or rejected (the load
	// checks this itself; here, from the table), and the only reasons are a day that
	// is not a number and a visit or dose outside every treatment episode.
	var unbalanced, files int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE rows_read <> rows_loaded + rows_rejected + rows_duplicate), count(*) FROM load_files WHERE profile = 'ctn0094'`).Scan(&unbalanced, &files); err != nil {
		t.Fatal(err)
	}
	if unbalanced != 0 || files != 8 {
		t.Fatalf("%d of %d ctn0094 files unbalanced; want 0 of 8", unbalanced, files)
	}
	rejected := map[string]map[int64]string{} // file -> line -> reason
	rows, err := db.QueryContext(ctx, `SELECT f.path, r.line, r.reason FROM rejects r JOIN load_files f USING (file_id)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f, reason string
		var line int64
		if err := rows.Scan(&f, &line, &reason); err != nil {
			t.Fatal(err)
		}
		f = filepath.Base(f)
		if rejected[f] == nil {
			rejected[f] = map[int64]string{}
		}
		rejected[f][line] = reason
	}
	rows.Close()
	// Specimens with no day (NA) are the rejects of uds_temp.csv, as bad dates.
	var na []int64
	for i, r := range readCSV(t, "uds_temp.csv")[1:] {
		if r[2] == "NA" {
			na = append(na, int64(i+2))
		}
	}
	if len(rejected["uds_temp.csv"]) != len(na) || len(na) == 0 {
		t.Errorf("uds_temp.csv: %d rejects, want the %d specimens with no day", len(rejected["uds_temp.csv"]), len(na))
	}
	for _, l := range na {
		if rejected["uds_temp.csv"][l] != "bad_date" {
			t.Errorf("uds_temp.csv line %d (no day): reject %q, want bad_date", l, rejected["uds_temp.csv"][l])
		}
	}
	// Weekly visits of people never randomized belong to no episode: each is
	// rejected as unknown_episode.
	randomized := map[string]bool{}
	for _, r := range readCSV(t, "randomization.csv")[1:] {
		randomized[r[0]] = true
	}
	var never, neverRejected int
	for i, r := range readCSV(t, "derived_visitImputed.csv")[1:] {
		if !randomized[r[0]] {
			never++
			if rejected["derived_visitImputed.csv"][int64(i+2)] == "unknown_episode" {
				neverRejected++
			}
		}
	}
	if never == 0 || neverRejected != never {
		t.Errorf("visits of people never randomized: %d rejected as unknown_episode of %d", neverRejected, never)
	}
	for f, lines := range rejected {
		for l, reason := range lines {
			if reason != "unknown_episode" && reason != "bad_date" {
				t.Errorf("%s line %d: unexpected reject reason %s", f, l, reason)
			}
		}
	}

	near := func(what string, got [2]int64, wantPct float64) {
		t.Helper()
		pct := 100 * float64(got[0]) / float64(got[1])
		if math.Abs(pct-wantPct) > 2 {
			t.Errorf("%s: %d of %d = %.1f%%, published %.0f%% (want within 2 points)", what, got[0], got[1], pct, wantPct)
		}
		t.Logf("%s: %d of %d = %.1f%% (published %.0f%%)", what, got[0], got[1], pct, wantPct)
	}

	// CTN-0051 (Lee et al., Lancet 2018): started medication, 204 of 283 on
	// extended-release naltrexone and 270 of 287 on buprenorphine.
	started := armShares(t, db, "e.on_medication")
	for arm, want := range map[string][2]int64{"CTN51: Inpatient NR-NTX": {204, 283}, "CTN51: Inpatient BUP": {270, 287}} {
		if started[arm] != want {
			t.Errorf("%s started medication: %d of %d, published %d of %d", arm, started[arm][0], started[arm][1], want[0], want[1])
		}
	}
	// CTN-0051: opioid relapse by week 24 (four consecutive positive-or-missing
	// weeks from week 3, all of them by week 24), intention to treat: 65% vs 57%,
	// straight from relapse_events: the parameters' outcome window of 24 weeks keeps
	// the weeks no protocol scheduled out of the definition.
	var window string
	if err := db.QueryRowContext(ctx, `SELECT value FROM analysis_parameters WHERE name = 'outcome_window_weeks'`).Scan(&window); err != nil || window != "24" {
		t.Errorf("outcome_window_weeks %q (%v); analysis.yaml should set the trials' 24 weeks", window, err)
	}
	relapsed := armShares(t, db, "r.event")
	near("CTN-0051 XR-NTX relapse by week 24", relapsed["CTN51: Inpatient NR-NTX"], 65)
	near("CTN-0051 BUP relapse by week 24", relapsed["CTN51: Inpatient BUP"], 57)
	// CTN-0027 (Hser et al., Addiction 2014): on medication at 24 weeks, methadone
	// 74% vs buprenorphine 46%: episodes that completed (a dose in week 24).
	completed := armShares(t, db, "e.discharge_reason = 'completed'")
	near("CTN-0027 methadone on medication at week 24", completed["CTN27: Methadone"], 74)
	near("CTN-0027 buprenorphine on medication at week 24", completed["CTN27: Outpatient BUP"], 46)

	// The profile's default parameters fit every model with every covariate they
	// name: none is one the profile leaves empty (co_occurring is, for every episode).
	for _, m := range []string{"landmark_cox_dropout", "landmark_cox_relapse", "time_varying_cox_dropout", "landmark_logistic_relapse"} {
		var terms []string
		rows, err := db.QueryContext(ctx, `SELECT term || coalesce(' (' || warning || ')', '') FROM model_estimates WHERE model = ? ORDER BY term`, m)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var term string
			if err := rows.Scan(&term); err != nil {
				t.Fatal(err)
			}
			terms = append(terms, term)
		}
		rows.Close()
		all := strings.Join(terms, "; ")
		for _, c := range p.Covariates {
			if !strings.Contains(all, c) {
				t.Errorf("%s with the ctn0094 defaults (covariates %v) has no term for %s: %s", m, p.Covariates, c, all)
			}
		}
		if len(terms) == 0 || strings.Contains(all, "(no fit)") {
			t.Errorf("%s is not fitted with the ctn0094 defaults: %s", m, all)
		}
	}

	// The report over the trial data renders with the arms as programs.
	html, xlsx, rep := render(t, db, Options{From: "2019-01-01", To: "2019-06-30"})
	page := strings.ReplaceAll(string(html), "&#43;", "+")
	for _, arm := range []string{"CTN27: Methadone", "CTN27: Outpatient BUP", "CTN51: Inpatient NR-NTX", "CTN51: Inpatient BUP",
		"CTN30: Outpatient BUP + EMM", "CTN30: Outpatient BUP + SMM"} {
		if !strings.Contains(page, arm) {
			t.Errorf("report.html does not show the arm %s", arm)
		}
	}
	if len(xlsx) == 0 || len(rep.Sections) == 0 {
		t.Fatal("empty report")
	}
	book := sheets(t, xlsx)
	found := false
	for _, rows := range book {
		for _, r := range rows {
			if strings.Contains(strings.Join(r, "|"), "CTN51: Inpatient NR-NTX") {
				found = true
			}
		}
	}
	if !found {
		t.Error("report.xlsx does not show the arm CTN51: Inpatient NR-NTX")
	}
}
