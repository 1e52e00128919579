package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// applyCounts is what apply did with the rows that passed staging.
type applyCounts struct {
	inserted, updated int64
	// duplicate counts rows that changed nothing: repeats of an earlier identical row
	// of the same file, and rows identical to the record already loaded.
	duplicate int64
}

// coreColumn is a column of a core table that a staging model fills.
type coreColumn struct{ name, typ string }

// coreColumns reads a core table's columns from the catalog, leaving out the
// provenance columns the loader fills itself.
func (r *run) coreColumns(ctx context.Context, table string) ([]coreColumn, error) {
	rows, err := r.conn.QueryContext(ctx, `
		SELECT column_name, data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
		  AND column_name NOT IN ('load_file_id', 'source_line')
		ORDER BY column_index`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []coreColumn
	for rows.Next() {
		var c coreColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// apply writes the staged rows of a file without problems to its core table. Rows
// that share a natural key within the file are loaded once when they are identical
// and rejected when they differ (nothing says which is right). A row whose key is
// already in the table replaces the record when it differs from it (the newer export
// wins) and changes nothing when it is the same. The big staged table is scanned as
// few times as possible: once for repeated keys, once to compare with the records
// already loaded (a join that is empty on a first load), once to insert.
func (r *run) apply(ctx context.Context, f File, fid int) (applyCounts, error) {
	table := f.Entity.Name
	cols, err := r.coreColumns(ctx, table)
	if err != nil {
		return applyCounts{}, err
	}
	var names, casts []string
	for _, c := range cols {
		names = append(names, c.name)
		casts = append(casts, fmt.Sprintf("CAST(s.%s AS %s)", c.name, c.typ))
	}
	key := f.Entity.Key
	on := func(a, b string) string {
		var parts []string
		for _, k := range key {
			parts = append(parts, fmt.Sprintf("%s.%s = %s.%s", a, k, b, k))
		}
		return strings.Join(parts, " AND ")
	}
	sel := func(alias string) string {
		var parts []string
		for _, k := range key {
			parts = append(parts, alias+"."+k)
		}
		return strings.Join(parts, ", ")
	}
	var keyText, exportKey []string
	for _, k := range key {
		keyText = append(keyText, "CAST(s."+k+" AS VARCHAR)")
		exportKey = append(exportKey, exportName(k))
	}
	stagedHash := "hash(" + strings.Join(casts, ", ") + ")"
	// first keeps the rows of stg that load: no problems, and not a repeat of a key
	// (a set of identical repeats keeps its first line).
	first := "s.problems = '' AND (rep.n IS NULL OR (rep.versions = 1 AND s.line = rep.first_line))"

	steps := []struct{ what, sql string }{
		// Repeated keys are found by grouping on a 64-bit hash of the key, which is
		// several times cheaper than grouping on the key text; the few candidate
		// groups are then grouped on the key itself, so a hash collision cannot merge
		// two keys.
		{"find repeated keys", fmt.Sprintf(
			`CREATE TEMP TABLE rep AS
			 WITH d AS (SELECT hash(%s) AS kh FROM stg s WHERE s.problems = '' GROUP BY kh HAVING count(*) > 1)
			 SELECT %s, count(*) AS n, min(s.line) AS first_line, count(DISTINCT %s) AS versions
			 FROM stg s SEMI JOIN d ON hash(%s) = d.kh WHERE s.problems = ''
			 GROUP BY %s HAVING count(*) > 1`,
			sel("s"), sel("s"), stagedHash, sel("s"), sel("s"))},
		{"reject conflicting repeats", fmt.Sprintf(
			`INSERT INTO rejects
			 SELECT %d, %d, $1, s.line, '%s', concat_ws(' ', %s), 'duplicate_key',
			        'the same %s appears on more than one line of this file with different values (first on line '
			        || rep.first_line || '); keep the right one'
			 FROM stg s JOIN rep ON %s WHERE s.problems = '' AND rep.versions > 1 ORDER BY s.line`,
			r.id, fid, strings.Join(exportKey, "+"), strings.Join(keyText, ", "), strings.Join(exportKey, " + "), on("s", "rep"))},
		{"compare with loaded records", fmt.Sprintf(
			`CREATE TEMP TABLE matched AS
			 SELECT %s, %s <> hash(%s) AS changed
			 FROM stg s JOIN main.%s c ON %s LEFT JOIN rep ON %s
			 WHERE %s`,
			sel("s"), stagedHash, "c."+strings.Join(names, ", c."), table, on("s", "c"), on("s", "rep"), first)},
		// The models recompute what a replaced record belonged to (models.Rebuild);
		// a table with neither column (programs) has nothing to note.
		{"note replaced records for the models", pendingSQL(table, cols, on(table, "matched"))},
		{"remove replaced records", fmt.Sprintf(
			`DELETE FROM main.%s USING matched WHERE matched.changed AND %s`, table, on(table, "matched"))},
	}
	for _, s := range steps {
		if s.sql == "" {
			continue
		}
		var args []any
		if strings.Contains(s.sql, "$1") {
			args = []any{f.Path}
		}
		if err := r.exec(ctx, f.Path+": "+s.what, s.sql, args...); err != nil {
			return applyCounts{}, err
		}
	}
	var c applyCounts
	var repeated, same int64
	if err := r.conn.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM rep), (SELECT count(*) FILTER (WHERE NOT changed) FROM matched)`).Scan(&repeated, &same); err != nil {
		return applyCounts{}, fmt.Errorf("%s: count repeats: %w", f.Path, err)
	}
	// Usually a file repeats no key and no record unchanged: then every row without
	// problems is inserted, and the joins (which hash every key) are left out.
	from := "stg s"
	where := "s.problems = ''"
	if repeated > 0 {
		from += " LEFT JOIN rep ON " + on("s", "rep")
		where = first
	}
	if same > 0 {
		from += " ANTI JOIN (SELECT * FROM matched WHERE NOT changed) same ON " + on("s", "same")
	}
	start := time.Now()
	res, err := r.conn.ExecContext(ctx, fmt.Sprintf(
		`INSERT INTO main.%s (%s, load_file_id, source_line) SELECT %s, %d, s.line FROM %s WHERE %s`,
		table, strings.Join(names, ", "), strings.Join(casts, ", "), fid, from, where))
	if err != nil {
		return applyCounts{}, fmt.Errorf("%s: insert new and changed records: %w", f.Path, err)
	}
	written, err := res.RowsAffected()
	if err != nil {
		return applyCounts{}, fmt.Errorf("%s: insert new and changed records: %w", f.Path, err)
	}
	r.opt.Log.Debug(f.Path+": insert new and changed records", "took", time.Since(start).Round(time.Millisecond))
	var repeats int64
	if err := r.conn.QueryRowContext(ctx, `
		SELECT (SELECT coalesce(sum(n - 1), 0) FROM rep WHERE versions = 1),
		       (SELECT count(*) FILTER (WHERE changed) FROM matched)`,
	).Scan(&repeats, &c.updated); err != nil {
		return applyCounts{}, fmt.Errorf("%s: count applied rows: %w", f.Path, err)
	}
	c.inserted = written - c.updated
	c.duplicate = repeats + same
	return c, nil
}

// exportName is the export column a core key column comes from.
func exportName(core string) string {
	if core == "patient_key" {
		return "patient_id"
	}
	return core
}

// pendingSQL notes in model_pending the episodes and patients of the records of a
// table that the rows of a file replace, so that the next model rebuild recomputes
// them: the new rows carry the file's id, but the records they replace are gone.
func pendingSQL(table string, cols []coreColumn, on string) string {
	has := map[string]bool{}
	for _, c := range cols {
		has[c.name] = true
	}
	episode := "NULL"
	if has["episode_id"] {
		episode = table + ".episode_id"
	}
	patient := "NULL"
	if has["patient_key"] {
		patient = table + ".patient_key"
	}
	if episode == "NULL" && patient == "NULL" {
		return "" // programs: the per-episode models do not read them
	}
	return fmt.Sprintf(`INSERT INTO model_pending SELECT DISTINCT %s, %s FROM main.%s JOIN matched ON %s WHERE matched.changed`,
		episode, patient, table, on)
}
