package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Rebuild modes.
const (
	modeFull        = "full"
	modeIncremental = "incremental"
)

// readmitWindowDays is the longest follow-up after discharge that an episode's
// outcomes look at (readmit_90; readmit_30 is the other); the outcome is known once
// the window has closed by the cutoff.
const readmitWindowDays = 90

// satisfactionWindowDays is how long after discharge a CSQ-8 score still counts for
// the episode (episode_outcomes.csq8_score, queries/models/0030).
const satisfactionWindowDays = 30

// plan is what a rebuild will recompute.
type plan struct {
	mode, reason string
	through      int64 // the last load_files.file_id the models will include
	episodes     int64 // episodes the per-episode models run on
}

// schema is where the per-episode models write: main, or the scratch schema delta of
// an incremental rebuild.
func (p plan) schema() string {
	if p.mode == modeIncremental {
		return "delta"
	}
	return "main"
}

// planBuild decides between a full and an incremental rebuild. A rebuild is
// incremental when the last one ran the same model SQL with the same parameters, the
// cutoff has not moved back, and the loads since then changed less than half of the
// episodes. Its scope, written to delta.scope, is every episode of every patient with
//   - a row loaded since the last rebuild (load_file_id after its through_file_id) in
//     patients, episodes, sessions or observations;
//   - a row replaced since then (model_pending, noted by the loader);
//   - when the cutoff moved forward, an episode whose outcomes read the cutoff: one
//     not discharged by the old cutoff (its length of stay and weeks run to the
//     cutoff), one admitted within the landmark before it (the landmark cohort),
//     one whose 30- or 90-day readmission window closes between the two cutoffs, and
//     one whose satisfaction window (a CSQ-8 up to 30 days after discharge) was still
//     open at the old cutoff.
//
// All of a patient's episodes go together because readmission reads the patient's
// other episodes. Outside the scope nothing a model reads has changed, so the rows of
// those episodes stay as they are; TestIncrementalRebuildEqualsFull holds this to
// account.
func planBuild(ctx context.Context, conn *sql.Conn, params [][3]string, p Params, models string, force bool) (plan, error) {
	var pl plan
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(file_id), 0) FROM load_files`).Scan(&pl.through); err != nil {
		return pl, fmt.Errorf("plan the rebuild: %w", err)
	}
	full := func(reason string) (plan, error) {
		pl.mode, pl.reason = modeFull, reason
		err := conn.QueryRowContext(ctx, `SELECT count(*) FROM episodes`).Scan(&pl.episodes)
		return pl, err
	}
	if force {
		return full("asked for (etl models --full)")
	}
	var prevThrough int64
	var prevModels string
	err := conn.QueryRowContext(ctx, `SELECT through_file_id, models_sha256 FROM model_builds ORDER BY built_at DESC, through_file_id DESC LIMIT 1`).Scan(&prevThrough, &prevModels)
	if errors.Is(err, sql.ErrNoRows) {
		return full("first rebuild of this database")
	}
	if err != nil {
		return pl, fmt.Errorf("plan the rebuild: %w", err)
	}
	if prevModels != models {
		return full("the model SQL changed")
	}
	prev := map[string]string{}
	rows, err := conn.QueryContext(ctx, `SELECT name, value FROM analysis_parameters`)
	if err != nil {
		return pl, fmt.Errorf("plan the rebuild: %w", err)
	}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			rows.Close()
			return pl, err
		}
		prev[n] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return pl, err
	}
	if len(prev) != len(params) {
		return full("the parameters changed")
	}
	var cutoff string
	for _, r := range params {
		if r[0] == "cutoff" {
			cutoff = r[1]
			continue
		}
		if prev[r[0]] != r[1] {
			return full("parameter " + r[0] + " changed")
		}
	}
	oldCutoff, err1 := time.Parse(time.DateOnly, prev["cutoff"])
	newCutoff, err2 := time.Parse(time.DateOnly, cutoff)
	if err1 != nil || err2 != nil {
		return full("the last cutoff is unreadable")
	}
	if newCutoff.Before(oldCutoff) {
		return full("the cutoff moved back")
	}
	moved := newCutoff.After(oldCutoff)
	for _, q := range []string{
		`DROP SCHEMA IF EXISTS delta CASCADE`,
		`CREATE SCHEMA delta`,
		fmt.Sprintf(`
		CREATE TABLE delta.scope AS
		WITH touched AS (
		    SELECT episode_id, patient_key FROM model_pending
		    UNION ALL SELECT episode_id, patient_key FROM main.episodes WHERE load_file_id > %[1]d
		    UNION ALL SELECT episode_id, patient_key FROM main.sessions WHERE load_file_id > %[1]d
		    UNION ALL SELECT episode_id, patient_key FROM main.observations WHERE load_file_id > %[1]d
		    UNION ALL SELECT NULL, patient_key FROM main.patients WHERE load_file_id > %[1]d
		    UNION ALL SELECT episode_id, patient_key FROM main.episodes
		    WHERE %[2]t AND (discharge_date IS NULL OR discharge_date > DATE '%[3]s'
		                     OR admit_date > DATE '%[3]s' - %[5]d
		                     OR discharge_date + 30 BETWEEN DATE '%[3]s' + 1 AND DATE '%[6]s'
		                     OR discharge_date + %[7]d > DATE '%[3]s'
		                     OR discharge_date + %[4]d BETWEEN DATE '%[3]s' + 1 AND DATE '%[6]s')
		),
		patients AS (
		    SELECT patient_key FROM touched WHERE patient_key IS NOT NULL
		    UNION
		    SELECT e.patient_key FROM main.episodes e SEMI JOIN touched t ON e.episode_id = t.episode_id
		)
		SELECT e.episode_id FROM main.episodes e SEMI JOIN patients p ON e.patient_key = p.patient_key
		UNION
		SELECT episode_id FROM touched WHERE episode_id IS NOT NULL`,
			prevThrough, moved, oldCutoff.Format(time.DateOnly), readmitWindowDays, p.LandmarkDays, newCutoff.Format(time.DateOnly),
			satisfactionWindowDays),
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return pl, fmt.Errorf("plan the rebuild: %w", err)
		}
	}
	var all int64
	if err := conn.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM delta.scope), (SELECT count(*) FROM main.episodes)`).Scan(&pl.episodes, &all); err != nil {
		return pl, fmt.Errorf("plan the rebuild: %w", err)
	}
	if 2*pl.episodes > all {
		if _, err := conn.ExecContext(ctx, `DROP SCHEMA delta CASCADE`); err != nil {
			return pl, err
		}
		return full(strconv.FormatInt(pl.episodes, 10) + " of " + strconv.FormatInt(all, 10) + " episodes changed")
	}
	pl.mode = modeIncremental
	pl.reason = fmt.Sprintf("%d of %d episodes changed or read the cutoff", pl.episodes, all)
	return pl, nil
}

