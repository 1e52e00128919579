-- episode_weeks: one row per episode and treatment week (week w covers days
-- 7(w-1)..7w-1 after admission), from week 1 to the week of discharge, or of the cutoff
-- while the episode is active. Reads the parameters cutoff, relapse_substances and
-- screens_expected.
--
-- A session-level model: DuckDB and Spark both run this file. It is written in the SQL
-- the two share; the calls in double braces write what each engine spells its own way
-- (pipeline/models/source.go), and put the parameters in as literals.
{{create "episode_weeks"}}
-- Episodes are numbered (ep_no, in episode order) so that the sums by week are
-- keyed by two numbers, which is faster than by the episode's text key.
WITH ep AS (
    SELECT row_number() OVER (ORDER BY e.episode_id) AS ep_no, e.episode_id, e.admit_date,
           least(coalesce(e.discharge_date, {{cutoff}}), {{cutoff}}) AS end_date
    FROM episodes e
    WHERE e.admit_date <= {{cutoff}}
),
weeks AS (
    SELECT ep.ep_no, ep.episode_id, ep.admit_date, ep.end_date,
           {{series (printf "%s + 1" (div (days "ep.admit_date" "ep.end_date") 7))}} AS week
    FROM ep
),
s AS (
    SELECT ep.ep_no,
           {{div (days "ep.admit_date" "s.session_date") 7}} + 1 AS week,
           count(*) AS scheduled,
           count(*) FILTER (WHERE s.status = 'attended') AS attended,
           count(*) FILTER (WHERE s.status IN ('attended', 'no_show', 'cancelled_by_patient')) AS expected,
           coalesce(sum(s.minutes) FILTER (WHERE s.status = 'attended'), 0) / {{double 60}} AS hours,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'individual') AS individual,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'group') AS "group",
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'family') AS family,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'peer_support') AS peer_support,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'medication_management') AS medication_management,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'psychoeducation') AS psychoeducation,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'case_management') AS case_management,
           count(*) FILTER (WHERE s.status = 'attended' AND s.session_type = 'other') AS other
    FROM sessions s
    JOIN ep USING (episode_id)
    WHERE s.session_date BETWEEN ep.admit_date AND ep.end_date
    GROUP BY ep.ep_no, week
),
-- A specimen is the screens of one episode on one day. Its results are those of the
-- relapse substances (parameter relapse_substances; by default all but buprenorphine
-- and methadone, which are prescribed medications, not use); a specimen recorded as
-- collected with no positive result among them is negative.
specimens AS (
    SELECT ep.ep_no,
           {{div (days "ep.admit_date" "o.obs_date") 7}} + 1 AS week,
           o.obs_date,
           count(*) FILTER (WHERE {{relapseSubstance "o.measure"}} OR (o.measure = 'uds_specimen' AND o.value = 'collected')) AS results,
           count(*) FILTER (WHERE {{relapseSubstance "o.measure"}} AND o.value = 'positive') AS positives,
           count(*) FILTER (WHERE o.measure = 'uds_specimen' AND o.value = 'missing') AS missing
    FROM observations o
    JOIN ep USING (episode_id)
    WHERE o.measure LIKE 'uds%' AND o.obs_date BETWEEN ep.admit_date AND ep.end_date
    GROUP BY ep.ep_no, week, o.obs_date
),
u AS (
    SELECT ep_no, week,
           count(*) FILTER (WHERE results > 0 AND positives > 0) AS positive_specimens,
           count(*) FILTER (WHERE results > 0 AND positives = 0) AS negative_specimens,
           count(*) FILTER (WHERE results = 0 AND missing > 0) AS missing_specimens
    FROM specimens
    GROUP BY ep_no, week
),
sr AS (
    SELECT ep.ep_no,
           {{div (days "ep.admit_date" "o.obs_date") 7}} + 1 AS week,
           max(o.value_num) AS self_report_use_days
    FROM observations o
    JOIN ep USING (episode_id)
    WHERE o.measure = 'self_report_use_days' AND o.obs_date BETWEEN ep.admit_date AND ep.end_date
    GROUP BY ep.ep_no, week
)
SELECT
    w.episode_id,
    w.week,
    {{timestamp (addDays "w.admit_date" "(w.week - 1) * 7")}} AS week_start,
    coalesce(s.scheduled, 0) AS scheduled,
    coalesce(s.attended, 0) AS attended,
    coalesce(s.expected, 0) AS expected,
    coalesce(s.hours, 0) AS hours,
    coalesce(s.individual, 0) AS individual,
    coalesce(s."group", 0) AS "group",
    coalesce(s.family, 0) AS family,
    coalesce(s.peer_support, 0) AS peer_support,
    coalesce(s.medication_management, 0) AS medication_management,
    coalesce(s.psychoeducation, 0) AS psychoeducation,
    coalesce(s.case_management, 0) AS case_management,
    coalesce(s.other, 0) AS other,
    coalesce(u.positive_specimens, 0) AS positive_specimens,
    coalesce(u.negative_specimens, 0) AS negative_specimens,
    coalesce(u.missing_specimens, 0) AS missing_specimens,
    CASE WHEN u.positive_specimens > 0 AND u.negative_specimens > 0 THEN '*'
         WHEN u.positive_specimens > 0 THEN '+'
         WHEN u.negative_specimens > 0 THEN '-'
         WHEN u.missing_specimens > 0 THEN 'o'
         -- a trial's weekly schedule: every week without a screen is missing
         WHEN {{weeklyScreens}} THEN 'o'
         ELSE '_' END AS uds_symbol,
    sr.self_report_use_days
