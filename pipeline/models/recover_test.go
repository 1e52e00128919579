package models

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/generate"
)

// BenchmarkRecoverPlantedEffect generates 20 data sets with different seeds, each
// with the planted effect of the generator (each additional attended session per
// week in days 0-27 multiplies the hazard of dropout after day 28 by 0.80), loads them,
// rebuilds the models and checks that the landmark Cox hazard ratio's 95% interval
// holds the planted ratio for at least 19 of the 20. It prints the naive estimate
// beside it. It is a benchmark, not a test, because it takes about a minute; run it
// with
//
//	go test ./pipeline/models -run '^$' -bench RecoverPlantedEffect -benchtime 1x
//
// OUTCOMES_RECOVER_PATIENTS sets the patients per data set (default 3000).
func BenchmarkRecoverPlantedEffect(b *testing.B) {
	patients := 3000
	if s := os.Getenv("OUTCOMES_RECOVER_PATIENTS"); s != "" {
		patients, _ = strconv.Atoi(s)
	}
	planted := generate.Config{}.Effects().DropoutHRPerSession
	covered, naiveOutside := 0, 0
	fmt.Printf("\n| seed | cohort | dropouts | landmark HR (95%% CI) | holds %.2f | naive HR (95%% CI) |\n|---|---|---|---|---|---|\n", planted)
	for seed := uint64(1); seed <= 20; seed++ {
		dir := b.TempDir()
		if _, err := generate.Generate(context.Background(), generate.Config{Patients: patients, Seed: seed}, dir); err != nil {
			b.Fatal(err)
		}
		db := loadAndRebuild(b, dir, DefaultParams())
		var hr, lo, hi, nhr, nlo, nhi float64
		var n, events int
		if err := db.QueryRow(`SELECT ratio, lower, upper, n, events FROM model_estimates
			WHERE model = 'landmark_cox_dropout' AND term = 'landmark_sessions_per_week'`).Scan(&hr, &lo, &hi, &n, &events); err != nil {
			b.Fatal(err)
		}
		if err := db.QueryRow(`SELECT ratio, lower, upper FROM model_estimates WHERE model = 'naive_cox_dropout'`).Scan(&nhr, &nlo, &nhi); err != nil {
			b.Fatal(err)
		}
		holds := lo <= planted && planted <= hi
		if holds {
			covered++
		}
		if planted < nlo || planted > nhi {
			naiveOutside++
		}
		fmt.Printf("| %d | %d | %d | %.3f (%.3f-%.3f) | %v | %.3f (%.3f-%.3f) |\n", seed, n, events, hr, lo, hi, holds, nhr, nlo, nhi)
		db.Close()
	}
	fmt.Printf("\nThe landmark interval holds the planted %.2f in %d of 20 data sets; the naive interval misses it in %d of 20.\n", planted, covered, naiveOutside)
	b.ReportMetric(float64(covered), "covered/20")
	if covered < 19 {
		b.Errorf("the landmark hazard ratio's interval holds the planted %.2f in only %d of 20 data sets; want at least 19", planted, covered)
	}
	if naiveOutside < 19 {
		b.Errorf("the naive interval misses the planted ratio in only %d of 20 data sets; it should be biased", naiveOutside)
	}
	for i := 0; i < b.N; i++ {
		// The work above is the measurement; b.N is not used.
	}
}
