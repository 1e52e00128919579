package stats

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// AliasTolerance is the collinearity tolerance of the fits: a column whose part not
// explained by the constant and the columns before it has a norm below AliasTolerance
// times its own norm is aliased and left out of the fit. It is the tolerance of R's
// lm and of the QR decomposition of its glm (dqrdc2 with limited pivoting: a column
// found dependent is dropped and the later columns keep their order).
const AliasTolerance = 1e-7

// aliased reports which columns of x (one row per observation, weighted by w; nil
// for weights of 1) are, within AliasTolerance, linear combinations of a constant and
// the columns before them. It orthogonalizes the columns in order by modified
// Gram-Schmidt with one reorthogonalization, which keeps the leading independent
// columns as they are and marks each later dependent one.
func aliased(x [][]float64, w []float64, p int) []bool {
	n := len(x)
	out := make([]bool, p)
	sw := make([]float64, n)
	for i := range sw {
		sw[i] = 1
		if w != nil {
			sw[i] = math.Sqrt(w[i])
		}
	}
	var basis [][]float64
	one := append([]float64(nil), sw...)
	if normalize(one) == 0 {
		return out
	}
	basis = append(basis, one)
	v := make([]float64, n)
	for j := 0; j < p; j++ {
		for i := range v {
			v[i] = sw[i] * x[i][j]
		}
		orig := norm(v)
		for pass := 0; pass < 2; pass++ {
			for _, q := range basis {
				d := dot(q, v)
				for i := range v {
					v[i] -= d * q[i]
				}
			}
		}
		if orig == 0 || norm(v) <= AliasTolerance*orig {
			out[j] = true
			continue
		}
		q := append([]float64(nil), v...)
		normalize(q)
		basis = append(basis, q)
	}
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func normalize(a []float64) float64 {
	l := norm(a)
	if l > 0 {
		for i := range a {
			a[i] /= l
		}
	}
	return l
}

// keepColumns returns the rows of x with only the columns not dropped.
func keepColumns(x [][]float64, drop []bool) [][]float64 {
	out := make([][]float64, len(x))
	for i, row := range x {
		r := make([]float64, 0, len(row))
		for j, v := range row {
			if !drop[j] {
				r = append(r, v)
			}
		}
		out[i] = r
	}
	return out
}

// twoSidedP is the two-sided p value of a standard normal statistic, taken from the
// upper tail directly (erfc) so that small p values keep their precision: 1 - erf
// loses every digit below about 1e-16.
func twoSidedP(z float64) float64 {
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// NormalQuantile is the standard normal quantile of probability p to double
// precision (Wichura's AS 241, as R's qnorm): 1.959963984540054 for 0.975 and
// 3.090232306167813 for 0.999. The standard library's Erfinv is a few units off in
// the last place.
func NormalQuantile(p float64) float64 {
	return distuv.UnitNormal.Quantile(p)
}

// termName is the name of column j for messages.
func termName(names []string, j int) string {
	if j < len(names) {
		return names[j]
	}
	return fmt.Sprintf("column %d", j+1)
}

// listTerms joins the names of the flagged columns.
func listTerms(names []string, flag []bool) string {
	var s []string
	for j, f := range flag {
		if f {
			s = append(s, termName(names, j))
		}
	}
	return strings.Join(s, ", ")
}
