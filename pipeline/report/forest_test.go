package report

import (
	"context"
	"strings"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/store"
	"github.com/iop-outcomes/outcomes/pipeline/testdb"
)

// TestForestSaysWhyTheLandmarkModelIsMissing empties co_occurring for half of the
// sample's episodes and on_medication for the other half, so that no episode of the
// landmark cohort has both default covariates: the forest section must not show the
// naive model alone, and must say beside the landmark model why it was not fitted.
func TestForestSaysWhyTheLandmarkModelIsMissing(t *testing.T) {
	path := testdb.Load(t, []string{"../../sample-data/synthetic"}, models.DefaultParams(), nil)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE episodes SET co_occurring = NULL WHERE hash(episode_id) % 2 = 0`,
		`UPDATE episodes SET on_medication = NULL WHERE hash(episode_id) % 2 = 1`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := models.RebuildAll(ctx, conn, models.DefaultParams(), nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	html, _, _ := render(t, db, Options{})
	page := string(html)
	start := strings.Index(page, "<h2>Session frequency and outcomes")
	if start < 0 {
		t.Fatal("no forest section")
	}
	section := page[start:]
	section = section[:strings.Index(section, "</section>")]
	if strings.Contains(section, ">"+labelIn(modelTerms(), "naive_cox_dropout")+"</td>") {
		t.Error("the forest section shows the naive model without the landmark model")
	}
	if !strings.Contains(section, ">"+labelIn(modelTerms(), "landmark_cox_dropout")+"</td>") || !strings.Contains(section, "lacks a covariate") {
		t.Errorf("the forest section does not say why the landmark model is missing:\n%s", section)
	}
	if !strings.Contains(section, `<p class="note warning">`+labelIn(modelTerms(), "landmark_cox_dropout")+`: not fitted: every episode of the landmark cohort lacks a covariate`) {
		t.Errorf("the forest section does not say under the chart why the landmark model is missing:\n%s", section)
	}
}
