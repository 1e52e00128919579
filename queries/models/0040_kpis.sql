-- kpis: quarterly measures per program and for all programs ('ALL'), each with its
-- numerator and denominator and a Wilson 95% interval for rates. Admission measures
-- count episodes by the quarter of admission, end-of-treatment measures by the quarter
-- of discharge, attendance by the quarter of the session. A rate whose follow-up has
-- not elapsed by the cutoff leaves the episode out of the denominator.
CREATE OR REPLACE TABLE kpis AS
WITH o AS (
    SELECT *,
           date_trunc('quarter', admit_date) AS admit_q,
           date_trunc('quarter', discharge_date) AS discharge_q
    FROM episode_outcomes
),
quarters AS (
    SELECT unnest(generate_series(
        (SELECT date_trunc('quarter', min(admit_date)) FROM o),
        date_trunc('quarter', param_date('cutoff')),
        INTERVAL 3 MONTH))::DATE AS q
),
facts AS (
    SELECT program_id, admit_q AS q, 'admissions' AS measure, 1 AS num, NULL::INTEGER AS den FROM o
    UNION ALL
    SELECT program_id, discharge_q, 'discharges', 1, NULL FROM o WHERE discharge_date IS NOT NULL
    UNION ALL
    SELECT o.program_id, quarters.q, 'census', 1, NULL
    FROM o JOIN quarters
      ON o.admit_date < quarters.q + INTERVAL 3 MONTH
     AND coalesce(o.discharge_date, param_date('cutoff')) >= quarters.q
    UNION ALL
    SELECT program_id, discharge_q, 'completion_rate', (discharge_reason = 'completed')::INTEGER, 1
    FROM o WHERE discharge_date IS NOT NULL
    UNION ALL
    -- Placeholders: the models runner replaces the retention rows by Kaplan-Meier
    -- estimates (retentionKPIs in pipeline/models).
    SELECT program_id, admit_q, 'retention_' || n, (NOT (dropout_event AND retention_days < n))::INTEGER, 1
    FROM o, (VALUES (30), (60), (90)) v(n)
    WHERE admit_date + n <= param_date('cutoff')
    UNION ALL
    SELECT program_id, admit_q, 'initiation', initiated::INTEGER, 1 FROM o WHERE admit_date + 14 <= param_date('cutoff')
    UNION ALL
    SELECT program_id, admit_q, 'engagement', engaged::INTEGER, 1 FROM o WHERE admit_date + 48 <= param_date('cutoff')
    UNION ALL
    SELECT program_id, discharge_q, 'relapse_rate', relapse_event::INTEGER, 1
    FROM o WHERE discharge_date IS NOT NULL AND relapse_event IS NOT NULL
    UNION ALL
    SELECT program_id, discharge_q, 'readmission_30', readmit_30::INTEGER, 1 FROM o WHERE readmit_30 IS NOT NULL
    UNION ALL
    SELECT program_id, discharge_q, 'readmission_90', readmit_90::INTEGER, 1 FROM o WHERE readmit_90 IS NOT NULL
    UNION ALL
    SELECT program_id, discharge_q, 'phq9_reliable_improvement', phq9_reliable_improvement::INTEGER, 1
    FROM o WHERE discharge_date IS NOT NULL AND phq9_reliable_improvement IS NOT NULL
    UNION ALL
    SELECT program_id, discharge_q, 'gad7_reliable_improvement', gad7_reliable_improvement::INTEGER, 1
    FROM o WHERE discharge_date IS NOT NULL AND gad7_reliable_improvement IS NOT NULL
    UNION ALL
    SELECT e.program_id, date_trunc('quarter', w.week_start), 'attendance_rate', w.attended, w.expected
    FROM episode_weeks w JOIN episodes e USING (episode_id)
),
k AS (
    SELECT
        coalesce(program_id, 'ALL') AS program_id,
        strftime(q, '%Y') || 'Q' || quarter(q) AS period,
        measure,
        sum(num) AS numerator,
        sum(den) AS denominator,
        sum(num) / nullif(sum(den), 0) AS rate,
        CASE WHEN sum(den) IS NOT NULL THEN wilson_lo(sum(num), sum(den)) END AS lower,
        CASE WHEN sum(den) IS NOT NULL THEN wilson_hi(sum(num), sum(den)) END AS upper
    FROM facts
    WHERE q <= param_date('cutoff')
    GROUP BY GROUPING SETS ((program_id, q, measure), (q, measure))
)
-- Funnel-plot limits: around the rate of all programs, for a program's denominator,
-- by the normal approximation to the binomial at 95% (z 1.96) and 99.8% (z 3.09).
SELECT k.*,
       greatest(0, a.rate - 1.959964 * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_lower_95,
       least(1, a.rate + 1.959964 * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_upper_95,
       greatest(0, a.rate - 3.090232 * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_lower_998,
       least(1, a.rate + 3.090232 * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_upper_998
FROM k
LEFT JOIN k a ON a.program_id = 'ALL' AND a.period = k.period AND a.measure = k.measure AND k.denominator > 0
ORDER BY k.program_id, k.period, k.measure;

COMMENT ON TABLE kpis IS 'Quarterly measures per program and for ALL programs. Counts (admissions, discharges, census) have no denominator; rates have numerator, denominator, rate and a Wilson 95% interval.';
COMMENT ON COLUMN kpis.program_id IS 'Program, or ALL for all programs together.';
COMMENT ON COLUMN kpis.period IS 'Calendar quarter, for example 2026Q3.';
COMMENT ON COLUMN kpis.measure IS 'admissions, discharges, census (episodes active at any time in the quarter), completion_rate, retention_30/60/90 (the Kaplan-Meier probability of not having dropped out by day N, among episodes admitted in the quarter at least N days before the cutoff; numerator: episodes that had not dropped out by day N; the rate is null when no episode was followed to day N), attendance_rate, initiation, engagement, relapse_rate, readmission_30/90, phq9_reliable_improvement, gad7_reliable_improvement.';
COMMENT ON COLUMN kpis.numerator IS 'Episodes (or sessions, for attendance_rate) that meet the measure.';
COMMENT ON COLUMN kpis.denominator IS 'Episodes (or expected sessions) the measure is taken over; null for counts.';
COMMENT ON COLUMN kpis.rate IS 'numerator / denominator; for retention_N the Kaplan-Meier estimate, which counts episodes censored before day N (completed, transferred) as at risk until then rather than as retained.';
COMMENT ON COLUMN kpis.lower IS 'Lower limit of the Wilson 95% interval of the rate (log-log Kaplan-Meier limit for retention_N).';
COMMENT ON COLUMN kpis.upper IS 'Upper limit of the Wilson 95% interval of the rate.';
COMMENT ON COLUMN kpis.funnel_lower_95 IS 'Funnel plot: lower 95% limit around the rate of ALL programs for this denominator (normal approximation to the binomial); a program below it differs from the overall rate beyond chance.';
COMMENT ON COLUMN kpis.funnel_upper_95 IS 'Funnel plot: upper 95% limit around the rate of ALL programs for this denominator.';
COMMENT ON COLUMN kpis.funnel_lower_998 IS 'Funnel plot: lower 99.8% limit around the rate of ALL programs for this denominator.';
COMMENT ON COLUMN kpis.funnel_upper_998 IS 'Funnel plot: upper 99.8% limit around the rate of ALL programs for this denominator.';
