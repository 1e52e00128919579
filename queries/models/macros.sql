-- macros: what every model reads its parameters through. The table
-- analysis_parameters (name, value) is written by the models runner before the
-- models run; these temporary macros exist only on the runner's connection.
CREATE OR REPLACE TEMP MACRO param(n) AS (SELECT value FROM analysis_parameters WHERE name = n);
CREATE OR REPLACE TEMP MACRO param_date(n) AS CAST(param(n) AS DATE);
CREATE OR REPLACE TEMP MACRO param_int(n) AS CAST(param(n) AS INTEGER);
-- relapse_substance: whether positives of a drug-screen measure count as use
-- (parameter relapse_substances, '|'-separated; empty: all but the prescribed
-- buprenorphine and methadone).
CREATE OR REPLACE TEMP MACRO relapse_substance(m) AS
    m LIKE 'uds\_%' ESCAPE '\' AND m <> 'uds_specimen'
    AND CASE WHEN coalesce(param('relapse_substances'), '') = ''
             THEN m NOT IN ('uds_buprenorphine', 'uds_methadone')
             ELSE list_contains(string_split(param('relapse_substances'), '|'), m) END;
-- band returns the label of the band a value falls in: edges are the lower edges
-- (ascending, the first one the smallest value) and labels one per edge, both as text
-- separated by '|'.
CREATE OR REPLACE TEMP MACRO band(v, edges, labels) AS
    string_split(labels, '|')[len(list_filter(list_transform(string_split(edges, '|'), x -> CAST(x AS DOUBLE)), x -> x <= v))];
-- z_95 and z_998 are the two-sided standard normal quantiles of the 95% and 99.8%
-- limits to double precision (R's qnorm(0.975) and qnorm(0.999)): rounded to 1.959964
-- and 3.090232 they move limits near 0 by up to 5e-5 relative.
CREATE OR REPLACE TEMP MACRO z_95() AS CAST(1.959963984540054 AS DOUBLE);
CREATE OR REPLACE TEMP MACRO z_998() AS CAST(3.090232306167813 AS DOUBLE);
-- wilson_lo and wilson_hi are the Wilson 95% score interval of k out of n.
CREATE OR REPLACE TEMP MACRO wilson_lo(k, n) AS CASE WHEN n > 0 THEN
    greatest(0, ((k / n) + z_95() ^ 2 / (2 * n) - z_95() * sqrt((k / n) * (1 - k / n) / n + z_95() ^ 2 / (4 * n * n))) / (1 + z_95() ^ 2 / n)) END;
CREATE OR REPLACE TEMP MACRO wilson_hi(k, n) AS CASE WHEN n > 0 THEN
    least(1, ((k / n) + z_95() ^ 2 / (2 * n) + z_95() * sqrt((k / n) * (1 - k / n) / n + z_95() ^ 2 / (4 * n * n))) / (1 + z_95() ^ 2 / n)) END;
