package models

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/queries"
)

// Summary is what a rebuild did.
type Summary struct {
	Cutoff   string        `json:"cutoff"`
	Episodes int64         `json:"episodes"`
	Cohort   int64         `json:"landmark_cohort"`
	Took     time.Duration `json:"took_ns"`
	// Mode is full or incremental; Reason says why; Recomputed counts the episodes
	// the per-episode models were run on.
	Mode       string `json:"mode"`
	Reason     string `json:"reason"`
	Recomputed int64  `json:"episodes_recomputed"`
	// Headline is the landmark hazard ratio of dropout per additional weekly session.
	Headline string `json:"headline"`
	// Warnings say, one line per model, what went wrong in a fit: covariates or
	// rows left out, a term aliased or running to infinity, a model not fitted.
	Warnings []string `json:"warnings,omitempty"`
}

// Rebuild runs every model on conn (a connection to the working copy of the
// database, so a failed rebuild leaves the previous results): parameters, the SQL
// models in order with the relapse sequences between them, then the fits. A database
// with no episodes gets empty result tables.
func Rebuild(ctx context.Context, conn *sql.Conn, p Params, log *slog.Logger) (*Summary, error) {
	return rebuild(ctx, conn, p, log, false, nil)
}

// RebuildAll is Rebuild that recomputes every episode, whatever changed.
func RebuildAll(ctx context.Context, conn *sql.Conn, p Params, log *slog.Logger) (*Summary, error) {
	return rebuild(ctx, conn, p, log, true, nil)
}

// PerEpisode computes the per-episode model tables of a rebuild (episode_weeks,
// relapse_events and episode_outcomes, with their columns and comments as the DuckDB
// models make them) on conn, from the model source src, in place of the DuckDB
// models: another engine runs the session-level models and its rows are put here.
type PerEpisode func(ctx context.Context, conn *sql.Conn, src Source) error

// RebuildWith is RebuildAll with the per-episode models computed by run; the models
// that read them (follow-up, the measures, the fits) run on conn as in Rebuild.
func RebuildWith(ctx context.Context, conn *sql.Conn, p Params, log *slog.Logger, run PerEpisode) (*Summary, error) {
	return rebuild(ctx, conn, p, log, true, run)
}

