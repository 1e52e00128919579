-- randomization (one row per person and randomization) onto episodes. A randomized
-- person's treatment is an episode in the program of their arm, admitted on the day of
-- randomization. In CTN-0027 and CTN-0051 the second randomization row repeats the
-- first: it gives the same episode and counts as a duplicate. In CTN-0030 it is the
-- phase-2 randomization: a second episode, which ends the first.
--
-- The planned length is the arm's weeks on medication in that phase
-- (meta_study_length). An episode lasts to the end of its planned length, or to the
-- last dose or attended weekly visit when later (and never into the next episode),
-- so that the trial's weekly visits and screens of the whole treatment period belong
-- to it, as they did in the trial's intention-to-treat analysis. Its reason is
-- completed when the person was on medication in the last planned week, else
-- dropped_out; an extended-release naltrexone injection covers 28 days, other doses
-- their day. on_medication says whether the person ever started medication in it.
WITH r AS (
    SELECT s.line, s.who, s.treatment,
           CASE WHEN m.project = '30' THEN s.which ELSE '1' END AS phase,
           try_cast(s."when" AS INTEGER) AS day,
           m.project,
           s."when" AS when_text
    FROM source s
    LEFT JOIN (SELECT DISTINCT project, treatment FROM lookup_meta_study_length) m USING (treatment)
),
planned AS (
    SELECT project, treatment, phase, sum(try_cast(weeks AS INTEGER)) AS weeks
    FROM lookup_meta_study_length
    WHERE description <> 'Post-medication follow-up'
    GROUP BY ALL
),
next_episode AS (
    -- the day of the person's next randomization (CTN-0030 phase 2), if any
    SELECT a.line, min(b.day) AS next_day
    FROM r a JOIN r b ON a.who = b.who AND b.phase > a.phase AND b.day IS NOT NULL
    GROUP BY a.line
),
doses AS (
    SELECT who, try_cast("when" AS INTEGER) AS day FROM lookup_treatment
),
visits AS (
    SELECT who, try_cast("when" AS INTEGER) AS day FROM lookup_derived_visitimputed WHERE visitimputed = 'Present'
),
ep AS (
    SELECT r.*, p.weeks, n.next_day,
           r.day + 7 * p.weeks - 1 AS planned_end,
           coalesce(n.next_day - 1, 2147483647) AS limit_day,
           CASE WHEN r.treatment = 'Inpatient NR-NTX' THEN 28 ELSE 1 END AS cover
    FROM r
    LEFT JOIN planned p USING (project, treatment, phase)
    LEFT JOIN next_episode n USING (line)
),
contact AS (
    SELECT e.line,
           max(d.day) AS last_dose,
           max(d.day + e.cover - 1) AS covered_to
    FROM ep e JOIN doses d ON d.who = e.who AND d.day BETWEEN e.day AND e.limit_day
    GROUP BY e.line
),
seen AS (
    SELECT e.line, max(v.day) AS last_visit
    FROM ep e JOIN visits v ON v.who = e.who AND v.day BETWEEN e.day AND e.limit_day
    GROUP BY e.line
)
SELECT
    e.line,
    'R' || e.phase || '-' || left(pk.key, 20) AS episode_id,
    e.who AS patient_id,
    CASE WHEN e.project IS NOT NULL THEN 'CTN' || e.project || ': ' || e.treatment ELSE e.treatment END AS program_id,
    e.when_text AS admit_date,
    least(greatest(e.planned_end, c.last_dose, v.last_visit), e.limit_day) AS discharge_date,
    CASE WHEN e.planned_end IS NULL THEN NULL
         WHEN c.covered_to >= e.day + 7 * (e.weeks - 1) THEN 'completed'
         ELSE 'dropped_out' END AS discharge_reason,
    'opioids' AS primary_substance,
    NULL AS co_occurring,
    CASE WHEN c.last_dose IS NOT NULL THEN 'true' ELSE 'false' END AS on_medication,
    NULL AS referral_source,
    NULL AS referral_date
FROM ep e
LEFT JOIN pseudo pk ON pk.kind = 'patient' AND pk.id = e.who
LEFT JOIN contact c USING (line)
LEFT JOIN seen v USING (line)
