package stats

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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
	// W, when given, is how many identical intervals each row stands for (whole
	// numbers); nil means one each. A caller with many repeated rows can fold them
	// itself and keep memory small.
	W []float64
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
	// Aliased marks the columns left out because they are constant or linear
	// combinations of the columns before them (their estimates are NaN); Infinite
	// the coefficients that grow without bound while the likelihood is flat.
	Aliased, Infinite []bool
	// Warning says why an estimate should not be trusted (no convergence, a
	// coefficient running off to infinity, a term left out), naming the terms;
	// empty when there is nothing to say.
	Warning string
}

// ErrNoEvents is returned when the data have no events to fit.
var ErrNoEvents = errors.New("no events")

// Cox fits a proportional hazards model with Efron's handling of tied event times by
// Newton-Raphson with step halving, starting from zero. A column that is constant or
// collinear with the columns before it is left out with NaN estimates (R's coxph
// reports NA); non-convergence and monotone likelihood (separation: a coefficient
// heading to infinity) are reported in the fit by term, and such a fit is not called
// converged.
func Cox(d CoxData) (CoxFit, error) { return cox(d, true) }

// cox fits the model; fold says whether identical rows are fitted once with a weight
// (the same likelihood, summed in another order; tests compare the two).
func cox(d CoxData, fold bool) (CoxFit, error) {
	n := len(d.Stop)
	if n == 0 || len(d.Start) != n || len(d.Event) != n || len(d.X) != n || (d.W != nil && len(d.W) != n) {
		return CoxFit{}, fmt.Errorf("cox: %d stops, %d starts, %d events, %d covariate rows and %d weights; they must be equal and non-zero (weights may be left out)", n, len(d.Start), len(d.Event), len(d.X), len(d.W))
	}
	p := len(d.X[0])
	fit := CoxFit{}
	for i, e := range d.Event {
		w := d.weight(i)
		if w < 1 || w != math.Trunc(w) {
			return CoxFit{}, fmt.Errorf("cox: weight %v of row %d: give a whole number of at least 1", w, i)
		}
		fit.N += int(w)
		if e {
			fit.Events += int(w)
		}
	}
	if fit.Events == 0 {
		return fit, ErrNoEvents
	}
	// Columns that are constant or linear combinations of the columns before them
	// are left out, as R's coxph reports them NA, and the rest is fitted.
	fit.Aliased = aliased(d.X, d.W, p)
	fitted := d
	if slices.Contains(fit.Aliased, true) {
		fitted.X = keepColumns(d.X, fit.Aliased)
	}
	q := p
	for _, a := range fit.Aliased {
		if a {
			q--
		}
	}
	c := newCoxState(fitted, q, fold)
	c.order()

	fit.LogLik0, _, _ = c.eval(make([]float64, q))
	const maxIter = 30
	r := newton(c.eval, q, maxIter, 1e-9)
	fit.Iterations, fit.Converged, fit.LogLik = r.iterations, r.converged, r.ll
	fit.Coef, fit.StdErr, fit.Z, fit.P, fit.Lower, fit.Upper = nans(p), nans(p), nans(p), nans(p), nans(p), nans(p)
	fit.Infinite = make([]bool, p)
	div := r.diverging()
	cov, ok := finiteCovariance(r.info, div)
	z := normalQuantile(0.95)
	k := 0
	for j := 0; j < p; j++ {
		if fit.Aliased[j] {
			continue
		}
		b := r.beta[k]
		se := math.NaN()
		if ok {
			se = math.Sqrt(cov[k][k])
		}
		fit.Coef[j], fit.StdErr[j] = b, se
		fit.Z[j] = b / se
		fit.P[j] = twoSidedP(fit.Z[j])
		fit.Lower[j] = math.Exp(b - z*se)
		fit.Upper[j] = math.Exp(b + z*se)
		fit.Infinite[j] = div[k]
		k++
	}
	fit.Warning = fitWarning(d.Names, fit.Aliased, fit.Infinite, r, maxIter)
	if slices.Contains(fit.Infinite, true) {
		fit.Converged = false
	}
	return fit, nil
}