func rebuild(ctx context.Context, conn *sql.Conn, p Params, log *slog.Logger, force bool, other PerEpisode) (*Summary, error) {
	start := time.Now()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cutoff := p.Cutoff
	if cutoff == "" {
		var c sql.NullString
		if err := conn.QueryRowContext(ctx, `
			SELECT strftime(greatest(
				(SELECT max(admit_date) FROM episodes), (SELECT max(discharge_date) FROM episodes),
				(SELECT max(session_date) FROM sessions)), '%Y-%m-%d')`).Scan(&c); err != nil {
			return nil, fmt.Errorf("find the data cutoff: %w", err)
		}
		if !c.Valid {
			cutoff = time.Now().UTC().Format(time.DateOnly)
		} else {
			cutoff = c.String
		}
	}
	s := &Summary{Cutoff: cutoff}
	params := paramRows(p, cutoff)
	// The session-level models are rendered with the parameters as literals; the
	// others read them through the macros of macros.sql. The fingerprint is of the
	// files as written: the parameters are compared on their own (planBuild).
	src := Source{P: p, Cutoff: cutoff}
	sqlFiles := []string{"macros.sql", WeeksModel, SequencesModel, OutcomesModel, "0031_episode_followups.sql",
		"0035_kpi_facts.sql", "0036_kpi_values.sql", "0037_kpi_distributions.sql", "0040_kpis.sql",
		"0045_kpis_by_group.sql", "0050_kpi_control.sql"}
	sqlText := map[string]string{}
	fingerprint := sha256.New()
	for _, f := range sqlFiles {
		b, err := fs.ReadFile(queries.FS, path.Join("models", f))
		if err != nil {
			return nil, err
		}
		sqlText[f] = string(b)
		fmt.Fprintf(fingerprint, "%s\x00%s\x00", f, b)
	}
	for _, f := range []string{WeeksModel, SequencesModel, OutcomesModel} {
		text, err := src.Render(DuckDB, f)
		if err != nil {
			return nil, err
		}
		sqlText[f] = text
	}
	models := hex.EncodeToString(fingerprint.Sum(nil))
	plan, err := planBuild(ctx, conn, params, p, models, force)
	if err != nil {
		return nil, err
	}
	s.Mode, s.Reason, s.Recomputed = plan.mode, plan.reason, plan.episodes
	log.Debug("models plan", "mode", plan.mode, "reason", plan.reason, "episodes", plan.episodes)
	if err := writeParams(ctx, conn, params); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, sqlText["macros.sql"]); err != nil {
		return nil, fmt.Errorf("create model macros: %w", err)
	}
	step := func(name string, fn func() error) error {
		t := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		log.Debug("model "+name, "took", time.Since(t).Round(time.Millisecond))
		return nil
	}
	runSQL := func(file string) error {
		_, err := conn.ExecContext(ctx, sqlText[file])
		return err
	}
	// The per-episode models: over every episode, or, in an incremental rebuild,
	// over the episodes in scope (see planBuild), whose rows then replace theirs.
	perEpisode := []struct {
		name string
		fn   func() error
	}{
		{"episode_weeks", func() error { return runSQL(WeeksModel) }},
		{"relapse_events", func() error {
			return RelapseEvents(ctx, conn, plan.schema(), sqlText[SequencesModel], p.OutcomeWindowWeeks)
		}},
		{"episode_outcomes", func() error { return runSQL(OutcomesModel) }},
	}
	runPerEpisode := func() error {
		if other != nil {
			return step("per-episode models", func() error { return other(ctx, conn, src) })
		}
		for _, st := range perEpisode {
			if err := step(st.name, st.fn); err != nil {
				return err
			}
		}
		return nil
	}
	if plan.mode == modeIncremental {
		err = incremental(ctx, conn, log, runPerEpisode)
	} else {
		err = runPerEpisode()
	}
	if err != nil {
		return nil, err
	}
	var eps []episode
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{"episode_followups", func() error { return runSQL("0031_episode_followups.sql") }},
		{"kpi_facts", func() error { return runSQL("0035_kpi_facts.sql") }},
		{"kpi_values", func() error { return runSQL("0036_kpi_values.sql") }},
		{"kpi_distributions", func() error { return runSQL("0037_kpi_distributions.sql") }},
		{"kpis", func() error { return runSQL("0040_kpis.sql") }},
		{"kpis_by_group", func() error { return runSQL("0045_kpis_by_group.sql") }},
		{"kpi_control", func() error { return runSQL("0050_kpi_control.sql") }},
		{"episodes of the fits", func() (err error) { eps, err = loadEpisodes(ctx, conn, p); return err }},
		{"retention_kpis", func() error { return retentionKPIs(ctx, conn, eps) }},
		{"retention_kpis_by_group", func() error { return retentionByGroup(ctx, conn, eps) }},
		{"survival", func() error { return survival(ctx, conn, p, eps) }},
		{"regression", func() error { return regressions(ctx, conn, p, eps, s) }},
	} {
		if err := step(st.name, st.fn); err != nil {
			return nil, err
		}
	}
	if err := recordBuild(ctx, conn, plan, models); err != nil {
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE in_landmark_cohort) FROM episode_outcomes`).Scan(&s.Episodes, &s.Cohort); err != nil {
		return nil, err
	}
	s.Took = time.Since(start)
	return s, nil
}

// paramRows are every parameter of a rebuild: name, value and description.
func paramRows(p Params, cutoff string) [][3]string {
	return [][3]string{
		{"cutoff", cutoff, "Data cutoff: the last day the analysis sees (default: the latest date in the data)."},
		{"landmark_days", strconv.Itoa(p.LandmarkDays), "Landmark L: exposure is attendance in days 0..L-1; the cohort is the episodes still in treatment at day L."},
		{"dose_band_edges", joinFloats(p.DoseBands), "Lower edges of the dose bands, attended sessions per week in days 0..L-1."},
		{"dose_band_labels", strings.Join(bandLabels(p.DoseBands), "|"), "Labels of the dose bands."},
		{"hours_band_edges", joinFloats(p.HoursBands), "Lower edges of the hours-per-week bands (ASAM levels of care)."},
		{"hours_band_labels", strings.Join(bandLabels(p.HoursBands), "|"), "Labels of the hours bands."},
		{"relapse_definition", p.RelapseDefinition, "Default relapse definition (episode_outcomes.relapse_event and the relapse models)."},
		{"missing_policy", p.MissingPolicy, "Default missing-test policy: a missing screen counts as positive, is ignored, or breaks a run."},
		{"covariates", strings.Join(p.Covariates, "|"), "Covariates the landmark and time-varying models are adjusted for."},
		{"horizon_days", strconv.Itoa(p.HorizonDays), "Fixed horizon of the logistic model: relapse by this day."},
		{"relapse_substances", strings.Join(p.RelapseSubstances, "|"), "Drug-screen measures whose positive results count as use; empty: all but uds_buprenorphine and uds_methadone."},
		{"outcome_window_weeks", strconv.Itoa(p.OutcomeWindowWeeks), "Outcome window: the relapse definitions and dropout by screens read only weeks 1..W from admission; 0: the whole episode."},
		{"screens_expected", p.ScreensExpected, "Weeks that expect a drug screen: recorded (only weeks with a uds_specimen missing record) or weekly (every week of an episode)."},
		{"followup_window_days", strconv.Itoa(p.FollowUpWindowDays), "Follow-up window: a contact N - w to N + w days after discharge counts as the N-day follow-up (N = 30, 90, 180); an episode is due for it once day N + w has passed by the cutoff."},
		{"access_target_days", strconv.Itoa(p.AccessTargetDays), "Access target: days from referral to admission, and from admission to the first attended session, counted as within target."},
		{"satisfied_min_score", strconv.Itoa(p.SatisfiedMinScore), "CSQ-8 total (8-32) from which a person counts as satisfied; 24 is an average item answer of 3 (good, mostly satisfied)."},
		{"version", pipeline.Version, "Version of the tool that rebuilt the models."},
	}
}

// writeParams records every parameter of the rebuild in analysis_parameters.
func writeParams(ctx context.Context, conn *sql.Conn, rows [][3]string) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM analysis_parameters`); err != nil {
		return fmt.Errorf("write parameters: %w", err)
	}
	for _, r := range rows {
		if _, err := conn.ExecContext(ctx, `INSERT INTO analysis_parameters VALUES (?, ?, ?)`, r[0], r[1], r[2]); err != nil {
			return fmt.Errorf("write parameters: %w", err)
		}
	}
	return nil
}

