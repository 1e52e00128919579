package stats

import (
	"fmt"
	"math"
	"slices"
)

// LogitFit is a fitted logistic regression; index 0 is the intercept.
type LogitFit struct {
	Coef, StdErr, P, Lower, Upper []float64 // Lower and Upper: 95% limits of the odds ratios
	N, Events                     int
	Iterations                    int
	Converged                     bool
	// Aliased and Infinite mark terms as in CoxFit (index 0, the intercept, is
	// never aliased).
	Aliased, Infinite []bool
	// Warning says what went wrong, naming the terms; empty when nothing did.
	Warning string
}

// Logistic fits P(y) = 1 / (1 + exp(-(b0 + x b))) by iteratively reweighted least
// squares (Newton-Raphson on the log likelihood) with step halving. An intercept is
// added; names name the columns of x for the warnings. A column that is constant or
// collinear with the columns before it is left out with NaN estimates (R's glm
// reports NA). Separation (a coefficient heading to infinity) and non-convergence are
// reported in the fit by term, and such a fit is not called converged.
func Logistic(y []bool, x [][]float64, names []string) (LogitFit, error) {
	n := len(y)
	if n == 0 || len(x) != n {
		return LogitFit{}, fmt.Errorf("logistic: %d outcomes and %d covariate rows; they must be equal and non-zero", n, len(x))
	}
	// Columns that are constant or collinear with the columns before them are left
	// out, as R's glm reports them NA, and the rest is fitted.
	names = append([]string{"(intercept)"}, names...)
	alias := append([]bool{false}, aliased(x, nil, len(x[0]))...)
	if slices.Contains(alias, true) {
		x = keepColumns(x, alias[1:])
	}
	p := len(x[0]) + 1
	row := func(i int) []float64 { return append([]float64{1}, x[i]...) }
	fit := LogitFit{N: n}
	for _, v := range y {
		if v {
			fit.Events++
		}
	}
	if fit.Events == 0 || fit.Events == n {
		return fit, fmt.Errorf("logistic: the outcome is %v for all %d rows; nothing to fit", y[0], n)
	}
	eval := func(beta []float64) (float64, []float64, [][]float64) {
		ll := 0.0
		g := make([]float64, p)
		h := newSquare(p)
		for i := 0; i < n; i++ {
			xi := row(i)
			eta := 0.0
			for j := range xi {
				eta += xi[j] * beta[j]
			}
			mu := 1 / (1 + math.Exp(-eta))
			yi := 0.0
			if y[i] {
				yi = 1
			}
			// log(1+exp(eta)) computed stably.
			ll += yi*eta - (math.Max(eta, 0) + math.Log1p(math.Exp(-math.Abs(eta))))
			w := mu * (1 - mu)
			for j := 0; j < p; j++ {
				g[j] += (yi - mu) * xi[j]
				for k := 0; k <= j; k++ {
					h[j][k] += w * xi[j] * xi[k]
				}
			}
		}
		for j := 0; j < p; j++ {
			for k := 0; k < j; k++ {
				h[k][j] = h[j][k]
			}
		}
		return ll, g, h
	}
	r := newton(eval, p, 50, 1e-10)
	fit.Iterations, fit.Converged = r.iterations, r.converged
	full := len(alias)
	fit.Coef, fit.StdErr, fit.P, fit.Lower, fit.Upper = nans(full), nans(full), nans(full), nans(full), nans(full)
	fit.Aliased, fit.Infinite = alias, make([]bool, full)
	div := r.diverging()
	cov, ok := finiteCovariance(r.info, div)
	z := normalQuantile(0.95)
	k := 0
	for j := 0; j < full; j++ {
		if alias[j] {
			continue
		}
		b := r.beta[k]
		se := math.NaN()
		if ok {
			se = math.Sqrt(cov[k][k])
		}
		fit.Coef[j], fit.StdErr[j] = b, se
		fit.P[j] = twoSidedP(b / se)
		fit.Lower[j] = math.Exp(b - z*se)
		fit.Upper[j] = math.Exp(b + z*se)
		fit.Infinite[j] = div[k]
		k++
	}
	fit.Warning = fitWarning(names, fit.Aliased, fit.Infinite, r, 50)
	// R's glm warns when a fitted probability is within 10 machine epsilons of 0
	// or 1: a sign of separation even when no coefficient is flagged yet.
	const edge = 10 * 2.220446049250313e-16
	for i := 0; i < n; i++ {
		eta := 0.0
		for j, v := range row(i) {
			eta += v * r.beta[j]
		}
		if mu := 1 / (1 + math.Exp(-eta)); mu < edge || mu > 1-edge {
			if fit.Warning != "" {
				fit.Warning += "; "
			}
			fit.Warning += "fitted probabilities of 0 or 1 occurred"
			break
		}
	}
	if slices.Contains(fit.Infinite, true) {
		fit.Converged = false
	}
	return fit, nil
}
