// Package stats holds the fitted statistics that SQL cannot do: Kaplan-Meier curves
// with Greenwood variance and log-log bands, the log-rank test, Cox proportional
// hazards with Efron ties in counting-process form, logistic regression, and Wilson
// intervals (docs/methods.md). It works on plain slices; the models stage reads
// them from DuckDB and writes the results back.
package stats

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// timed is one subject's time with whether it ended in the event.
type timed struct {
	t     float64
	event bool
}

// KMPoint is the Kaplan-Meier estimate just after one time at which something happened.
type KMPoint struct {
	Time     float64
	NRisk    int // at risk just before Time
	NEvent   int
	NCensor  int
	Survival float64
	// StdErr is the Greenwood standard error of Survival.
	StdErr float64
	// Lower and Upper are the log-log confidence limits (the band on log(-log S)).
	Lower, Upper float64
}

// KaplanMeier estimates the survival curve of times (event = true for an event, false
// for censoring) with Greenwood standard errors and log-log confidence limits at level
// conf (0.95 for 95%). It returns one point per distinct time, in order. Where the
// survival is 1 or 0 the log-log band is undefined and the limits are the estimate.
func KaplanMeier(times []float64, event []bool, conf float64) []KMPoint {
	// The estimate reads counts per distinct time only, so the order of ties is free.
	obs := make([]timed, len(times))
	for i, t := range times {
		obs[i] = timed{t, event[i]}
	}
	slices.SortFunc(obs, func(a, b timed) int { return cmp.Compare(a.t, b.t) })
	z := normalQuantile(conf)
	var out []KMPoint
	atRisk := len(times)
	s, green := 1.0, 0.0
	for i := 0; i < len(obs); {
		t := obs[i].t
		p := KMPoint{Time: t, NRisk: atRisk}
		for ; i < len(obs) && obs[i].t == t; i++ {
			if obs[i].event {
				p.NEvent++
			} else {
				p.NCensor++
			}
		}
		if p.NEvent > 0 {
			n, d := float64(atRisk), float64(p.NEvent)
			s *= 1 - d/n
			if n > d {
				green += d / (n * (n - d))
			} else {
				green = math.Inf(1)
			}
		}
		p.Survival = s
		p.StdErr = s * math.Sqrt(green)
		p.Lower, p.Upper = logLogBand(s, math.Sqrt(green), z)
		out = append(out, p)
		atRisk -= p.NEvent + p.NCensor
	}
	return out
}

// logLogBand is the confidence band for S computed on log(-log S), given the standard
// error sigma of log S.
func logLogBand(s, sigma, z float64) (lo, hi float64) {
	if s <= 0 || s >= 1 || math.IsInf(sigma, 0) || math.IsNaN(sigma) {
		return s, s
	}
	l := math.Log(-math.Log(s))
	w := z * sigma / math.Abs(math.Log(s))
	return math.Exp(-math.Exp(l + w)), math.Exp(-math.Exp(l - w))
}

// normalQuantile is the two-sided standard normal quantile for confidence conf.
func normalQuantile(conf float64) float64 {
	return NormalQuantile(1 - (1-conf)/2)
}

// LogRank is the result of the log-rank test across groups.
type LogRank struct {
	ChiSquare float64
	DF        int
	P         float64
	// Observed and Expected events per group, in the order of the group codes.
	Observed, Expected []float64
	Groups             []int
}

// LogRankTest compares the survival of groups (any integer codes) with the log-rank
// test: the chi-square of observed minus expected events with the hypergeometric
// variance, on (groups - 1) degrees of freedom.
func LogRankTest(times []float64, event []bool, group []int) LogRank {
	codes := map[int]int{}
	var groups []int
	for _, g := range group {
		if _, ok := codes[g]; !ok {
			codes[g] = 0
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	for i, g := range groups {
		codes[g] = i
	}
	k := len(groups)
	res := LogRank{DF: k - 1, Groups: groups, Observed: make([]float64, k), Expected: make([]float64, k)}
	if k < 2 {
		res.P = 1
		return res
	}
	idx := make([]int, len(times))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(times[a], times[b]) }) // counts per time: ties in any order
	atRisk := make([]float64, k)
	for _, g := range group {
		atRisk[codes[g]]++
	}
	v := make([][]float64, k)
	for i := range v {
		v[i] = make([]float64, k)
	}
	for i := 0; i < len(idx); {
		t := times[idx[i]]
		d := make([]float64, k)
		left := make([]float64, k)
		for ; i < len(idx) && times[idx[i]] == t; i++ {
			g := codes[group[idx[i]]]
			if event[idx[i]] {
				d[g]++
			}
			left[g]++
		}
		n, dt := 0.0, 0.0
		for g := 0; g < k; g++ {
			n += atRisk[g]
			dt += d[g]
		}
		if dt > 0 && n > 0 {
			for g := 0; g < k; g++ {
				res.Observed[g] += d[g]
				res.Expected[g] += dt * atRisk[g] / n
				if n > 1 {
					f := dt * (n - dt) / (n * n * (n - 1))
					for h := 0; h < k; h++ {
						delta := 0.0
						if g == h {
							delta = n
						}
						v[g][h] += f * atRisk[g] * (delta - atRisk[h])
					}
				}
			}
		}
		for g := 0; g < k; g++ {
			atRisk[g] -= left[g]
		}
	}
	// The statistic uses the first k-1 groups: (O-E)' V^-1 (O-E).
	m := k - 1
	diff := make([]float64, m)
	vm := make([][]float64, m)
	for g := 0; g < m; g++ {
		diff[g] = res.Observed[g] - res.Expected[g]
		vm[g] = append([]float64(nil), v[g][:m]...)
	}
	x, ok := solve(vm, diff)
	if !ok {
		res.ChiSquare, res.P = math.NaN(), math.NaN()
		return res
	}
	for g := 0; g < m; g++ {
		res.ChiSquare += diff[g] * x[g]
	}
	res.P = distuv.ChiSquared{K: float64(m)}.Survival(res.ChiSquare)
	return res
}

// Wilson is the Wilson score interval for k successes out of n at level conf.
func Wilson(k, n int, conf float64) (lo, hi float64) {
	if n <= 0 {
		return math.NaN(), math.NaN()
	}
	z := normalQuantile(conf)
	p := float64(k) / float64(n)
	nn := float64(n)
	den := 1 + z*z/nn
	centre := (p + z*z/(2*nn)) / den
	half := z / den * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}
