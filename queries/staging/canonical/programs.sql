-- programs: the canonical programs.csv onto the programs table.
-- Reads the view raw (one VARCHAR column per layout column, trimmed, empty as NULL,
-- and line); returns the
-- core columns, line, and problems (see macros.sql; empty when the row loads).
SELECT
    r.line,
    r.program_id AS program_id,
    r.name AS name,
    r.site AS site,
    loc.code AS level_of_care,
    try_cast(r.planned_weeks AS INTEGER) AS planned_weeks,
    try_cast(r.planned_hours_per_week AS DOUBLE) AS planned_hours_per_week,
    concat_ws(chr(30),
        need('program_id', r.program_id),
        need('name', r.name),
        need('level_of_care', r.level_of_care),
        check_code('level_of_care', 'level_of_care', r.level_of_care, loc.code),
        check_int('planned_weeks', r.planned_weeks, 1, 260),
        check_num('planned_hours_per_week', r.planned_hours_per_week, 0, 80)
    ) AS problems
FROM raw r
LEFT JOIN codes loc ON loc.domain = 'level_of_care' AND lower(loc.code) = lower(r.level_of_care)
