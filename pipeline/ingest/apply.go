package ingest

import (
	"context"
	"fmt"
	"strings"
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
// wins) and changes nothing when it is the same.
func (r *run) apply(ctx context.Context, f File, fid int) (applyCounts, error) {
	table := f.Entity.Name
	cols, err := r.coreColumns(ctx, table)
	if err != nil {
		return applyCounts{}, err
	}
	var names, casts []string
	for _, c := range cols {
		names = append(names, c.name)
		casts = append(casts, fmt.Sprintf("CAST(%s AS %s) AS %s", c.name, c.typ, c.name))
	}
	key := f.Entity.Key
	on := func(a, b string) string {
		var parts []string
		for _, k := range key {
			parts = append(parts, fmt.Sprintf("%s.%s = %s.%s", a, k, b, k))
		}
		return strings.Join(parts, " AND ")
	}
	keyList := strings.Join(key, ", ")
	var keyText, exportKey []string
	for _, k := range key {
		keyText = append(keyText, "CAST(ok."+k+" AS VARCHAR)")
		exportKey = append(exportKey, exportName(k))
	}
	content := strings.Join(names, ", ")

	steps := []struct{ what, sql string }{
		{"keep rows without problems", fmt.Sprintf(
			`CREATE TEMP TABLE ok AS SELECT line, %s, hash(%s) AS h FROM (SELECT line, %s FROM stg WHERE len(problems) = 0)`,
			content, content, strings.Join(casts, ", "))},
		{"find repeated keys", fmt.Sprintf(
			`CREATE TEMP TABLE rep AS SELECT %s, count(DISTINCT h) AS versions, min(line) AS first_line, count(*) AS n
			 FROM ok GROUP BY %s HAVING count(*) > 1`, keyList, keyList)},
		{"reject conflicting repeats", fmt.Sprintf(
			`INSERT INTO rejects
			 SELECT %d, %d, $1, ok.line, '%s', concat_ws(' ', %s), 'duplicate_key',
			        'the same %s appears on more than one line of this file with different values (first on line '
			        || rep.first_line || '); keep the right one'
			 FROM ok JOIN rep ON %s WHERE rep.versions > 1 ORDER BY ok.line`,
			r.id, fid, strings.Join(exportKey, "+"), strings.Join(keyText, ", "), strings.Join(exportKey, " + "), on("ok", "rep"))},
		{"compare with loaded records", fmt.Sprintf(
			`CREATE TEMP TABLE cand AS
			 SELECT ok.*, CASE WHEN cur.h IS NULL THEN 'insert' WHEN cur.h = ok.h THEN 'same' ELSE 'update' END AS action
			 FROM ok
			 LEFT JOIN rep ON %s
			 LEFT JOIN (SELECT %s, hash(%s) AS h FROM main.%s) cur ON %s
			 WHERE rep.versions IS NULL OR (rep.versions = 1 AND ok.line = rep.first_line)`,
			on("ok", "rep"), keyList, content, table, on("ok", "cur"))},
		{"remove replaced records", fmt.Sprintf(
			`DELETE FROM main.%s USING cand WHERE cand.action = 'update' AND %s`, table, on(table, "cand"))},
		{"insert new and changed records", fmt.Sprintf(
			`INSERT INTO main.%s (%s, load_file_id, source_line)
			 SELECT %s, %d, line FROM cand WHERE action <> 'same' ORDER BY line`, table, content, content, fid)},
	}
	for _, s := range steps {
		var err error
		if strings.Contains(s.sql, "$1") {
			_, err = r.conn.ExecContext(ctx, s.sql, f.Path)
		} else {
			_, err = r.conn.ExecContext(ctx, s.sql)
		}
		if err != nil {
			return applyCounts{}, fmt.Errorf("%s: %s: %w", f.Path, s.what, err)
		}
	}
	var c applyCounts
	var okRows, candRows, conflicting, same int64
	if err := r.conn.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM ok),
		       (SELECT count(*) FROM cand),
		       (SELECT coalesce(sum(n), 0) FROM rep WHERE versions > 1),
		       (SELECT count(*) FILTER (WHERE action = 'insert') FROM cand),
		       (SELECT count(*) FILTER (WHERE action = 'update') FROM cand),
		       (SELECT count(*) FILTER (WHERE action = 'same') FROM cand)`,
	).Scan(&okRows, &candRows, &conflicting, &c.inserted, &c.updated, &same); err != nil {
		return applyCounts{}, fmt.Errorf("%s: count applied rows: %w", f.Path, err)
	}
	c.duplicate = okRows - candRows - conflicting + same
	return c, nil
}

// exportName is the export column a core key column comes from.
func exportName(core string) string {
	if core == "patient_key" {
		return "patient_id"
	}
	return core
}
