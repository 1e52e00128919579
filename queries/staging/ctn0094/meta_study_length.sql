-- meta_study_length (one row per trial, arm, phase and stage) onto programs: a program
-- is a trial arm. Every row of an arm gives the same program, so the arm loads once
-- and its other rows count as duplicates. The planned length is the arm's first-phase
-- weeks on medication (stages other than post-medication follow-up).
SELECT
    s.line,
    'CTN' || s.project || ': ' || s.treatment AS program_id,
    s.treatment || ' (CTN-' || lpad(s.project, 4, '0') || ')' AS name,
    'CTN-' || lpad(s.project, 4, '0') AS site,
    'OP' AS level_of_care,
    sum(try_cast(s.weeks AS INTEGER)) FILTER (WHERE s.phase = '1' AND s.description <> 'Post-medication follow-up')
        OVER (PARTITION BY s.project, s.treatment) AS planned_weeks,
    NULL AS planned_hours_per_week
FROM source s
