package stats

import (
	"math"
	"testing"
)

// sixMP is the remission data of Freireich et al. (Blood, 1963) as tabulated by Gehan
// (Biometrika, 1965): weeks in remission of 21 children on 6-mercaptopurine and 21 on
// placebo; false marks a censored time.
func sixMP() (times []float64, event []bool, group []int) {
	drug := []struct {
		t float64
		e bool
	}{{6, true}, {6, true}, {6, true}, {6, false}, {7, true}, {9, false}, {10, true}, {10, false}, {11, false},
		{13, true}, {16, true}, {17, false}, {19, false}, {20, false}, {22, true}, {23, true}, {25, false},
		{32, false}, {32, false}, {34, false}, {35, false}}
	for _, d := range drug {
		times, event, group = append(times, d.t), append(event, d.e), append(group, 0)
	}
	for _, t := range []float64{1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23} {
		times, event, group = append(times, t), append(event, true), append(group, 1)
	}
	return
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// TestKaplanMeierSixMP reproduces the Kaplan-Meier table of the 6-MP group as printed
// in survival textbooks (for example Kleinbaum and Klein, Survival Analysis, 3rd ed.,
// chapter 2; Klein and Moeschberger, Survival Analysis, 2nd ed., section 4.2): the
// estimate and its Greenwood standard error to 4 places, and the 95% log-log limits to
// 3 places as printed by R's survfit(conf.type = "log-log").
func TestKaplanMeierSixMP(t *testing.T) {
	times, event, group := sixMP()
	var dt []float64
	var de []bool
	for i := range times {
		if group[i] == 0 {
			dt, de = append(dt, times[i]), append(de, event[i])
		}
	}
	want := []struct {
		time                   float64
		risk, events           int
		surv, se, lower, upper float64
	}{
		{6, 21, 3, 0.8571, 0.0764, 0.620, 0.952},
		{7, 17, 1, 0.8067, 0.0869, 0.563, 0.923},
		{10, 15, 1, 0.7529, 0.0963, 0.503, 0.889},
		{13, 12, 1, 0.6902, 0.1068, 0.432, 0.849},
		{16, 11, 1, 0.6275, 0.1141, 0.368, 0.805},
		{22, 7, 1, 0.5378, 0.1282, 0.268, 0.747},
		{23, 6, 1, 0.4482, 0.1346, 0.188, 0.680},
	}
	got := map[float64]KMPoint{}
	for _, p := range KaplanMeier(dt, de, 0.95) {
		got[p.Time] = p
	}
	for _, w := range want {
		p, ok := got[w.time]
		if !ok {
			t.Fatalf("no estimate at %v", w.time)
		}
		if p.NRisk != w.risk || p.NEvent != w.events || round(p.Survival, 4) != w.surv || round(p.StdErr, 4) != w.se ||
			round(p.Lower, 3) != w.lower || round(p.Upper, 3) != w.upper {
			t.Errorf("t=%v: risk %d events %d S %.4f se %.4f [%.3f, %.3f]; want %d %d %.4f %.4f [%.3f, %.3f]",
				w.time, p.NRisk, p.NEvent, p.Survival, p.StdErr, p.Lower, p.Upper, w.risk, w.events, w.surv, w.se, w.lower, w.upper)
		}
	}
	if last := got[35]; last.Survival != got[23].Survival || last.NCensor != 1 {
		t.Errorf("after the last event the curve must stay at %.4f with censored times only: %+v", got[23].Survival, last)
	}
}

// TestLogRankSixMP reproduces the log-rank test of 6-MP against placebo: chi-square 16.8
// on 1 degree of freedom, p = 4.2e-05 (R: survdiff(Surv(time, cens) ~ treat, gehan)),
// with 9 observed against 19.25 expected events in the 6-MP group.
func TestLogRankSixMP(t *testing.T) {
	times, event, group := sixMP()
	lr := LogRankTest(times, event, group)
	if lr.DF != 1 || round(lr.ChiSquare, 1) != 16.8 || round(lr.P*1e5, 1) != 4.2 {
		t.Errorf("chi-square %.3f on %d df, p %.3g; want 16.8 on 1, p 4.2e-05", lr.ChiSquare, lr.DF, lr.P)
	}
	if lr.Observed[0] != 9 || round(lr.Expected[0], 2) != 19.25 {
		t.Errorf("6-MP observed %v expected %.2f; want 9 and 19.25", lr.Observed[0], lr.Expected[0])
	}
}

// TestWilson reproduces the Wilson score intervals of Newcombe (Statistics in
// Medicine 17, 1998, table I, method 3) to the 4 places printed there.
func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
	}
	for _, tc := range tests {
		lo, hi := Wilson(tc.k, tc.n, 0.95)
		if round(lo, 4) != tc.lo || round(hi, 4) != tc.hi {
			t.Errorf("%d/%d: [%.4f, %.4f], want [%.4f, %.4f]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

func gehanCox() CoxData {
	times, event, group := sixMP()
	d := CoxData{Names: []string{"placebo"}}
	for i := range times {
		d.Start = append(d.Start, 0)
		d.Stop = append(d.Stop, times[i])
		d.Event = append(d.Event, event[i])
		d.X = append(d.X, []float64{float64(group[i])})
	}
	return d
}

// TestCoxEfronGehan reproduces the Cox fit with Efron ties of placebo against 6-MP
// in Gehan's data, as printed by R's coxph(Surv(time, cens) ~ treat, data =
// MASS::gehan) and in Therneau and Grambsch, Modeling Survival Data (2000): coefficient
// 1.5721, standard error 0.4124, hazard ratio 4.8169.
func TestCoxEfronGehan(t *testing.T) {
	fit, err := Cox(gehanCox())
	if err != nil {
		t.Fatal(err)
	}
	if !fit.Converged || fit.Warning != "" {
		t.Fatalf("converged %v, warning %q", fit.Converged, fit.Warning)
	}
	if round(fit.Coef[0], 4) != 1.5721 || round(fit.StdErr[0], 4) != 0.4124 || round(math.Exp(fit.Coef[0]), 4) != 4.8169 {
		t.Errorf("coef %.4f se %.4f HR %.4f; want 1.5721, 0.4124, 4.8169", fit.Coef[0], fit.StdErr[0], math.Exp(fit.Coef[0]))
	}
	if fit.N != 42 || fit.Events != 30 {
		t.Errorf("n %d events %d; want 42 and 30", fit.N, fit.Events)
	}
}

// TestCoxCountingProcessSplit checks that cutting every subject's time into several
// (start, stop] pieces with the same covariate leaves the fit unchanged, which is what
// makes weekly time-varying covariates possible.
func TestCoxCountingProcessSplit(t *testing.T) {
	whole := gehanCox()
	var split CoxData
	for i := range whole.Stop {
		from := 0.0
		for _, cut := range []float64{3, 5.5, 12, 20} {
			if cut < whole.Stop[i] {
				split.Start = append(split.Start, from)
				split.Stop = append(split.Stop, cut)
				split.Event = append(split.Event, false)
				split.X = append(split.X, whole.X[i])
				from = cut
			}
		}
		split.Start = append(split.Start, from)
		split.Stop = append(split.Stop, whole.Stop[i])
		split.Event = append(split.Event, whole.Event[i])
		split.X = append(split.X, whole.X[i])
	}
	a, err := Cox(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Cox(split)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a.Coef[0]-b.Coef[0]) > 1e-9 || math.Abs(a.StdErr[0]-b.StdErr[0]) > 1e-9 || math.Abs(a.LogLik-b.LogLik) > 1e-9 {
		t.Errorf("split fit %.6f (%.6f) differs from whole %.6f (%.6f)", b.Coef[0], b.StdErr[0], a.Coef[0], a.StdErr[0])
	}
}

// TestCoxReportsSeparation checks that a covariate that separates the events from the
// censored times is reported, not hidden.
func TestCoxReportsSeparation(t *testing.T) {
	var d CoxData
	for i := 0; i < 20; i++ {
		x := 0.0
		if i%2 == 0 {
			x = 1
		}
		d.Start = append(d.Start, 0)
		d.Stop = append(d.Stop, float64(1+i))
		d.Event = append(d.Event, x == 1) // only x = 1 ever has an event
		d.X = append(d.X, []float64{x})
	}
	fit, err := Cox(d)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Warning == "" {
		t.Errorf("no warning for a separating covariate: coef %.2f se %.2f converged %v", fit.Coef[0], fit.StdErr[0], fit.Converged)
	}
}

// TestLogisticTwoByTwo checks the fit against the closed form for one binary
// covariate: the coefficient is the log odds ratio ln(ad/bc) of the 2x2 table and its
// standard error sqrt(1/a + 1/b + 1/c + 1/d) (Woolf 1955).
func TestLogisticTwoByTwo(t *testing.T) {
	a, b, c, d := 30, 70, 12, 88 // exposed: 30 events of 100; unexposed: 12 of 100
	var y []bool
	var x [][]float64
	add := func(n int, exposed, event bool) {
		for i := 0; i < n; i++ {
			e := 0.0
			if exposed {
				e = 1
			}
			y, x = append(y, event), append(x, []float64{e})
		}
	}
	add(a, true, true)
	add(b, true, false)
	add(c, false, true)
	add(d, false, false)
	fit, err := Logistic(y, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCoef := math.Log(float64(a*d) / float64(b*c))
	wantSE := math.Sqrt(1/float64(a) + 1/float64(b) + 1/float64(c) + 1/float64(d))
	if !fit.Converged || math.Abs(fit.Coef[1]-wantCoef) > 1e-8 || math.Abs(fit.StdErr[1]-wantSE) > 1e-8 {
		t.Errorf("coef %.6f se %.6f; want %.6f and %.6f (converged %v)", fit.Coef[1], fit.StdErr[1], wantCoef, wantSE, fit.Converged)
	}
	if math.Abs(fit.Coef[0]-math.Log(12.0/88)) > 1e-8 {
		t.Errorf("intercept %.6f; want the log odds of the unexposed, %.6f", fit.Coef[0], math.Log(12.0/88))
	}
}

func TestLogisticReportsSeparation(t *testing.T) {
	var y []bool
	var x [][]float64
	for i := 0; i < 40; i++ {
		y = append(y, i >= 20)
		x = append(x, []float64{float64(i)})
	}
	fit, err := Logistic(y, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Warning == "" {
		t.Errorf("no warning for perfect separation: coef %v converged %v", fit.Coef, fit.Converged)
	}
}
