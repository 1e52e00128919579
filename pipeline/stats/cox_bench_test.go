package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// weeklyCox is counting-process data shaped like the time-varying attendance model:
// subjects followed week by week, a session count that changes weekly and a few
// indicator covariates, with many identical rows.
func weeklyCox(subjects int, seed uint64) CoxData {
	r := rand.New(rand.NewPCG(seed, 1))
	var d CoxData
	for s := 0; s < subjects; s++ {
		weeks := 1 + r.IntN(20)
		base := []float64{float64(r.IntN(2)), float64(r.IntN(2)), float64(r.IntN(3) / 2), float64(r.IntN(4) / 3)}
		dropout := r.Float64() < 0.4
		for w := 1; w <= weeks; w++ {
			x := append([]float64{float64(r.IntN(4))}, base...)
			d.Start = append(d.Start, float64(7*(w-1)))
			d.Stop = append(d.Stop, float64(7*w))
			d.Event = append(d.Event, dropout && w == weeks)
			d.X = append(d.X, x)
		}
	}
	return d
}

// TestCoxFoldsRepeatedRows checks that folding identical rows into weighted ones
// leaves the likelihood, its gradient and information as they are row by row (to
// rounding), and so the fit (to Newton's stopping rule, which ends on the change of
// the likelihood and may take a halved step on one path and not the other).
func TestCoxFoldsRepeatedRows(t *testing.T) {
	d := weeklyCox(3000, 3)
	p := len(d.X[0])
	folded, rows := newCoxState(d, p, true), newCoxState(d, p, false)
	if len(folded.w) > len(d.Stop)/2 || len(rows.w) != len(d.Stop) {
		t.Fatalf("folding kept %d of %d rows (row by row %d); the data repeat rows more than that", len(folded.w), len(d.Stop), len(rows.w))
	}
	folded.order()
	rows.order()
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, beta := range [][]float64{make([]float64, p), {0.1, -0.2, 0.05, 0.07, 0.06}, {-1, 0.5, 0.3, -0.4, 1}} {
		la, ua, ia := folded.eval(beta)
		lb, ub, ib := rows.eval(beta)
		if !close(la, lb) {
			t.Errorf("beta %v: log likelihood %.12f folded, %.12f row by row", beta, la, lb)
		}
		for j := range ua {
			if !close(ua[j], ub[j]) {
				t.Errorf("beta %v: gradient %d %.12f folded, %.12f row by row", beta, j, ua[j], ub[j])
			}
			for k := range ia[j] {
				if !close(ia[j][k], ib[j][k]) {
					t.Errorf("beta %v: information %d,%d %.12f folded, %.12f row by row", beta, j, k, ia[j][k], ib[j][k])
				}
			}
		}
	}
	a, err := cox(d, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cox(d, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != b.N || a.Events != b.Events || a.N != len(d.Stop) {
		t.Fatalf("folded: n %d events %d; row by row: n %d events %d; rows %d", a.N, a.Events, b.N, b.Events, len(d.Stop))
	}
	for j := range a.Coef {
		if math.Abs(a.Coef[j]-b.Coef[j]) > 1e-4*b.StdErr[j] || math.Abs(a.StdErr[j]-b.StdErr[j]) > 1e-4*b.StdErr[j] {
			t.Errorf("coefficient %d: %.12f (%.12f) folded, %.12f (%.12f) row by row", j, a.Coef[j], a.StdErr[j], b.Coef[j], b.StdErr[j])
		}
	}
}

func BenchmarkCoxWeekly(b *testing.B) {
	d := weeklyCox(200_000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Cox(d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCoxWeightsAreRepeats checks that rows given with weights fit as the same rows
// repeated.
func TestCoxWeightsAreRepeats(t *testing.T) {
	d := weeklyCox(1500, 5)
	var folded CoxData
	index := map[string]int{}
	for i := range d.Stop {
		k := fmt.Sprint(d.Start[i], d.Stop[i], d.Event[i], d.X[i])
		if j, ok := index[k]; ok {
			folded.W[j]++
			continue
		}
		index[k] = len(folded.W)
		folded.Start, folded.Stop = append(folded.Start, d.Start[i]), append(folded.Stop, d.Stop[i])
		folded.Event, folded.X, folded.W = append(folded.Event, d.Event[i]), append(folded.X, d.X[i]), append(folded.W, 1)
	}
	a, err := cox(d, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cox(folded, false)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != b.N || a.Events != b.Events {
		t.Fatalf("repeated rows: n %d, events %d; weights: n %d, events %d", a.N, a.Events, b.N, b.Events)
	}
	if len(folded.W) >= len(d.Stop) {
		t.Fatalf("setup: %d distinct rows of %d", len(folded.W), len(d.Stop))
	}
	for j := range a.Coef {
		if math.Abs(a.Coef[j]-b.Coef[j]) > 1e-4*a.StdErr[j] || math.Abs(a.StdErr[j]-b.StdErr[j]) > 1e-4*a.StdErr[j] {
			t.Errorf("coefficient %d: %.12f (%.12f) repeated, %.12f (%.12f) weighted", j, a.Coef[j], a.StdErr[j], b.Coef[j], b.StdErr[j])
		}
	}
	folded.W[0] = 0.5
	if _, err := Cox(folded); err == nil {
		t.Error("a weight of 0.5 was accepted")
	}
}
