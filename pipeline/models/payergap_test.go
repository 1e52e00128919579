package models

import (
	"context"
	"math"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
)

// TestPayerGapRecovered recovers the payer gap the generator plants in completion
// (generate.Effects CompletionRatioMedicaid: Medicaid episodes complete at 0.75 times
// the rate of commercially insured ones) from kpis_by_group, over every quarter of all
// programs. The tolerance is 3 standard errors of the log of a ratio of two
// proportions (Katz), sqrt((1-p1)/k1 + (1-p2)/k2) with k the completions: a correct
// model fails it about 3 times in 1,000 data sets, and this seed is fixed. The gap
// must also be told from no gap: the ratio's upper limit lies below 1.
func TestPayerGapRecovered(t *testing.T) {
	planted := generate.Config{}.Effects().CompletionRatioMedicaid
	path := loadOnce(t, "generated-2000-21", func(dir string) error {
		_, err := generate.Generate(context.Background(), generate.Config{Patients: 2000, Seed: 21}, dir)
		return err
	})
	db, _ := rebuildCopy(t, path, DefaultParams())
	rate := func(payer string) (k, n float64) {
		t.Helper()
		if err := db.QueryRow(`SELECT sum(numerator), sum(denominator) FROM kpis_by_group
			WHERE program_id = 'ALL' AND attribute = 'payer' AND value = ? AND measure = 'completion_rate'`, payer).Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		return k, n
	}
	k1, n1 := rate("medicaid")
	k2, n2 := rate("commercial")
	if k1 == 0 || k2 == 0 {
		t.Fatalf("no completions: medicaid %v of %v, commercial %v of %v", k1, n1, k2, n2)
	}
	p1, p2 := k1/n1, k2/n2
	ratio := p1 / p2
	se := math.Sqrt((1-p1)/k1 + (1-p2)/k2)
	t.Logf("completion: medicaid %v of %v (%.3f), commercial %v of %v (%.3f); ratio %.3f, planted %.2f, tolerance x/÷ %.3f",
		k1, n1, p1, k2, n2, p2, ratio, planted, math.Exp(3*se))
	if math.Abs(math.Log(ratio/planted)) > 3*se {
		t.Errorf("completion ratio medicaid / commercial %.3f; planted %.2f, within a factor %.3f (3 standard errors)", ratio, planted, math.Exp(3*se))
	}
	if upper := ratio * math.Exp(1.959964*se); upper >= 1 {
		t.Errorf("the ratio's 95%% upper limit %.3f does not tell the gap from none", upper)
	}
}