// incremental runs the per-episode models (run) over the episodes of delta.scope and
// puts their rows in place of those episodes' rows. The models' SQL is the same as in
// a full rebuild: with delta first on the search path, the episodes they read are
// delta.episodes, the scope's episodes only, and the tables they create are made in
// delta; every other table they read is main's.
func incremental(ctx context.Context, conn *sql.Conn, log *slog.Logger, run func() error) error {
	for _, q := range []string{
		`CREATE VIEW delta.episodes AS SELECT e.* FROM main.episodes e SEMI JOIN delta.scope s ON e.episode_id = s.episode_id`,
		`CREATE TABLE delta.relapse_events AS SELECT * FROM main.relapse_events LIMIT 0`,
		`SET schema = 'delta'`,
		`SET search_path = 'delta,main'`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("prepare the incremental rebuild: %w", err)
		}
	}
	err := run()
	for _, q := range []string{`SET schema = 'main'`, `RESET search_path`} {
		if _, e := conn.ExecContext(ctx, q); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	for _, t := range []string{"episode_weeks", "relapse_events", "episode_outcomes"} {
		start := time.Now()
		for _, q := range []string{
			`DELETE FROM main.` + t + ` WHERE episode_id IN (SELECT episode_id FROM delta.scope)`,
			`INSERT INTO main.` + t + ` SELECT * FROM delta.` + t,
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("replace the rows of %s: %w", t, err)
			}
		}
		log.Debug("replace the rows of "+t, "took", time.Since(start).Round(time.Millisecond))
	}
	_, err = conn.ExecContext(ctx, `DROP SCHEMA delta CASCADE`)
	return err
}

// recordBuild notes the rebuild in model_builds and empties model_pending.
func recordBuild(ctx context.Context, conn *sql.Conn, pl plan, models string) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM model_pending`); err != nil {
		return fmt.Errorf("record the rebuild: %w", err)
	}
	// The time comes from Go in UTC: DuckDB's now()::TIMESTAMP is the machine's local time.
	if _, err := conn.ExecContext(ctx, `INSERT INTO model_builds VALUES (?, ?, ?, ?, ?, ?)`,
		time.Now().UTC(), pl.mode, pl.reason, pl.through, pl.episodes, models); err != nil {
		return fmt.Errorf("record the rebuild: %w", err)
	}
	return nil
}
