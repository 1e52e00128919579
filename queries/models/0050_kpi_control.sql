-- kpi_control: run charts of statistical process control over the quarterly rates of
-- kpis, per program and for ALL: a p-chart of each measure with a denominator (every
-- rate of kpis is a share of episodes or sessions; none is a count per episode, so
-- there is no u-chart). The point of a quarter is its share numerator / denominator
-- (for retention_N the share not dropped out by day N, not the Kaplan-Meier estimate:
-- a p-chart is of binomial shares); the centre line is the pooled share over every
-- quarter, p = sum(numerator) / sum(denominator); the 3-sigma limits of quarter i are
-- p +- 3 sqrt(p (1 - p) / n_i), clamped to [0, 1]. Two rules (Western Electric / Nelson):
-- rule 1, a point outside the limits, and the run rule, 8 points in a row on one side of
-- the centre line (Western Electric's rule 4; a point on the line breaks the run),
-- which marks the 8th point of such a run and every later one of it. It is a view so
-- that it follows kpis after retention is replaced.
CREATE OR REPLACE VIEW kpi_control AS
WITH k AS (
    SELECT program_id, measure, period, numerator, denominator,
           numerator / denominator AS share
    FROM kpis
    WHERE denominator > 0
),
c AS (
    SELECT k.*,
           sum(numerator) OVER w / sum(denominator) OVER w AS centre
    FROM k
    WINDOW w AS (PARTITION BY program_id, measure)
),
l AS (
    SELECT c.*,
           greatest(0, centre - 3 * sqrt(centre * (1 - centre) / denominator)) AS lower_limit,
           least(1, centre + 3 * sqrt(centre * (1 - centre) / denominator)) AS upper_limit,
           sign(share - centre) AS side
    FROM c
),
islands AS (
    -- Points in a row on one side share an island: the position among all points
    -- minus the position among the points of that side is constant along a run.
    SELECT l.*,
           row_number() OVER (PARTITION BY program_id, measure ORDER BY period)
           - row_number() OVER (PARTITION BY program_id, measure, side ORDER BY period) AS island
    FROM l
),
runs AS (
    SELECT islands.*,
           CASE WHEN side = 0 THEN 0
                ELSE row_number() OVER (PARTITION BY program_id, measure, side, island ORDER BY period) END AS run_length
    FROM islands
)
SELECT program_id, measure, period, numerator, denominator, share, centre, lower_limit, upper_limit,
       share < lower_limit OR share > upper_limit AS outside_limits,
       run_length AS run_length,
       run_length >= 8 AS run_of_8
FROM runs
ORDER BY program_id, measure, period;

COMMENT ON VIEW kpi_control IS 'Run charts (p-charts) of the quarterly rates of kpis, per program and for ALL: each quarter''s share with the centre line (the share pooled over every quarter) and its 3-sigma limits, the points outside the limits (rule 1) and those 8 or more in a row on one side of the centre line (the run rule) marked.';
COMMENT ON COLUMN kpi_control.program_id IS 'Program, or ALL for all programs together.';
COMMENT ON COLUMN kpi_control.measure IS 'The measure (kpis.measure), one with a denominator.';
COMMENT ON COLUMN kpi_control.period IS 'Calendar quarter, for example 2026Q3.';
COMMENT ON COLUMN kpi_control.numerator IS 'kpis.numerator of the quarter.';
COMMENT ON COLUMN kpi_control.denominator IS 'kpis.denominator of the quarter (n_i); quarters with none are left out.';
COMMENT ON COLUMN kpi_control.share IS 'The point: numerator / denominator (for retention_N the share not dropped out by day N, not the Kaplan-Meier estimate).';
COMMENT ON COLUMN kpi_control.centre IS 'Centre line: sum of the numerators / sum of the denominators over every quarter of the program and measure.';
COMMENT ON COLUMN kpi_control.lower_limit IS 'Lower 3-sigma control limit of the quarter: centre - 3 sqrt(centre (1 - centre) / denominator), at least 0.';
COMMENT ON COLUMN kpi_control.upper_limit IS 'Upper 3-sigma control limit of the quarter: centre + 3 sqrt(centre (1 - centre) / denominator), at most 1.';
COMMENT ON COLUMN kpi_control.outside_limits IS 'Rule 1 (Western Electric, Nelson): the point lies outside its control limits, a signal of special-cause variation.';
COMMENT ON COLUMN kpi_control.run_length IS 'Points in a row, up to and including this one, on the same side of the centre line (0 for a point on the line).';
COMMENT ON COLUMN kpi_control.run_of_8 IS 'Run rule (Western Electric rule 4): this point is the 8th or a later point in a row on one side of the centre line, a sustained shift.';
