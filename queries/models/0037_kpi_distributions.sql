-- kpi_distributions: the quarterly summaries of the measures that are not a count
-- over a count (kpi_values): access in days as a median with quartiles, satisfaction
-- as a mean score, per program and for all programs ('ALL'). A table of its own
-- rather than rows of kpis because its figures (n, mean, quartiles) are not a
-- numerator over a denominator with a Wilson interval; the shares within a target and
-- the response rates that go with them are ordinary rows of kpis (referral_within_target,
-- first_session_within_target, satisfaction_response, satisfied). Quartiles are
-- interpolated (DuckDB quantile_cont, R's quantile type 7).
CREATE OR REPLACE TABLE kpi_distributions AS
WITH v AS (
    SELECT program_id, CAST(date_trunc('quarter', fact_date) AS DATE) AS q, measure, value
    FROM kpi_values
    WHERE fact_date <= param_date('cutoff')
)
SELECT coalesce(program_id, 'ALL') AS program_id,
       strftime(q, '%Y') || 'Q' || quarter(q) AS period,
       measure,
       count(value) AS n,
       count(*) - count(value) AS n_missing,
       avg(value) AS mean,
       stddev_samp(value) AS sd,
       quantile_cont(value, 0.25) AS p25,
       quantile_cont(value, 0.5) AS median,
       quantile_cont(value, 0.75) AS p75
FROM v
GROUP BY GROUPING SETS ((program_id, q, measure), (q, measure))
ORDER BY program_id, period, measure;

COMMENT ON TABLE kpi_distributions IS 'Quarterly distributions of the access and satisfaction values (kpi_values) per program and for ALL programs: n, mean, standard deviation, quartiles. The shares within the access target, the satisfaction response and the share satisfied are rows of kpis.';
COMMENT ON COLUMN kpi_distributions.program_id IS 'Program, or ALL for all programs together.';
COMMENT ON COLUMN kpi_distributions.period IS 'Calendar quarter of the admission (access) or discharge (satisfaction), for example 2026Q3.';
COMMENT ON COLUMN kpi_distributions.measure IS 'days_referral_to_admission (days from episodes.referral_date to admission, episodes admitted in the quarter with a referral date), days_to_first_session (days from admission to the first attended session, episodes admitted in the quarter that attended one by discharge or the cutoff) or csq8_score (CSQ-8 total 8-32, episodes discharged in the quarter, not died, with a score).';
COMMENT ON COLUMN kpi_distributions.n IS 'Episodes with a value: the n of the mean and quartiles.';
COMMENT ON COLUMN kpi_distributions.n_missing IS 'Episodes the measure is taken over that have no value: no referral date, no attended session yet, or no CSQ-8 score (non-response).';
COMMENT ON COLUMN kpi_distributions.mean IS 'Mean value (days, or CSQ-8 points); null when n is 0.';
COMMENT ON COLUMN kpi_distributions.sd IS 'Sample standard deviation; null when n is below 2.';
COMMENT ON COLUMN kpi_distributions.p25 IS 'First quartile (interpolated, R type 7); null when n is 0.';
COMMENT ON COLUMN kpi_distributions.median IS 'Median; null when n is 0.';
COMMENT ON COLUMN kpi_distributions.p75 IS 'Third quartile (interpolated, R type 7); null when n is 0.';
