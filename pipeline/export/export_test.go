package export

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// TestExportReadsBackAsTheTables exports the sample under every partitioning and reads
// each table back with DuckDB's own Parquet reader, the partition taken from the
// folder names (as Spark reads them): every table equals the database's, row for row
// both ways (EXCEPT ALL), the manifest's counts and hashes match the files, a second
// export over the first is refused, and a bad partitioning leaves no folder behind.
func TestExportReadsBackAsTheTables(t *testing.T) {
	path := testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil)
	db := testdb.Open(t, path)
	ctx := context.Background()
	reader, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.Exec(`ATTACH '` + path + `' AS src (READ_ONLY)`); err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{"", "program_id", "quarter", "patient_bucket:4"} {
		t.Run("partition="+by, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			man, err := Run(ctx, db, Options{Dir: dir, PartitionBy: by})
			if err != nil {
				t.Fatal(err)
			}
			var onDisk Manifest
			b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil || json.Unmarshal(b, &onDisk) != nil || len(onDisk.Tables) != len(man.Tables) {
				t.Fatalf("manifest.json: %v", err)
			}
			for _, tb := range man.Tables {
				var cols []string
				for _, c := range tb.Columns {
					cols = append(cols, `"`+c.Name+`"`)
				}
				list := strings.Join(cols, ", ")
				glob := filepath.Join(dir, tb.Name, "**", "*.parquet")
				read := `SELECT ` + list + ` FROM read_parquet('` + glob + `', hive_partitioning = true)`
				stored := `SELECT ` + list + ` FROM src.main.` + tb.Name
				var extra, missing, rows int64
				if err := reader.QueryRow(`SELECT (SELECT count(*) FROM (`+read+` EXCEPT ALL `+stored+`)),
					(SELECT count(*) FROM (`+stored+` EXCEPT ALL `+read+`)), (SELECT count(*) FROM src.main.`+tb.Name+`)`).Scan(&extra, &missing, &rows); err != nil {
					t.Fatalf("%s: %v", tb.Name, err)
				}
				if extra != 0 || missing != 0 || rows != tb.Rows || rows == 0 {
					t.Errorf("%s: %d rows read back that the table lacks, %d of the table missing; %d rows, manifest %d", tb.Name, extra, missing, rows, tb.Rows)
				}
				var sum int64
				for _, f := range tb.Files {
					sum += f.Rows
					h, err := HashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
					if err != nil || h != f.SHA256 {
						t.Errorf("%s: %s hashes to %s, the manifest says %s (%v)", tb.Name, f.Path, h, f.SHA256, err)
					}
				}
				if sum != tb.Rows {
					t.Errorf("%s: files of %d rows, table of %d", tb.Name, sum, tb.Rows)
				}
				if want := by != "" && tb.Name != "analysis_parameters" && !(tb.Name == "patients" && by != "patient_bucket:4") &&
					!(tb.Name == "programs" && by != "program_id"); want != (len(tb.Files) > 1) {
					t.Errorf("%s: %d files under partitioning %q", tb.Name, len(tb.Files), by)
				}
			}
			if _, err := Run(ctx, db, Options{Dir: dir, PartitionBy: by}); err == nil || !strings.Contains(err.Error(), "exists") {
				t.Errorf("an export over another: %v", err)
			}
		})
	}
	parent := t.TempDir()
	if _, err := Run(ctx, db, Options{Dir: filepath.Join(parent, "x"), PartitionBy: "site"}); err == nil {
		t.Error("partition by site was accepted")
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("a refused export left %v", left)
	}
}
