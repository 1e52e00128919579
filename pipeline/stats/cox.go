package stats

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// CoxData is survival data in counting-process form: each row is an interval
// (Start, Stop] in which a subject was at risk with covariates X; Event marks an event
// at Stop. A covariate that changes over time (weekly attendance) is several rows of
// one subject, one per interval in which it was constant.
type CoxData struct {
	Start, Stop []float64
	Event       []bool
	X           [][]float64 // one row per interval, one column per covariate
	Names       []string    // covariate names, for messages
}

// CoxFit is a fitted Cox model.
type CoxFit struct {
	Coef, StdErr, Z, P []float64
	// Lower and Upper are the 95% limits of the hazard ratios exp(Coef).
	Lower, Upper    []float64
	LogLik, LogLik0 float64
	N, Events       int
	Iterations      int
	Converged       bool
	// Warning says why an estimate should not be trusted (no convergence, a
	// coefficient running off to infinity); empty when there is nothing to say.
	Warning string
}

// ErrNoEvents is returned when the data have no events to fit.
var ErrNoEvents = errors.New("no events")

// Cox fits a proportional hazards model with Efron's handling of tied event times by
// Newton-Raphson with step halving, starting from zero. Non-convergence and monotone
// likelihood (separation: a coefficient heading to infinity) are reported in the fit,
// not hidden.
func Cox(d CoxData) (CoxFit, error) {
	n := len(d.Stop)
	if n == 0 || len(d.Start) != n || len(d.Event) != n || len(d.X) != n {
		return CoxFit{}, fmt.Errorf("cox: %d stops, %d starts, %d events and %d covariate rows; they must be equal and non-zero", n, len(d.Start), len(d.Event), len(d.X))
	}
	p := len(d.X[0])
	fit := CoxFit{N: n}
	for _, e := range d.Event {
		if e {
			fit.Events++
		}
	}
	if fit.Events == 0 {
		return fit, ErrNoEvents
	}
	// Centre the covariates: the likelihood is unchanged and exp() stays in range.
	means := make([]float64, p)
	for _, row := range d.X {
		for j, v := range row {
			means[j] += v / float64(n)
		}
	}
	x := make([][]float64, n)
	for i, row := range d.X {
		x[i] = make([]float64, p)
		for j, v := range row {
			x[i][j] = v - means[j]
		}
	}
	c := coxState{x: x, start: d.Start, stop: d.Stop, event: d.Event, p: p}
	c.order()

	fit.LogLik0, _, _ = c.eval(make([]float64, p))
	const maxIter = 30
	beta, ll, info, iterations, converged, singular := newton(c.eval, p, maxIter, 1e-9)
	fit.Iterations, fit.Converged = iterations, converged
	if singular {
		fit.Warning = "the information matrix is singular: a covariate is constant or collinear with others"
	}
	fit.LogLik = ll
	fit.Coef = beta
	cov, ok := inverse(info)
	fit.StdErr = make([]float64, p)
	fit.Z = make([]float64, p)
	fit.P = make([]float64, p)
	fit.Lower = make([]float64, p)
	fit.Upper = make([]float64, p)
	z := normalQuantile(0.95)
	for j := 0; j < p; j++ {
		se := math.NaN()
		if ok {
			se = math.Sqrt(cov[j][j])
		}
		fit.StdErr[j] = se
		fit.Z[j] = beta[j] / se
		fit.P[j] = 2 * distuv.UnitNormal.Survival(math.Abs(fit.Z[j]))
		fit.Lower[j] = math.Exp(beta[j] - z*se)
		fit.Upper[j] = math.Exp(beta[j] + z*se)
		// A coefficient whose standard error dwarfs it after convergence, or that
		// has run past any plausible hazard ratio, signals monotone likelihood.
		if math.Abs(beta[j]) > 15 || (ok && se > 1e3) {
			name := fmt.Sprint(j)
			if j < len(d.Names) {
				name = d.Names[j]
			}
			fit.Warning = fmt.Sprintf("monotone likelihood: the coefficient of %s may be infinite (separation)", name)
		}
	}
	if !fit.Converged && fit.Warning == "" {
		fit.Warning = fmt.Sprintf("did not converge in %d iterations", maxIter)
	}
	return fit, nil
}

