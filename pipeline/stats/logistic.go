package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// LogitFit is a fitted logistic regression; index 0 is the intercept.
type LogitFit struct {
	Coef, StdErr, P, Lower, Upper []float64 // Lower and Upper: 95% limits of the odds ratios
	N, Events                     int
	Iterations                    int
	Converged                     bool
	Warning                       string
}

// Logistic fits P(y) = 1 / (1 + exp(-(b0 + x b))) by iteratively reweighted least
// squares (Newton-Raphson on the log likelihood) with step halving. An intercept is
// added. Separation (a coefficient heading to infinity) and non-convergence are
// reported in the fit.
func Logistic(y []bool, x [][]float64) (LogitFit, error) {
	n := len(y)
	if n == 0 || len(x) != n {
		return LogitFit{}, fmt.Errorf("logistic: %d outcomes and %d covariate rows; they must be equal and non-zero", n, len(x))
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
	beta, _, h, iterations, converged, singular := newton(eval, p, 50, 1e-10)
	fit.Iterations, fit.Converged = iterations, converged
	if singular {
		fit.Warning = "the information matrix is singular: a covariate is constant or collinear with others, or separates the outcomes"
	}
	fit.Coef = beta
	cov, ok := inverse(h)
	z := normalQuantile(0.95)
	for j := 0; j < p; j++ {
		se := math.NaN()
		if ok {
			se = math.Sqrt(cov[j][j])
		}
		fit.StdErr = append(fit.StdErr, se)
		fit.P = append(fit.P, 2*distuv.UnitNormal.Survival(math.Abs(beta[j]/se)))
		fit.Lower = append(fit.Lower, math.Exp(beta[j]-z*se))
		fit.Upper = append(fit.Upper, math.Exp(beta[j]+z*se))
		if math.Abs(beta[j]) > 15 {
			fit.Warning = fmt.Sprintf("separation: coefficient %d may be infinite", j)
		}
	}
	if !fit.Converged && fit.Warning == "" {
		fit.Warning = "did not converge in 50 iterations"
	}
	return fit, nil
}
