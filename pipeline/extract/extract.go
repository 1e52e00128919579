// Package extract writes the analysis tables de-identified for sharing with
// researchers: pseudonymous keys only (the episode's own identifier is replaced too),
// birth year only with ages of 90 and over suppressed, and optionally every date
// replaced by a day offset from admission. A README inside describes every column
// and the parameters the models were built with.
package extract

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iop-outcomes/outcomes/pipeline"
	"github.com/iop-outcomes/outcomes/pipeline/outfile"
	"github.com/iop-outcomes/outcomes/pipeline/query"
	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// Options says what to write.
type Options struct {
	Dir    string
	Format string // parquet, arrow or csv
	// DateOffsets replaces dates by days from admission (and the admission date by
	// its year).
	DateOffsets bool
}

// table is one file of the extract: its query and what its derived columns mean.
type table struct {
	name, source, sql string
	derived           map[string]string // column -> description, for columns not in the source
}

// keys numbers each patient's episodes in admission order: the extract's episode key.
const keys = `(SELECT episode_id, patient_key || '-' || row_number() OVER (PARTITION BY patient_key ORDER BY admit_date, episode_id) AS episode_key FROM episodes)`

func tables(offsets bool) []table {
	dates := "o.admit_date, o.discharge_date"
	weekDates := "w.week_start,"
	derived := map[string]string{"episode_key": "Pseudonymous episode key: the patient_key and the episode's number among the patient's episodes in admission order. The export's episode id is not shared."}
	if offsets {
		dates = "year(o.admit_date) AS admit_year, date_diff('day', o.admit_date, o.discharge_date) AS discharge_day"
		weekDates = ""
		derived = map[string]string{
			"episode_key":   derived["episode_key"],
			"admit_year":    "Year of admission (the date itself is not shared).",
			"discharge_day": "Day of discharge counted from admission (day 0); null while active.",
		}
	}
	return []table{
		{name: "patients", source: "patients", sql: `
			SELECT patient_key,
			       CASE WHEN year((SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff')) - birth_year >= 90 THEN NULL ELSE birth_year END AS birth_year,
			       year((SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff')) - birth_year >= 90 AS age_90_plus,
			       sex, race, ethnicity, payer
			FROM patients ORDER BY patient_key`,
			derived: map[string]string{
				"birth_year":  "Year of birth; null for people 90 or older at the cutoff (see age_90_plus).",
				"age_90_plus": "Aged 90 or over at the cutoff; their birth year is not shared.",
			}},
		{name: "episodes", source: "episode_outcomes", sql: fmt.Sprintf(`
			SELECT k.episode_key, o.patient_key, o.program_id, %s,
			       o.* EXCLUDE (episode_id, patient_key, program_id, admit_date, discharge_date)
			FROM episode_outcomes o JOIN %s k USING (episode_id)
			ORDER BY o.patient_key, k.episode_key`, dates, keys), derived: derived},
		{name: "episode_weeks", source: "episode_weeks", sql: fmt.Sprintf(`
			SELECT k.episode_key, w.week, %s w.* EXCLUDE (episode_id, week, week_start)
			FROM episode_weeks w JOIN %s k USING (episode_id)
			ORDER BY k.episode_key, w.week`, weekDates, keys), derived: derived},
		{name: "relapse_events", source: "relapse_events", sql: fmt.Sprintf(`
			SELECT k.episode_key, r.* EXCLUDE (episode_id)
			FROM relapse_events r JOIN %s k USING (episode_id)
			ORDER BY k.episode_key, r.definition, r.missing_policy`, keys), derived: derived},
		{name: "analysis_parameters", source: "analysis_parameters", sql: parametersSQL(offsets)},
	}
}

// parametersSQL lists the model parameters; with day offsets the cutoff is given as
// its year only, since an active episode's length of stay counts to the cutoff and
// would give its admission date back.
func parametersSQL(offsets bool) string {
	if !offsets {
		return `SELECT * FROM analysis_parameters ORDER BY name`
	}
	return `SELECT name, CASE WHEN name = 'cutoff' THEN strftime(CAST(value AS DATE), '%Y') ELSE value END AS value, description
		FROM analysis_parameters ORDER BY name`
}

