package query

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/iop-outcomes/outcomes/pipeline/store"
)

// layers groups the tables of the database by stage of the data flow, in the order
// the dictionary lists them.
func layers() []struct {
	name   string
	tables []string
} {
	return []struct {
		name   string
		tables []string
	}{
		{"Ledger", []string{"load_runs", "load_files", "rejects", "dq_history", "site_key", "schema_migrations"}},
		{"Vocabulary", []string{"codes", "measures"}},
		{"Core", []string{"programs", "patients", "episodes", "sessions", "observations"}},
		{"Models", []string{"analysis_parameters", "model_builds", "model_pending", "episode_weeks", "relapse_events", "episode_outcomes", "episode_followups", "km_estimates", "logrank_tests", "model_estimates", "kpi_facts", "kpi_quarter_facts", "kpis", "kpi_values", "kpi_distributions", "kpis_by_group", "kpi_control"}},
	}
}

// TableDoc is a table's description and its columns'.
type TableDoc struct {
	Name, Comment string
	Columns       []ColumnDoc
}

// ColumnDoc is one column's name, type and description.
type ColumnDoc struct {
	Name, Type, Comment string
}

// Querier is what Describe reads with: a database or one connection to it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Describe reads the comments of every table and view, and of their columns, of the
// main schema (a view's name says so in its description).
func Describe(ctx context.Context, db Querier) (map[string]TableDoc, error) {
	docs := map[string]TableDoc{}
	rows, err := db.QueryContext(ctx, `
		WITH t AS (
		    SELECT database_name, schema_name, table_name, coalesce(comment, '') AS comment FROM duckdb_tables()
		    UNION ALL
		    SELECT database_name, schema_name, view_name, '(A view.) ' || coalesce(comment, '') FROM duckdb_views() WHERE NOT internal)
		SELECT t.table_name, t.comment, c.column_name, c.data_type, coalesce(c.comment, '')
		FROM t
		JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
		WHERE t.database_name = current_database() AND t.schema_name = 'main'
		ORDER BY t.table_name, c.column_index`)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, tcomment string
		var c ColumnDoc
		if err := rows.Scan(&table, &tcomment, &c.Name, &c.Type, &c.Comment); err != nil {
			return nil, err
		}
		d := docs[table]
		d.Name, d.Comment = table, tcomment
		d.Columns = append(d.Columns, c)
		docs[table] = d
	}
	return docs, rows.Err()
}

// Dictionary writes the data dictionary as Markdown: every table of the database by
// layer, with its description and its columns' names, types and descriptions, all
// from the comments in the database.
func Dictionary(ctx context.Context, db *store.DB) (string, error) {
	docs, err := Describe(ctx, db)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Data dictionary\n\n")
	b.WriteString("Every table and column of the outcomes database, from the comments stored in it\n")
	b.WriteString("(`report dictionary` writes this file; `DESCRIBE` and `duckdb_columns()` show the same).\n")
	listed := map[string]bool{}
	section := func(title string, tables []string) {
		fmt.Fprintf(&b, "\n## %s\n", title)
		for _, t := range tables {
			d, ok := docs[t]
			if !ok {
				continue
			}
			listed[t] = true
			fmt.Fprintf(&b, "\n### %s\n\n%s\n\n| column | type | description |\n|---|---|---|\n", t, d.Comment)
			for _, c := range d.Columns {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Name, c.Type, strings.ReplaceAll(c.Comment, "|", "\\|"))
			}
		}
	}
	for _, l := range layers() {
		section(l.name, l.tables)
	}
	var other []string
	for t := range docs {
		if !listed[t] {
			other = append(other, t)
		}
	}
	slices.Sort(other)
	if len(other) > 0 {
		section("Other", other)
	}
	return b.String(), nil
}
