package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/iop-outcomes/outcomes/pipeline"
)

// runPrograms is `report programs`: the programs of the database, with the quarters
// that have data, so that a director can find what to pass to --program and --period.
func runPrograms(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withDatabase(ctx, "report programs", args, stderr, func(db *sql.DB) error { return programs(ctx, db, stdout) })
}

// programs prints one line per program (and one for all of them) with its name, site,
// level of care and the first and last quarter with data.
func programs(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		WITH q AS (SELECT program_id, min(period) AS first, max(period) AS last FROM kpis GROUP BY program_id)
		SELECT * FROM (
		  SELECT p.program_id, p.name, coalesce(p.site, ''), p.level_of_care, coalesce(q.first, ''), coalesce(q.last, '')
		  FROM programs p LEFT JOIN q USING (program_id)
		  UNION ALL
		  SELECT 'ALL', 'All programs', '', '', first, last FROM q WHERE program_id = 'ALL') AS t(program_id, name, site, level, first, last)
		ORDER BY program_id = 'ALL', program_id`)
	if err != nil {
		return fmt.Errorf("read the programs: %w; load exports with etl first (it builds the models)", err)
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "program\tname\tsite\tlevel\tfirst quarter\tlast quarter")
	for rows.Next() {
		var id, name, site, level, first, last string
		if err := rows.Scan(&id, &name, &site, &level, &first, &last); err != nil {
			return fmt.Errorf("read the programs: %w", err)
		}
		if first == "" {
			first, last = "(no data)", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", pipeline.Printable(id), pipeline.Printable(name), pipeline.Printable(site), level, first, last)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the programs: %w", err)
	}
	return tw.Flush()
}