// nans is n NaNs: the estimates of columns left out.
func nans(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// fitWarning says in words what went wrong in a fit, naming the terms; empty when
// nothing did.
func fitWarning(names []string, alias, infinite []bool, r newtonResult, maxIter int) string {
	var w []string
	if slices.Contains(alias, true) {
		w = append(w, "left out as constant or collinear with the terms before it (aliased, estimate not identifiable): "+listTerms(names, alias))
	}
	if slices.Contains(infinite, true) {
		w = append(w, "the likelihood converged while the coefficient kept growing (monotone likelihood, separation), so the estimate may be infinite and is not reported: "+listTerms(names, infinite))
	}
	switch {
	case r.singular:
		w = append(w, "the information matrix is singular: no estimate could be computed")
	case !r.converged:
		w = append(w, fmt.Sprintf("did not converge in %d iterations", maxIter))
	}
	return strings.Join(w, "; ")
}

// coxState holds the data of a fit in the orders the risk-set sweep needs. Rows that
// are identical in start, stop, event and every covariate are kept once with their
// count as weight w: a weekly model has many (the same attendance and covariates in
// the same week), and the sums of the likelihood are the same with w copies of a row
// as with the row weighted by w.
type coxState struct {
	x               []float64 // centred covariates, row-major, p per row
	w               []float64 // how many input rows each row stands for
	start, stop     []float64
	event           []bool
	p               int
	rowOf           []int     // while folding: the input row each row came from
	byStop, byStart []int32   // indices by stop and by start, descending
	times           []float64 // distinct event times, descending
}

// weight is how many intervals row i stands for.
func (d CoxData) weight(i int) float64 {
	if d.W == nil {
		return 1
	}
	return d.W[i]
}

func newCoxState(d CoxData, p int, fold bool) *coxState {
	n := len(d.Stop)
	c := &coxState{p: p}
	first := map[uint64]int32{}
	same := func(i int, k int32) bool {
		j := c.rowOf[k]
		if d.Start[i] != d.Start[j] || d.Stop[i] != d.Stop[j] || d.Event[i] != d.Event[j] {
			return false
		}
		for m, v := range d.X[i] {
			if v != d.X[j][m] {
				return false
			}
		}
		return true
	}
	for i := 0; i < n; i++ {
		if fold {
			h := rowHash(d.Start[i], d.Stop[i], d.Event[i], d.X[i])
			if k, ok := first[h]; ok && same(i, k) {
				c.w[k] += d.weight(i)
				continue
			} else if !ok {
				first[h] = int32(len(c.w))
			}
		}
		c.rowOf = append(c.rowOf, i)
		c.w = append(c.w, d.weight(i))
		c.start = append(c.start, d.Start[i])
		c.stop = append(c.stop, d.Stop[i])
		c.event = append(c.event, d.Event[i])
	}
	// Centre the covariates: the likelihood is unchanged and exp() stays in range.
	means := make([]float64, p)
	total := 0.0
	for i := range d.X {
		total += d.weight(i)
	}
	for i, row := range d.X {
		for j, v := range row {
			means[j] += d.weight(i) * v / total
		}
	}
	c.x = make([]float64, len(c.w)*p)
	for k, i := range c.rowOf {
		for j, v := range d.X[i] {
			c.x[k*p+j] = v - means[j]
		}
	}
	c.rowOf = nil
	return c
}

// rowHash is FNV-1a over a row's bits; rows with equal hashes are compared in full
// before they are folded.
func rowHash(start, stop float64, event bool, x []float64) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		for b := 0; b < 8; b++ {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
	}
	mix(math.Float64bits(start))
	mix(math.Float64bits(stop))
	if event {
		mix(1)
	} else {
		mix(0)
	}
	for _, v := range x {
		mix(math.Float64bits(v))
	}
	return h
}

