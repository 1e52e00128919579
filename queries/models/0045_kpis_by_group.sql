-- kpis_by_group: the measures of kpis broken down by the patient's sex, race,
-- ethnicity, payer and age band at admission (equity), per quarter, per program and
-- for all programs ('ALL'): the sums of the facts of kpi_quarter_facts (0035) by the
-- episode's combination of groups, which 0040 made for kpis (kpi_group_facts), added
-- up over each attribute's groups, with the census. Every
-- group of an attribute has a row for every measure kpis has, a group with no episode
-- too (numerator 0, denominator 0, no rate), so that a group's absence is shown, not
-- hidden. The groups are the codes of each domain (table codes) and the age bands of
-- episode_outcomes, each with 'unknown' for a value not recorded. Retention rows are
-- replaced by the Kaplan-Meier estimate, as in kpis (pipeline/models retentionKPIs).
CREATE OR REPLACE TABLE kpis_by_group AS
WITH attrs AS (
    SELECT combo, 'sex' AS attribute, sex AS value FROM kpi_group_combos
    UNION ALL SELECT combo, 'race', race FROM kpi_group_combos
    UNION ALL SELECT combo, 'ethnicity', ethnicity FROM kpi_group_combos
    UNION ALL SELECT combo, 'payer', payer FROM kpi_group_combos
    UNION ALL SELECT combo, 'age_band', age_band FROM kpi_group_combos
),
levels AS (
    SELECT domain AS attribute, code AS value FROM codes WHERE domain IN ('sex', 'race', 'ethnicity', 'payer')
    UNION
    -- The bands of episode_outcomes.age_band.
    SELECT 'age_band', b FROM (VALUES ('under 18'), ('18-25'), ('26-34'), ('35-49'), ('50-64'), ('65+'), ('unknown')) v(b)
    UNION
    SELECT DISTINCT attribute, value FROM attrs
),
sums AS (
    SELECT
        coalesce(f.program_id, 'ALL') AS program_id,
        strftime(f.q, '%Y') || 'Q' || quarter(f.q) AS period,
        f.measure, a.attribute, a.value,
        sum(f.num) AS numerator,
        sum(f.den) AS denominator
    FROM kpi_group_facts f JOIN attrs a USING (combo)
    GROUP BY GROUPING SETS ((f.program_id, f.q, f.measure, a.attribute, a.value), (f.q, f.measure, a.attribute, a.value))
)
SELECT
    k.program_id, k.period, l.attribute, l.value, k.measure,
    coalesce(s.numerator, 0) AS numerator,
    CASE WHEN k.denominator IS NOT NULL THEN coalesce(s.denominator, 0) END AS denominator,
    s.numerator / nullif(s.denominator, 0) AS rate,
    CASE WHEN k.denominator IS NOT NULL THEN wilson_lo(s.numerator, s.denominator) END AS lower,
    CASE WHEN k.denominator IS NOT NULL THEN wilson_hi(s.numerator, s.denominator) END AS upper
FROM kpis k
JOIN levels l ON true
LEFT JOIN sums s ON s.program_id = k.program_id AND s.period = k.period AND s.measure = k.measure
                AND s.attribute = l.attribute AND s.value = l.value
ORDER BY k.program_id, k.period, l.attribute, l.value, k.measure;

DROP TABLE temp.kpi_group_facts;
DROP TABLE temp.kpi_group_combos;

COMMENT ON TABLE kpis_by_group IS 'The quarterly measures of kpis by sex, race, ethnicity, payer and age band (equity), per program and for ALL programs. The groups of one attribute add up to the row of kpis (numerator and denominator). Every group of an attribute has a row for every measure of kpis, a group with no episode too (numerator 0, denominator 0, rate null).';
COMMENT ON COLUMN kpis_by_group.program_id IS 'Program, or ALL for all programs together.';
COMMENT ON COLUMN kpis_by_group.period IS 'Calendar quarter, for example 2026Q3.';
COMMENT ON COLUMN kpis_by_group.attribute IS 'What the episodes are grouped by: sex, race, ethnicity, payer (patients) or age_band (age at admission, episode_outcomes.age_band).';
COMMENT ON COLUMN kpis_by_group.value IS 'The group: a code of the attribute''s domain (codes), or an age band; unknown when not recorded.';
COMMENT ON COLUMN kpis_by_group.measure IS 'The measure, as kpis.measure.';
COMMENT ON COLUMN kpis_by_group.numerator IS 'Episodes (or sessions, for attendance_rate) of the group that meet the measure; 0 for a group with none.';
COMMENT ON COLUMN kpis_by_group.denominator IS 'Episodes (or expected sessions) of the group the measure is taken over; 0 for a group with none; null for counts.';
COMMENT ON COLUMN kpis_by_group.rate IS 'numerator / denominator; null when the denominator is 0. For retention_N the Kaplan-Meier estimate among the group''s episodes, as in kpis.';
COMMENT ON COLUMN kpis_by_group.lower IS 'Lower limit of the Wilson 95% interval of the rate (log-log Kaplan-Meier limit for retention_N); null when the denominator is 0.';
COMMENT ON COLUMN kpis_by_group.upper IS 'Upper limit of the Wilson 95% interval of the rate; null when the denominator is 0.';
