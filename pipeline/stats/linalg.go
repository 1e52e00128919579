package stats

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// cholesky factorizes a symmetric positive definite matrix; ok is false when it is
// not positive definite (singular information, for example).
func cholesky(a [][]float64) (*mat.Cholesky, bool) {
	n := len(a)
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, a[i][j])
		}
	}
	var ch mat.Cholesky
	return &ch, ch.Factorize(s)
}

// solve returns x with a x = b for a symmetric positive definite a.
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	ch, ok := cholesky(a)
	if !ok {
		return nil, false
	}
	var x mat.VecDense
	if err := ch.SolveVecTo(&x, mat.NewVecDense(n, append([]float64(nil), b...))); err != nil {
		return nil, false
	}
	return x.RawVector().Data, true
}

// inverse returns the inverse of a symmetric positive definite matrix.
func inverse(a [][]float64) ([][]float64, bool) {
	n := len(a)
	ch, ok := cholesky(a)
	if !ok {
		return nil, false
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, false
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, n)
		for j := range out[i] {
			out[i][j] = inv.At(i, j)
		}
	}
	return out, true
}

// objective returns a log likelihood with its gradient and information (negative
// Hessian) at beta.
type objective func(beta []float64) (ll float64, grad []float64, info [][]float64)

// newton maximizes f from zero by Newton-Raphson, halving a step until the likelihood
// does not fall. It stops when the likelihood changes by less than eps relative to its
// size, or after maxIter steps.
func newton(f objective, p, maxIter int, eps float64) (beta []float64, ll float64, info [][]float64, iterations int, converged bool, singular bool) {
	beta = make([]float64, p)
	ll, g, info := f(beta)
	if p == 0 {
		return beta, ll, info, 0, true, false
	}
	for it := 1; it <= maxIter; it++ {
		iterations = it
		step, ok := solve(info, g)
		if !ok {
			return beta, ll, info, iterations, false, true
		}
		next := make([]float64, p)
		var nll float64
		var ng []float64
		var ninfo [][]float64
		for half := 0; half < 30; half++ {
			for j := range next {
				next[j] = beta[j] + step[j]
			}
			nll, ng, ninfo = f(next)
			if !math.IsNaN(nll) && nll >= ll-1e-12 {
				break
			}
			for j := range step {
				step[j] /= 2
			}
		}
		done := math.Abs(nll-ll) <= eps*math.Max(1, math.Abs(ll))
		beta, ll, g, info = next, nll, ng, ninfo
		if done {
			return beta, ll, info, iterations, true, false
		}
	}
	return beta, ll, info, iterations, false, false
}