func (c *coxState) order() {
	n := len(c.stop)
	c.byStop = make([]int32, n)
	c.byStart = make([]int32, n)
	for i := range c.byStop {
		c.byStop[i], c.byStart[i] = int32(i), int32(i)
	}
	slices.SortStableFunc(c.byStop, func(a, b int32) int { return cmp.Compare(c.stop[b], c.stop[a]) })
	slices.SortStableFunc(c.byStart, func(a, b int32) int { return cmp.Compare(c.start[b], c.start[a]) })
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
// before the time, so each interval is touched twice. Second-order sums are kept as
// packed lower triangles (row j holds columns 0..j at j(j+1)/2).
func (c *coxState) eval(beta []float64) (float64, []float64, [][]float64) {
	p := c.p
	tri := p * (p + 1) / 2
	r := make([]float64, len(c.stop))
	for i := range r {
		row := c.x[i*p : (i+1)*p]
		eta := 0.0
		for j, v := range row {
			eta += v * beta[j]
		}
		r[i] = math.Exp(eta)
	}
	s0 := 0.0
	s1 := make([]float64, p)
	s2 := make([]float64, tri)
	u := make([]float64, p)
	info := make([]float64, tri)
	ll := 0.0
	add := func(i int32, sign float64) {
		ri := r[i] * c.w[i] * sign
		s0 += ri
		row := c.x[int(i)*p : int(i)*p+p]
		off := 0
		for j, xj := range row {
			rx := ri * xj
			s1[j] += rx
			out := s2[off : off+j+1]
			for k := range out {
				out[k] += rx * row[k]
			}
			off += j + 1
		}
	}
	ia, ir := 0, 0
	d1 := make([]float64, p)
	d2 := make([]float64, tri)
	a1 := make([]float64, p)
	for _, t := range c.times {
		for ; ia < len(c.byStop) && c.stop[c.byStop[ia]] >= t; ia++ {
			add(c.byStop[ia], 1)
		}
		for ; ir < len(c.byStart) && c.start[c.byStart[ir]] >= t; ir++ {
			add(c.byStart[ir], -1)
		}
		// The deaths at t: intervals that stop at t with an event.
		d0, nd := 0.0, 0.0
		clear(d1)
		clear(d2)
		for k := ia - 1; k >= 0 && c.stop[c.byStop[k]] == t; k-- {
			i := c.byStop[k]
			if !c.event[i] || c.start[i] >= t {
				continue
			}
			wi := c.w[i]
			nd += wi
			d0 += wi * r[i]
			ll += wi * math.Log(r[i])
			row := c.x[int(i)*p : int(i)*p+p]
			off := 0
			for j, xj := range row {
				u[j] += wi * xj
				rx := wi * r[i] * xj
				d1[j] += rx
				out := d2[off : off+j+1]
				for m := range out {
					out[m] += rx * row[m]
				}
				off += j + 1
			}
		}
		for l := 0.0; l < nd; l++ {
			f := l / nd
			den := s0 - f*d0
			ll -= math.Log(den)
			for j := 0; j < p; j++ {
				a1[j] = (s1[j] - f*d1[j]) / den
				u[j] -= a1[j]
			}
			off := 0
			for j := 0; j < p; j++ {
				for k := 0; k <= j; k++ {
					info[off+k] += (s2[off+k]-f*d2[off+k])/den - a1[j]*a1[k]
				}
				off += j + 1
			}
		}
	}
	full := newSquare(p)
	off := 0
	for j := 0; j < p; j++ {
		for k := 0; k <= j; k++ {
			full[j][k], full[k][j] = info[off+k], info[off+k]
		}
		off += j + 1
	}
	return ll, u, full
}

func newSquare(p int) [][]float64 {
	m := make([][]float64, p)
	for i := range m {
		m[i] = make([]float64, p)
	}
	return m
}
