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

// finiteCovariance is the inverse of the information restricted to the coefficients
// that are not diverging: a coefficient running to infinity carries (almost) no
// information, so the full matrix is singular or nearly so, while the others' block
// is what their variance tends to as it runs off (R reports the same to within
// exp(-|coefficient|)). Rows and columns of diverging coefficients are NaN.
func finiteCovariance(info [][]float64, diverging []bool) ([][]float64, bool) {
	var keep []int
	for j, d := range diverging {
		if !d {
			keep = append(keep, j)
		}
	}
	sub := newSquare(len(keep))
	for a, j := range keep {
		for b, k := range keep {
			sub[a][b] = info[j][k]
		}
	}
	var inv [][]float64
	if len(keep) > 0 {
		var ok bool
		if inv, ok = inverse(sub); !ok {
			return nil, false
		}
	}
	out := newSquare(len(info))
	for j := range out {
		for k := range out[j] {
			out[j][k] = math.NaN()
		}
	}
	for a, j := range keep {
		for b, k := range keep {
			out[j][k] = inv[a][b]
		}
	}
	return out, true
}

// objective returns a log likelihood with its gradient and information (negative
// Hessian) at beta.
type objective func(beta []float64) (ll float64, grad []float64, info [][]float64)

// newtonResult is where Newton-Raphson stopped.
type newtonResult struct {
	beta []float64
	ll   float64
	info [][]float64
	// step is the Newton step from beta: how far each coefficient still wants to
	// move. After the likelihood has settled it is nil for a converged fit and
	// about 1 for a coefficient running off to infinity.
	step       []float64
	iterations int
	converged  bool
	singular   bool
}

// settle is how many Newton steps newton takes after the likelihood has converged:
// a finite coefficient is then exact to rounding, and a coefficient heading to
// infinity has gone far enough (each step moves it by about 1) that the others no
// longer depend on it to 1e-10.
const settle = 10

// newton maximizes f from zero by Newton-Raphson, halving a step until the likelihood
// does not fall. The likelihood has converged when it changes by less than eps
// relative to its size (R's coxph rule) within maxIter steps; then up to settle more
// steps are taken while a coefficient still moves, and the last step is returned, so
// that the caller can tell a coefficient that keeps growing while the likelihood is
// flat (monotone likelihood, separation) from a converged one.
func newton(f objective, p, maxIter int, eps float64) newtonResult {
	r := newtonResult{beta: make([]float64, p)}
	var g []float64
	r.ll, g, r.info = f(r.beta)
	if p == 0 {
		r.converged = true
		return r
	}
	// move takes the Newton step from beta, halved until the likelihood does not
	// fall; false when the information is singular or no step helps.
	move := func() bool {
		step, ok := solve(r.info, g)
		if !ok {
			r.singular = true
			return false
		}
		next := make([]float64, p)
		for half := 0; half < 30; half++ {
			for j := range next {
				next[j] = r.beta[j] + step[j]
			}
			nll, ng, ninfo := f(next)
			if !math.IsNaN(nll) && nll >= r.ll-1e-12*math.Max(1, math.Abs(r.ll)) {
				done := math.Abs(nll-r.ll) <= eps*math.Max(1, math.Abs(r.ll))
				r.beta, r.ll, g, r.info = next, nll, ng, ninfo
				r.converged = done
				return true
			}
			for j := range step {
				step[j] /= 2
			}
		}
		return false
	}
	for r.iterations < maxIter && !r.converged {
		r.iterations++
		if !move() {
			break
		}
	}
	if !r.converged {
		return r
	}
	for k := 0; k < settle; k++ {
		step, ok := solve(r.info, g)
		if !ok {
			break
		}
		r.step = step
		still := false
		for j, s := range step {
			if math.Abs(s) > 1e-10*math.Max(1, math.Abs(r.beta[j])) {
				still = true
			}
		}
		if !still {
			r.step = nil
			break
		}
		r.iterations++
		if !move() {
			r.singular = false // a step that no longer helps is not a singular fit
			break
		}
		r.converged = true
	}
	if r.step != nil {
		if step, ok := solve(r.info, g); ok {
			r.step = step
		}
	}
	return r
}

// diverging marks the coefficients that still move after the likelihood has
// converged: the next Newton step is more than 1e-5 of the coefficient's size (or of
// 1). R's coxph warns "Loglik converged before variable k; coefficient may be
// infinite" by the same test on the step.
func (r newtonResult) diverging() []bool {
	out := make([]bool, len(r.beta))
	for j, s := range r.step {
		out[j] = math.Abs(s) > 1e-5*math.Max(1, math.Abs(r.beta[j]))
	}
	return out
}