FROM weeks w
LEFT JOIN s USING (ep_no, week)
LEFT JOIN u USING (ep_no, week)
LEFT JOIN sr USING (ep_no, week)
{{orderBy "w.ep_no, w.week"}};

COMMENT ON TABLE episode_weeks IS 'One row per episode and treatment week (week w = days 7(w-1) to 7w-1 after admission), up to the week of discharge or of the cutoff.';
COMMENT ON COLUMN episode_weeks.episode_id IS 'The episode (episodes.episode_id).';
COMMENT ON COLUMN episode_weeks.week IS 'Treatment week, 1 = days 0-6 after admission.';
COMMENT ON COLUMN episode_weeks.week_start IS 'Date of the first day of the week.';
COMMENT ON COLUMN episode_weeks.scheduled IS 'Sessions scheduled in the week, any status.';
COMMENT ON COLUMN episode_weeks.attended IS 'Sessions attended in the week.';
COMMENT ON COLUMN episode_weeks.expected IS 'Sessions the patient was expected at: attended, no-show or cancelled by the patient (the attendance-rate denominator).';
COMMENT ON COLUMN episode_weeks.hours IS 'Hours of attended sessions in the week.';
COMMENT ON COLUMN episode_weeks.individual IS 'Attended individual therapy sessions.';
COMMENT ON COLUMN episode_weeks."group" IS 'Attended group therapy sessions.';
COMMENT ON COLUMN episode_weeks.family IS 'Attended family therapy sessions.';
COMMENT ON COLUMN episode_weeks.peer_support IS 'Attended 12-step or peer support sessions.';
COMMENT ON COLUMN episode_weeks.medication_management IS 'Attended medication management sessions.';
COMMENT ON COLUMN episode_weeks.psychoeducation IS 'Attended psychoeducation sessions.';
COMMENT ON COLUMN episode_weeks.case_management IS 'Attended case management sessions.';
COMMENT ON COLUMN episode_weeks.other IS 'Attended sessions of another type.';
COMMENT ON COLUMN episode_weeks.positive_specimens IS 'Drug-screen specimens (all screens of one day) with a positive result for a relapse substance (parameter relapse_substances; by default all but buprenorphine and methadone).';
COMMENT ON COLUMN episode_weeks.negative_specimens IS 'Drug-screen specimens with results for the relapse substances, or recorded as collected, none positive.';
COMMENT ON COLUMN episode_weeks.missing_specimens IS 'Days a specimen was expected and not given.';
COMMENT ON COLUMN episode_weeks.uds_symbol IS 'The week in one symbol: + all specimens positive, - all negative, * mixed, o expected but missing (a uds_specimen missing record, or no specimen when parameter screens_expected is weekly), _ none expected.';
COMMENT ON COLUMN episode_weeks.self_report_use_days IS 'Largest self-reported days of use recorded in the week (measure self_report_use_days); null when none.';