// RelapseEvents fills relapse_events (in schema) from the weekly sequences of every
// episode: the rows of sequences, a query of episode_id, symbols and reports (the
// model relapse_sequences, or its rows as another engine wrote them). Each sequence
// is read up to week window (0: every week), and each episode without an event gets
// the week it is censored at (CensorWeek). The episodes go in batches of
// relapseBatch, in episode order, so that memory stays bounded at any size: a batch
// is read whole, then its events are appended (the connection cannot append while a
// query streams). The events are appended as numbers (the episode's place in the
// input, the definition and policy as an index into relapseKinds), which costs a
// fraction of appending their text; one INSERT then writes the rows with their text.
func RelapseEvents(ctx context.Context, conn *sql.Conn, schema, sequences string, window int) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM relapse_events`); err != nil {
		return err
	}
	q := Statements(sequences)
	if len(q) != 1 {
		return fmt.Errorf("relapse sequences: want one query, have %d", len(q))
	}
	if _, err := conn.ExecContext(ctx, `
		CREATE OR REPLACE TEMP TABLE relapse_input AS
		SELECT row_number() OVER (ORDER BY episode_id) AS n, episode_id, symbols, reports
		FROM (`+q[0]+`)`); err != nil {
		return err
	}
	cleanup := context.WithoutCancel(ctx)
	defer conn.ExecContext(cleanup, `DROP TABLE IF EXISTS temp.relapse_input`)
	if _, err := conn.ExecContext(ctx, `
		CREATE OR REPLACE TEMP TABLE relapse_found (n BIGINT, kind INTEGER, event BOOLEAN, week INTEGER, censor_week INTEGER)`); err != nil {
		return err
	}
	defer conn.ExecContext(cleanup, `DROP TABLE IF EXISTS temp.relapse_found`)
	var episodes int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM temp.relapse_input`).Scan(&episodes); err != nil {
		return err
	}
	kinds := relapseKinds()
	out := make([]relapseEvent, 0, relapseBatch*len(kinds))
	for from := int64(0); from < episodes; from += relapseBatch {
		out = out[:0]
		rows, err := conn.QueryContext(ctx, `SELECT n, symbols, reports FROM temp.relapse_input WHERE n > ? AND n <= ? ORDER BY n`,
			from, from+relapseBatch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int64
			var symbols string
			var reports []any
			if err := rows.Scan(&n, &symbols, &reports); err != nil {
				rows.Close()
				return err
			}
			use := make([]float64, len(reports))
			for i, r := range reports {
				use[i], _ = r.(float64)
			}
			if window > 0 && len(symbols) > window {
				symbols, use = symbols[:window], use[:window]
			}
			for k, kind := range kinds {
				var happened bool
				var week, censor int
				switch kind.def {
				case "dropout_4_missing":
					week = DropoutWeek(symbols)
					happened, censor = week > 0, DropoutCensorWeek(symbols)
				case "self_report":
					happened, week = SelfReportRelapse(use)
					censor = SelfReportCensorWeek(len(use))
				default:
					happened, week, err = Relapse(symbols, kind.def, kind.policy)
					if err == nil {
						censor, err = CensorWeek(symbols, kind.def, kind.policy)
					}
					if err != nil {
						rows.Close()
						return err
					}
				}
				out = append(out, relapseEvent{n, int32(k), happened, int32(week), int32(censor)})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The week of the event, or without one the week it is censored at (null
		// when it was never at risk).
		err = appendEach(conn, "temp", "main", "relapse_found", len(out), 5, func(i int, row []driver.Value) {
			e := out[i]
			row[0], row[1], row[2], row[3], row[4] = e.n, e.kind, e.happened, nil, nil
			if e.happened {
				row[3] = e.week
			} else if e.censor > 0 {
				row[4] = e.censor
			}
		})
		if err != nil {
			return err
		}
	}
	values := make([]string, len(kinds))
	for k, kind := range kinds {
		values[k] = fmt.Sprintf("(%d, %s, %s)", k, quote(kind.def), quote(kind.policy))
	}
	_, err := conn.ExecContext(ctx, `
		INSERT INTO `+schema+`.relapse_events (episode_id, definition, missing_policy, event, week, censor_week)
		SELECT i.episode_id, k.definition, k.missing_policy, f.event, f.week, f.censor_week
		FROM temp.relapse_found f
		JOIN temp.relapse_input i USING (n)
		JOIN (VALUES `+strings.Join(values, ", ")+`) k(kind, definition, missing_policy) USING (kind)
		ORDER BY f.n, f.kind`)
	return err
}

// relapseKind is a definition of relapse_events with its missing-test policy.
type relapseKind struct{ def, policy string }

// relapseKinds are the rows of relapse_events of each episode, in their order:
// dropout by screens, then every definition under every policy.
func relapseKinds() []relapseKind {
	kinds := []relapseKind{{"dropout_4_missing", "not_applicable"}}
	for _, policy := range Policies() {
		for _, def := range Definitions() {
			kinds = append(kinds, relapseKind{def, policy})
		}
	}
	return kinds
}

// relapseEvent is a row of relapse_events: the episode's place in the input and the
// index of its kind.
type relapseEvent struct {
	n            int64
	kind         int32
	happened     bool
	week, censor int32
}

// relapseBatch is how many episodes relapseEvents holds at once (about 16 events
// each).
const relapseBatch = 20_000

// appendRows adds rows to a table of the database through DuckDB's Appender, which
// is many times faster than an INSERT per row. Values must have the columns' Go types
// (int32 for INTEGER, float64 for DOUBLE, nil for NULL).
func appendRows(conn *sql.Conn, schema, table string, rows [][]any) error {
	return appendRowsTo(conn, "", schema, table, rows)
}

// appendRowsTo is appendRows into a table of a catalog ("temp" for a temporary
// table, whose schema is main).
func appendRowsTo(conn *sql.Conn, catalog, schema, table string, rows [][]any) error {
	width := 0
	if len(rows) > 0 {
		width = len(rows[0])
	}
	return appendEach(conn, catalog, schema, table, len(rows), width, func(i int, row []driver.Value) {
		for j, v := range rows[i] {
			row[j] = v
		}
	})
}

// appendEach appends n rows of width values to a table through the Appender, fill
// writing the values of row i into the row it is given (the same slice each time, so
// nothing is allocated per row).
func appendEach(conn *sql.Conn, catalog, schema, table string, n, width int, fill func(i int, row []driver.Value)) error {
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), catalog, schema, table)
		if err != nil {
			return err
		}
		row := make([]driver.Value, width)
		for i := 0; i < n; i++ {
			fill(i, row)
			if err := a.AppendRow(row...); err != nil {
				a.Close()
				return fmt.Errorf("append to %s: %w", table, err)
			}
		}
		return a.Close()
	})
}
