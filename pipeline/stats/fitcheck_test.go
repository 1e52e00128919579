package stats

import (
	"math"
	"strings"
	"testing"
)

// relClose says whether got is within tol of want, relative to want.
func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// gehanWith is Gehan's data with a second column: placebo copied (aliased), or
// rare, 1 for the four 6-MP children censored at 25, 32, 32 and 34 weeks (no event,
// so its coefficient runs to minus infinity).
func gehanWith(second string) CoxData {
	d := gehanCox()
	d.Names = append(d.Names, second)
	for i, row := range d.X {
		v := row[0]
		if second == "rare" {
			v = 0
			if row[0] == 0 && (d.Stop[i] == 25 || d.Stop[i] == 32 || d.Stop[i] == 34) {
				v = 1
			}
		}
		d.X[i] = append(row, v)
	}
	return d
}

// TestCoxLeavesOutAliasedColumn checks that a column identical to another is left
// out with a warning that names it and the rest is fitted, as R does:
// coxph(Surv(time, ev) ~ placebo + copy) gives placebo 1.572125 (se 0.4123967) and
// copy NA.
func TestCoxLeavesOutAliasedColumn(t *testing.T) {
	fit, err := Cox(gehanWith("placebo_copy"))
	if err != nil {
		t.Fatal(err)
	}
	if !relClose(fit.Coef[0], 1.572125, 1e-6) || !relClose(fit.StdErr[0], 0.4123967, 1e-6) {
		t.Errorf("placebo %.7f (se %.7f); want 1.572125 (0.4123967)", fit.Coef[0], fit.StdErr[0])
	}
	if !math.IsNaN(fit.Coef[1]) || !math.IsNaN(fit.StdErr[1]) {
		t.Errorf("the aliased column has coefficient %v (se %v); want NaN", fit.Coef[1], fit.StdErr[1])
	}
	if !fit.Converged || !strings.Contains(fit.Warning, "placebo_copy") || !strings.Contains(fit.Warning, "aliased") {
		t.Errorf("converged %v, warning %q; want converged with a warning naming placebo_copy as aliased", fit.Converged, fit.Warning)
	}
}

// TestCoxFlagsInfiniteCoefficient checks monotone likelihood the way R's coxph finds
// it: the likelihood converges while the coefficient of rare keeps growing. R warns
// "Loglik converged before variable 2; coefficient may be infinite" and gives placebo
// 1.1494290190 (se 0.4024723977). The fit must not be called converged, the warning
// must name rare, and the finite coefficient must be right.
func TestCoxFlagsInfiniteCoefficient(t *testing.T) {
	fit, err := Cox(gehanWith("rare"))
	if err != nil {
		t.Fatal(err)
	}
	if fit.Converged || !strings.Contains(fit.Warning, "rare") || !strings.Contains(fit.Warning, "infinite") {
		t.Errorf("converged %v, warning %q (rare %.2f, se %.3g); want not converged and a warning naming rare as infinite",
			fit.Converged, fit.Warning, fit.Coef[1], fit.StdErr[1])
	}
	if strings.Contains(fit.Warning, "placebo") {
		t.Errorf("warning %q names placebo, whose estimate is finite", fit.Warning)
	}
	if !relClose(fit.Coef[0], 1.1494290190, 1e-8) || !relClose(fit.StdErr[0], 0.4024723977, 1e-6) {
		t.Errorf("placebo %.10f (se %.10f); want 1.1494290190 (0.4024723977)", fit.Coef[0], fit.StdErr[0])
	}
}

// twoByTwo is a logistic data set of one binary exposure: a events of a+b exposed,
// c of c+d unexposed; copies adds that many identical copies of the exposure column.
func twoByTwo(a, b, c, d, copies int) ([]bool, [][]float64) {
	var y []bool
	var x [][]float64
	add := func(n int, exposed float64, event bool) {
		for i := 0; i < n; i++ {
			row := []float64{exposed}
			for k := 0; k < copies; k++ {
				row = append(row, exposed)
			}
			y, x = append(y, event), append(x, row)
		}
	}
	add(a, 1, true)
	add(b, 1, false)
	add(c, 0, true)
	add(d, 0, false)
	return y, x
}

// TestLogisticLeavesOutAliasedColumn checks that an exposure given twice is fitted
// once (Woolf's closed form) and the copy is left out by name.
func TestLogisticLeavesOutAliasedColumn(t *testing.T) {
	y, x := twoByTwo(30, 70, 12, 88, 1)
	fit, err := Logistic(y, x, []string{"exposed", "exposed_again"})
	if err != nil {
		t.Fatal(err)
	}
	want := math.Log(30.0 * 88 / (70 * 12))
	if !relClose(fit.Coef[1], want, 1e-9) || !math.IsNaN(fit.Coef[2]) {
		t.Errorf("coefficients %v; want [.., %.6f, NaN]", fit.Coef, want)
	}
	if !fit.Converged || !strings.Contains(fit.Warning, "exposed_again") {
		t.Errorf("converged %v, warning %q; want converged with a warning naming exposed_again", fit.Converged, fit.Warning)
	}
}

// TestLogisticNamesDivergingTerm checks that separation is reported by the term's
// name and the fit is not called converged.
func TestLogisticNamesDivergingTerm(t *testing.T) {
	var y []bool
	var x [][]float64
	for i := 0; i < 40; i++ {
		y = append(y, i >= 20)
		x = append(x, []float64{float64(i % 3), float64(i)})
	}
	fit, err := Logistic(y, x, []string{"site", "dose"})
	if err != nil {
		t.Fatal(err)
	}
	if fit.Converged || !strings.Contains(fit.Warning, "dose") || strings.Contains(fit.Warning, "coefficient 2") {
		t.Errorf("converged %v, warning %q; want not converged, naming dose", fit.Converged, fit.Warning)
	}
}

// TestSmallPValues checks p values far in the tail: 300/1000 events among the
// exposed and 20/1000 among the unexposed. The Wald z of the log odds ratio has
// Woolf's closed form, log(21) / sqrt(1/300 + 1/700 + 1/20 + 1/980), and R's
// 2 * pnorm(-abs(z)) gives 5.08899803114597e-38 for it and 1.58636164750305e-66 for
// the intercept's (log(20/980) / sqrt(1/20 + 1/980)). 1 - erf gives 0 for both. (A
// p value this far out moves by z^2 = 166 times any relative error in z: R's own glm
// stops at 5.0889951e-38.)
func TestSmallPValues(t *testing.T) {
	y, x := twoByTwo(300, 700, 20, 980, 0)
	fit, err := Logistic(y, x, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	if !relClose(fit.P[1], 5.08899803114597e-38, 1e-8) || !relClose(fit.P[0], 1.58636164750305e-66, 1e-8) {
		t.Errorf("p values %.15g and %.15g; want 5.08899803114597e-38 and 1.58636164750305e-66", fit.P[1], fit.P[0])
	}
}

// TestNormalQuantile checks the quantiles against R's qnorm to the last digit.
func TestNormalQuantile(t *testing.T) {
	for _, c := range []struct{ p, want float64 }{{0.975, 1.959963984540054}, {0.999, 3.090232306167813}, {0.995, 2.5758293035489}} {
		if got := NormalQuantile(c.p); !relClose(got, c.want, 1e-15) {
			t.Errorf("NormalQuantile(%v) = %.17g; want %.16g", c.p, got, c.want)
		}
	}
}
