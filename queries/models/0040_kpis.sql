-- kpis: quarterly measures per program and for all programs ('ALL'), each with its
-- numerator and denominator and a Wilson 95% interval for rates: the facts of the view
-- kpi_facts (0035) summed by quarter, and the census. A report for any other window of
-- dates sums the same facts over it.
-- The facts are read once for kpis and kpis_by_group (0045): summed up to the cutoff
-- by program, quarter, measure and the episode's combination of groups (sex, race,
-- ethnicity, payer, age band; unknown when not recorded), numbered in the temporary
-- table kpi_group_combos. The combinations are few (a few thousand), so the sums are
-- far fewer rows than the facts; kpis adds them up over the combinations, and
-- kpis_by_group over each attribute's groups. Both temporary tables are dropped by
-- 0045.
CREATE OR REPLACE TEMP TABLE kpi_episode_groups AS
SELECT o.episode_id, coalesce(pt.sex, 'unknown') AS sex, coalesce(pt.race, 'unknown') AS race,
       coalesce(pt.ethnicity, 'unknown') AS ethnicity, coalesce(pt.payer, 'unknown') AS payer,
       coalesce(o.age_band, 'unknown') AS age_band
FROM episode_outcomes o LEFT JOIN patients pt USING (patient_key);

CREATE OR REPLACE TEMP TABLE kpi_group_combos AS
SELECT row_number() OVER (ORDER BY sex, race, ethnicity, payer, age_band) AS combo, *
FROM (SELECT DISTINCT sex, race, ethnicity, payer, age_band FROM kpi_episode_groups);

CREATE OR REPLACE TEMP TABLE kpi_group_facts AS
WITH episode_combo AS (
    SELECT g.episode_id, c.combo
    FROM kpi_episode_groups g JOIN kpi_group_combos c USING (sex, race, ethnicity, payer, age_band)
)
SELECT f.program_id, f.q, f.measure, e.combo, sum(f.num) AS num, sum(f.den) AS den
FROM kpi_quarter_facts f JOIN episode_combo e USING (episode_id)
WHERE f.q <= param_date('cutoff')
GROUP BY f.program_id, f.q, f.measure, e.combo;

DROP TABLE temp.kpi_episode_groups;

CREATE OR REPLACE TABLE kpis AS
WITH facts AS (
    SELECT program_id, q, measure, num, den FROM kpi_group_facts
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
    GROUP BY GROUPING SETS ((program_id, q, measure), (q, measure))
)
-- Funnel-plot limits: around the rate of all programs, for a program's denominator,
-- by the normal approximation to the binomial at 95% (z_95) and 99.8% (z_998).
SELECT k.*,
       greatest(0, a.rate - z_95() * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_lower_95,
       least(1, a.rate + z_95() * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_upper_95,
       greatest(0, a.rate - z_998() * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_lower_998,
       least(1, a.rate + z_998() * sqrt(a.rate * (1 - a.rate) / k.denominator)) AS funnel_upper_998
FROM k
LEFT JOIN k a ON a.program_id = 'ALL' AND a.period = k.period AND a.measure = k.measure AND k.denominator > 0
ORDER BY k.program_id, k.period, k.measure;

COMMENT ON TABLE kpis IS 'Quarterly measures per program and for ALL programs. Counts (admissions, discharges, census) have no denominator; rates have numerator, denominator, rate and a Wilson 95% interval.';
COMMENT ON COLUMN kpis.program_id IS 'Program, or ALL for all programs together.';
COMMENT ON COLUMN kpis.period IS 'Calendar quarter, for example 2026Q3.';
COMMENT ON COLUMN kpis.measure IS 'admissions, discharges, census (episodes active at any time in the quarter), completion_rate, retention_30/60/90 (the Kaplan-Meier probability of not having dropped out by day N, among episodes admitted in the quarter at least N days before the cutoff; numerator: episodes that had not dropped out by day N; the rate is null when no episode was followed to day N), attendance_rate, initiation, engagement, relapse_rate, readmission_30/90, phq9_reliable_improvement, gad7_reliable_improvement; symptoms: phq9_response, phq9_remission, gad7_response, gad7_remission, phq9_measured, gad7_measured; follow-up after discharge: followup_contact_30/90/180 (the response rate: reached / due) and followup_abstinent_30/90/180 (among those reached, read beside the response); access: referral_within_target, first_session_within_target (access_target_days); satisfaction: satisfaction_response, satisfied (CSQ-8 of satisfied_min_score or more). The definitions are in docs/methods.md; medians and means are in kpi_distributions.';
COMMENT ON COLUMN kpis.numerator IS 'Episodes (or sessions, for attendance_rate) that meet the measure.';
COMMENT ON COLUMN kpis.denominator IS 'Episodes (or expected sessions) the measure is taken over; null for counts.';
COMMENT ON COLUMN kpis.rate IS 'numerator / denominator; for retention_N the Kaplan-Meier estimate, which counts episodes censored before day N (completed, transferred) as at risk until then rather than as retained.';
COMMENT ON COLUMN kpis.lower IS 'Lower limit of the Wilson 95% interval of the rate (log-log Kaplan-Meier limit for retention_N).';
COMMENT ON COLUMN kpis.upper IS 'Upper limit of the Wilson 95% interval of the rate.';
COMMENT ON COLUMN kpis.funnel_lower_95 IS 'Funnel plot: lower 95% limit around the rate of ALL programs for this denominator (normal approximation to the binomial); a program below it differs from the overall rate beyond chance.';
COMMENT ON COLUMN kpis.funnel_upper_95 IS 'Funnel plot: upper 95% limit around the rate of ALL programs for this denominator.';
COMMENT ON COLUMN kpis.funnel_lower_998 IS 'Funnel plot: lower 99.8% limit around the rate of ALL programs for this denominator.';
COMMENT ON COLUMN kpis.funnel_upper_998 IS 'Funnel plot: upper 99.8% limit around the rate of ALL programs for this denominator.';
