package stats

import "gonum.org/v1/gonum/mat"

// solve returns x with a x = b for a symmetric positive definite a, by Cholesky; ok
// is false when a is not positive definite (singular information, for example).
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, a[i][j])
		}
	}
	var ch mat.Cholesky
	if ok := ch.Factorize(s); !ok {
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
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, a[i][j])
		}
	}
	var ch mat.Cholesky
	if ok := ch.Factorize(s); !ok {
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