// Run writes the extract into opt.Dir and returns the files written.
func Run(ctx context.Context, db *store.DB, opt Options) ([]string, error) {
	ext := map[string]string{"parquet": ".parquet", "arrow": ".arrow", "csv": ".csv"}[opt.Format]
	if ext == "" {
		return nil, fmt.Errorf("format %q: use parquet, arrow or csv", opt.Format)
	}
	var models int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'episode_outcomes'`).Scan(&models); err != nil {
		return nil, err
	}
	if models == 0 {
		return nil, fmt.Errorf("the database has no models yet: load exports with etl (which rebuilds them) or run etl models")
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, err
	}
	docs, err := query.Describe(ctx, db)
	if err != nil {
		return nil, err
	}
	var files []string
	var readme strings.Builder
	fmt.Fprintf(&readme, "# De-identified extract\n\nWritten by `report extract` (version %s) from the outcomes database, as %s files.\n\n", pipeline.Version, opt.Format)
	readme.WriteString("What is left out: the export's patient and episode identifiers (patients are known only by `patient_key`, a keyed pseudonym; episodes by `episode_key`), ")
	readme.WriteString("names, contact details and record numbers (never stored), dates of birth (only the birth year, suppressed for ages 90 and over)")
	if opt.DateOffsets {
		readme.WriteString(", and every date: days are counted from admission (day 0) and the admission itself is given as a year")
	}
	readme.WriteString(".\n\nThe files are protected health information under a data use agreement even so: small counts are not suppressed in row-level data.\n")
	if opt.Format == "csv" {
		readme.WriteString("\nEvery value is written exactly as stored, for programs to read: text that starts with `=`, `+`, `-` or `@` (such as `uds_symbol`'s `+` and `-`) is not changed. ")
		readme.WriteString("A spreadsheet that opens a CSV file may run such text as a formula: import the files as text (or read the Parquet extract) rather than opening them by double-click.\n")
	}
	for _, t := range tables(opt.DateOffsets) {
		out := filepath.Join(opt.Dir, t.name+ext)
		n, err := query.Run(ctx, db, t.sql, query.Options{Format: opt.Format, Out: out, Exact: true})
		if err != nil {
			return files, fmt.Errorf("extract %s: %w", t.name, err)
		}
		files = append(files, out)
		cols, err := columnsOf(ctx, db, t.sql)
		if err != nil {
			return files, err
		}
		src := docs[t.source]
		fmt.Fprintf(&readme, "\n## %s%s (%d rows)\n\n%s\n\n| column | description |\n|---|---|\n", t.name, ext, n, src.Comment)
		for _, c := range cols {
			desc := t.derived[c]
			if desc == "" {
				for _, sc := range src.Columns {
					if sc.Name == c {
						desc = sc.Comment
					}
				}
			}
			fmt.Fprintf(&readme, "| `%s` | %s |\n", c, strings.ReplaceAll(desc, "|", "\\|"))
		}
	}
	readme.WriteString("\n## Parameters of the models\n\n| name | value | description |\n|---|---|---|\n")
	rows, err := db.QueryContext(ctx, parametersSQL(opt.DateOffsets))
	if err != nil {
		return files, err
	}
	defer rows.Close()
	for rows.Next() {
		var n, v, d string
		if err := rows.Scan(&n, &v, &d); err != nil {
			return files, err
		}
		fmt.Fprintf(&readme, "| %s | %s | %s |\n", n, v, d)
	}
	readmePath := filepath.Join(opt.Dir, "README.md")
	if err := outfile.WriteFile(readmePath, []byte(readme.String())); err != nil {
		return files, err
	}
	return append(files, readmePath), rows.Err()
}

// columnsOf returns the column names of a query's result.
func columnsOf(ctx context.Context, db *store.DB, sql string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM ("+sql+") LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}