// coxState holds the data of a fit in the orders the risk-set sweep needs.
type coxState struct {
	x               [][]float64
	start, stop     []float64
	event           []bool
	p               int
	byStop, byStart []int     // indices by stop and by start, descending
	times           []float64 // distinct event times, descending
}

func (c *coxState) order() {
	n := len(c.stop)
	c.byStop = make([]int, n)
	c.byStart = make([]int, n)
	for i := range c.byStop {
		c.byStop[i], c.byStart[i] = i, i
	}
	sort.SliceStable(c.byStop, func(a, b int) bool { return c.stop[c.byStop[a]] > c.stop[c.byStop[b]] })
	sort.SliceStable(c.byStart, func(a, b int) bool { return c.start[c.byStart[a]] > c.start[c.byStart[b]] })
	seen := map[float64]bool{}
	for _, i := range c.byStop {
		if c.event[i] && !seen[c.stop[i]] {
			seen[c.stop[i]] = true
			c.times = append(c.times, c.stop[i])
		}
	}
}

// eval returns the Efron log partial likelihood, its gradient and the information
// matrix at beta. It sweeps the event times from the last to the first, adding
// intervals as their stop is reached and removing them once their start is not
// before the time, so each interval is touched twice.
func (c *coxState) eval(beta []float64) (float64, []float64, [][]float64) {
	p := c.p
	r := make([]float64, len(c.stop))
	for i, row := range c.x {
		eta := 0.0
		for j, v := range row {
			eta += v * beta[j]
		}
		r[i] = math.Exp(eta)
	}
	s0 := 0.0
	s1 := make([]float64, p)
	s2 := newSquare(p)
	u := make([]float64, p)
	info := newSquare(p)
	ll := 0.0
	add := func(i int, sign float64) {
		ri := r[i] * sign
		s0 += ri
		for j := 0; j < p; j++ {
			s1[j] += ri * c.x[i][j]
			for k := 0; k <= j; k++ {
				s2[j][k] += ri * c.x[i][j] * c.x[i][k]
			}
		}
	}
	ia, ir := 0, 0
	d1 := make([]float64, p)
	d2 := newSquare(p)
	a1 := make([]float64, p)
	a2 := newSquare(p)
	for _, t := range c.times {
		for ; ia < len(c.byStop) && c.stop[c.byStop[ia]] >= t; ia++ {
			add(c.byStop[ia], 1)
		}
		for ; ir < len(c.byStart) && c.start[c.byStart[ir]] >= t; ir++ {
			add(c.byStart[ir], -1)
		}
		// The deaths at t: intervals that stop at t with an event.
		d0, nd := 0.0, 0
		for j := 0; j < p; j++ {
			d1[j] = 0
			for k := 0; k <= j; k++ {
				d2[j][k] = 0
			}
		}
		for k := ia - 1; k >= 0 && c.stop[c.byStop[k]] == t; k-- {
			i := c.byStop[k]
			if !c.event[i] || c.start[i] >= t {
				continue
			}
			nd++
			d0 += r[i]
			ll += math.Log(r[i])
			for j := 0; j < p; j++ {
				u[j] += c.x[i][j]
				d1[j] += r[i] * c.x[i][j]
				for m := 0; m <= j; m++ {
					d2[j][m] += r[i] * c.x[i][j] * c.x[i][m]
				}
			}
		}
		for l := 0; l < nd; l++ {
			f := float64(l) / float64(nd)
			den := s0 - f*d0
			ll -= math.Log(den)
			for j := 0; j < p; j++ {
				a1[j] = (s1[j] - f*d1[j]) / den
				u[j] -= a1[j]
			}
			for j := 0; j < p; j++ {
				for k := 0; k <= j; k++ {
					a2[j][k] = (s2[j][k]-f*d2[j][k])/den - a1[j]*a1[k]
					info[j][k] += a2[j][k]
				}
			}
		}
	}
	for j := 0; j < p; j++ {
		for k := 0; k < j; k++ {
			info[k][j] = info[j][k]
		}
	}
	return ll, u, info
}

func newSquare(p int) [][]float64 {
	m := make([][]float64, p)
	for i := range m {
		m[i] = make([]float64, p)
	}
	return m
}
