package models_test

import (
	"context"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// TestViewsReadFromAnyConnection reads every view of a rebuilt database from a
// connection of its own, as report query and a researcher's client do: a view may
// read the parameters from analysis_parameters, never through the macros that exist
// only on the rebuild's connection.
func TestViewsReadFromAnyConnection(t *testing.T) {
	path := testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil)
	db := testdb.Open(t, path)
	rows, err := db.QueryContext(context.Background(), `SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var views []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		views = append(views, v)
	}
	rows.Close()
	if len(views) < 4 {
		t.Fatalf("views %v: expected the model views", views)
	}
	for _, v := range views {
		var n int64
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM "`+v+`"`).Scan(&n); err != nil {
			t.Errorf("view %s: %v", v, err)
		} else if n == 0 {
			t.Errorf("view %s: no rows", v)
		}
	}
}
