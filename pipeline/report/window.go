package report

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/iop-outcomes/outcomes/pipeline/models"
	"github.com/iop-outcomes/outcomes/pipeline/stats"
)

// querier is what the report reads with: one connection, so that the temporary
// table of the report's measures is seen by every section.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// quarterDates returns the first and last day of a quarter such as 2026Q3.
func quarterDates(q string) (time.Time, time.Time) {
	m := quarterRe.FindStringSubmatch(q)
	var y, n int
	fmt.Sscan(m[1], &y)
	fmt.Sscan(m[2], &n)
	from := time.Date(y, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 3, -1)
}

func quarterOf(t time.Time) string { return fmt.Sprintf("%dQ%d", t.Year(), (int(t.Month())+2)/3) }

// windowMeasures makes the temporary table period_kpis: the measures of the report's
// window and of the window before it, per program and for ALL, summed from the same
// facts as kpis (the view kpi_facts), with the census, Kaplan-Meier retention,
// Wilson intervals and funnel limits, and the median length of stay (median_days, over
// the episodes discharged in the window: its denominator).
func windowMeasures(ctx context.Context, q querier, p Period) error {
	if _, err := q.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE period_kpis (
		"window" VARCHAR, program_id VARCHAR, measure VARCHAR, numerator DOUBLE, denominator DOUBLE,
		rate DOUBLE, lower DOUBLE, upper DOUBLE, funnel_lower_95 DOUBLE, funnel_upper_95 DOUBLE,
		funnel_lower_998 DOUBLE, funnel_upper_998 DOUBLE, median_days DOUBLE)`); err != nil {
		return fmt.Errorf("make the report's measures: %w", err)
	}
	for _, w := range []struct {
		name     string
		from, to time.Time
	}{{"current", p.From, p.To}, {"prior", p.PriorFrom, p.PriorTo}} {
		if err := window(ctx, q, w.name, w.from, w.to); err != nil {
			return fmt.Errorf("measures of %s to %s: %w", w.from.Format(time.DateOnly), w.to.Format(time.DateOnly), err)
		}
	}
	return nil
}

type measureRow struct {
	program, measure     string
	num                  float64
	den                  sql.NullFloat64
	rate, lower, upper   any
	flo95, fhi95, flo998 any
	fhi998               any
}

func window(ctx context.Context, q querier, name string, from, to time.Time) error {
	rows, err := q.QueryContext(ctx, `
		SELECT coalesce(program_id, 'ALL'), measure, sum(num), sum(den)
		FROM kpi_facts WHERE fact_date BETWEEN ? AND ?
		GROUP BY GROUPING SETS ((program_id, measure), (measure))
		UNION ALL
		SELECT coalesce(program_id, 'ALL'), 'census', count(*), NULL
		FROM episode_outcomes
		WHERE admit_date <= ? AND coalesce(discharge_date, (SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff')) >= ?
		GROUP BY GROUPING SETS ((program_id), ())
		ORDER BY 1, 2`, from, to, to, from)
	if err != nil {
		return err
	}
	var out []*measureRow
	index := map[[2]string]*measureRow{}
	for rows.Next() {
		m := &measureRow{}
		if err := rows.Scan(&m.program, &m.measure, &m.num, &m.den); err != nil {
			rows.Close()
			return err
		}
		if m.den.Valid && m.den.Float64 > 0 {
			m.rate = m.num / m.den.Float64
			lo, hi := stats.Wilson(int(m.num), int(m.den.Float64), 0.95)
			m.lower, m.upper = lo, hi
		}
		out = append(out, m)
		index[[2]string{m.program, m.measure}] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Retention: the Kaplan-Meier estimate over the window's admissions, as kpis.
	for _, n := range []int{30, 60, 90} {
		rows, err := q.QueryContext(ctx, `
			SELECT program_id, retention_days, dropout_event FROM episode_outcomes
			WHERE admit_date BETWEEN ? AND ?
			  AND admit_date + CAST(? AS INTEGER) <= (SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff')
			ORDER BY episode_id`, from, to, n)
		if err != nil {
			return err
		}
		times, drops := map[string][]float64{}, map[string][]bool{}
		for rows.Next() {
			var prog string
			var t float64
			var d bool
			if err := rows.Scan(&prog, &t, &d); err != nil {
				rows.Close()
				return err
			}
			for _, k := range []string{prog, "ALL"} {
				times[k], drops[k] = append(times[k], t), append(drops[k], d)
			}
		}
		rows.Close()
		for prog, ts := range times {
			m := index[[2]string{prog, fmt.Sprintf("retention_%d", n)}]
			if m == nil {
				continue
			}
			kept, rate, lo, hi := models.RetentionEstimate(ts, drops[prog], n)
			m.num, m.den = float64(kept), sql.NullFloat64{Float64: float64(len(ts)), Valid: true}
			m.rate, m.lower, m.upper = rate, lo, hi
		}
	}
	// Funnel limits around the rate of all programs, for each program's denominator.
	for _, m := range out {
		all := index[[2]string{"ALL", m.measure}]
		p0, ok := all.rate.(float64)
		if !ok || !m.den.Valid || m.den.Float64 <= 0 {
			continue
		}
		w95 := stats.NormalQuantile(0.975) * math.Sqrt(p0*(1-p0)/m.den.Float64)
		w998 := stats.NormalQuantile(0.999) * math.Sqrt(p0*(1-p0)/m.den.Float64)
		m.flo95, m.fhi95 = math.Max(0, p0-w95), math.Min(1, p0+w95)
		m.flo998, m.fhi998 = math.Max(0, p0-w998), math.Min(1, p0+w998)
	}
	for _, m := range out {
		var den any
		if m.den.Valid {
			den = m.den.Float64
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO period_kpis VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
			name, m.program, m.measure, m.num, den, m.rate, m.lower, m.upper, m.flo95, m.fhi95, m.flo998, m.fhi998); err != nil {
			return err
		}
	}
	// Length of stay: days from admission to discharge; the median, as R's median
	// (the mean of the two middle values of an even count), over the episodes
	// discharged in the window.
	_, err = q.ExecContext(ctx, `
		INSERT INTO period_kpis ("window", program_id, measure, denominator, median_days)
		SELECT ?, coalesce(program_id, 'ALL'), 'length_of_stay', count(*), median(discharge_date - admit_date)
		FROM episode_outcomes WHERE discharge_date BETWEEN ? AND ?
		GROUP BY GROUPING SETS ((program_id), ())`, name, from, to)
	return err
}
