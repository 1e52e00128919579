-- episode_outcomes: one row per episode admitted by the cutoff, with the measures of
-- docs/methods.md. Reads episode_weeks, relapse_events and the parameters cutoff,
-- landmark_days, dose_bands, hours_bands, relapse_definition and missing_policy
-- (relapse_events already reads only the outcome window). The access, symptom and
-- satisfaction columns feed the measures of kpi_facts and kpi_values.
-- A session-level model: DuckDB and Spark both run this file (see 0010).
{{create "episode_outcomes"}}
-- Episodes are numbered (ep_no) so that the sums over sessions and scores are keyed
-- by a number, which is faster than by the episode's text key.
WITH e AS (
    SELECT e.*, row_number() OVER (ORDER BY e.episode_id) AS ep_no,
           least(coalesce(e.discharge_date, {{cutoff}}), {{cutoff}}) AS end_date,
           e.discharge_date IS NOT NULL AND e.discharge_date <= {{cutoff}} AS discharged
    FROM episodes e
    WHERE e.admit_date <= {{cutoff}}
),
s AS (
    SELECT e.ep_no,
           {{days "e.admit_date" "s.session_date"}} AS day,
           s.status = 'attended' AS attended,
           s.status IN ('attended', 'no_show', 'cancelled_by_patient') AS expected,
           s.minutes
    FROM sessions s
    JOIN e USING (episode_id)
    WHERE s.session_date BETWEEN e.admit_date AND e.end_date
),
sx AS (
    SELECT ep_no,
           count(*) AS scheduled_sessions,
           count(*) FILTER (WHERE attended) AS attended_sessions,
           count(*) FILTER (WHERE expected) AS expected_sessions,
           coalesce(sum(minutes) FILTER (WHERE attended), 0) / {{double 60}} AS attended_hours,
           max(day) FILTER (WHERE attended) AS last_attended_day,
           min(day) FILTER (WHERE attended) AS first_attended_day,
           min(day) FILTER (WHERE attended AND day <= 13) AS initiation_day,
           count(*) FILTER (WHERE attended AND day < {{landmarkDays}}) AS landmark_attended,
           coalesce(sum(minutes) FILTER (WHERE attended AND day < {{landmarkDays}}), 0) / {{double 60}} AS landmark_hours
    FROM s
    GROUP BY ep_no
),
engagement AS (
    SELECT s.ep_no, count(*) AS further
    FROM s JOIN sx USING (ep_no)
    WHERE s.attended AND s.day > sx.initiation_day AND s.day <= sx.initiation_day + 34
    GROUP BY s.ep_no
),
scores AS (
    SELECT e.ep_no, o.measure,
           min_by(o.value_num, o.obs_date) FILTER (WHERE {{days "e.admit_date" "o.obs_date"}} BETWEEN 0 AND 14) AS baseline,
           min(o.obs_date) FILTER (WHERE {{days "e.admit_date" "o.obs_date"}} BETWEEN 0 AND 14) AS baseline_date,
           max_by(o.value_num, o.obs_date) FILTER (WHERE o.obs_date BETWEEN e.admit_date AND e.end_date) AS last,
           max(o.obs_date) FILTER (WHERE o.obs_date BETWEEN e.admit_date AND e.end_date) AS last_date,
           count(*) FILTER (WHERE o.obs_date BETWEEN e.admit_date AND e.end_date) AS n_scores
    FROM observations o
    JOIN e USING (episode_id)
    WHERE o.measure IN ('phq9', 'gad7')
    GROUP BY e.ep_no, o.measure
),
-- The CSQ-8 is often given at discharge or mailed soon after: the last score of the
-- episode from admission to 30 days after discharge (or the cutoff) counts.
satisfaction AS (
    SELECT e.ep_no, max_by(o.value_num, o.obs_date) AS csq8_score
    FROM observations o
    JOIN e USING (episode_id)
    WHERE o.measure = 'csq8'
      AND o.obs_date BETWEEN e.admit_date
          AND least(CASE WHEN e.discharged THEN {{addDays "e.discharge_date" "30"}} ELSE {{cutoff}} END, {{cutoff}})
    GROUP BY e.ep_no
),
readmit AS (
    SELECT a.episode_id,
           bool_or(b.admit_date > a.discharge_date AND b.admit_date <= {{addDays "a.discharge_date" "30"}}) AS within30,
           bool_or(b.admit_date > a.discharge_date AND b.admit_date <= {{addDays "a.discharge_date" "90"}}) AS within90
    FROM e a
    JOIN episodes b ON b.patient_key = a.patient_key AND b.episode_id <> a.episode_id
    WHERE a.discharged
    GROUP BY a.episode_id
),
rel AS (
    SELECT episode_id, event, week, censor_week
    FROM relapse_events
    WHERE definition = {{relapseDefinition}} AND missing_policy = {{missingPolicy}}
),
screen_dropout AS (
    SELECT episode_id, week FROM relapse_events WHERE definition = 'dropout_4_missing' AND event
),
base AS (
    SELECT
        e.episode_id, e.patient_key, e.program_id, e.admit_date,
        CASE WHEN e.discharged THEN e.discharge_date END AS discharge_date,
        CASE WHEN e.discharged THEN e.discharge_reason END AS discharge_reason,
        {{days "e.admit_date" "e.end_date"}} AS los_days,
        sx.last_attended_day,
        sx.first_attended_day,
        {{days "e.referral_date" "e.admit_date"}} AS days_referral_to_admission,
        coalesce(sx.scheduled_sessions, 0) AS scheduled_sessions,
        coalesce(sx.attended_sessions, 0) AS attended_sessions,
        coalesce(sx.expected_sessions, 0) AS expected_sessions,
        coalesce(sx.attended_sessions, 0) / nullif(sx.expected_sessions, 0) AS attendance_rate,
        coalesce(sx.attended_sessions, 0) / greatest({{double 1}}, ({{days "e.admit_date" "e.end_date"}} + 1) / {{double 7}}) AS sessions_per_week,
        coalesce(sx.attended_hours, 0) / greatest({{double 1}}, ({{days "e.admit_date" "e.end_date"}} + 1) / {{double 7}}) AS hours_per_week,
        coalesce(sx.landmark_attended, 0) / ({{landmarkDays}} / {{double 7}}) AS landmark_sessions_per_week,
        coalesce(sx.landmark_hours, 0) / ({{landmarkDays}} / {{double 7}}) AS landmark_hours_per_week,
        sx.initiation_day IS NOT NULL AS initiated,
        coalesce(g.further, 0) >= 2 AS engaged,
        e.discharged AND e.discharge_reason IN ('dropped_out', 'terminated') AS dropout_event,
        e.discharged, e.primary_substance, e.co_occurring, e.on_medication,
        rel.event AS relapse_event, rel.week AS relapse_week, rel.censor_week AS relapse_censor_week,
        sd.week AS screen_dropout_week,
        CASE WHEN e.discharged AND {{addDays "e.discharge_date" "30"}} <= {{cutoff}} THEN coalesce(r.within30, false) END AS readmit_30,
        CASE WHEN e.discharged AND {{addDays "e.discharge_date" "90"}} <= {{cutoff}} THEN coalesce(r.within90, false) END AS readmit_90,
        p9.baseline AS phq9_baseline,
        CASE WHEN p9.last_date > p9.baseline_date THEN p9.last END AS phq9_last,
        g7.baseline AS gad7_baseline,
        CASE WHEN g7.last_date > g7.baseline_date THEN g7.last END AS gad7_last,
        coalesce(p9.n_scores, 0) AS phq9_scores,
        coalesce(g7.n_scores, 0) AS gad7_scores,
        sat.csq8_score,
        year(e.admit_date) - pt.birth_year AS age_at_admission
    FROM e
    LEFT JOIN sx USING (ep_no)
    LEFT JOIN engagement g USING (ep_no)
    LEFT JOIN rel USING (episode_id)
    LEFT JOIN screen_dropout sd USING (episode_id)
    LEFT JOIN readmit r USING (episode_id)
    LEFT JOIN satisfaction sat USING (ep_no)
    LEFT JOIN scores p9 ON p9.ep_no = e.ep_no AND p9.measure = 'phq9'
    LEFT JOIN scores g7 ON g7.ep_no = e.ep_no AND g7.measure = 'gad7'
    LEFT JOIN patients pt ON pt.patient_key = e.patient_key
)
SELECT
    b.episode_id, b.patient_key, b.program_id, b.admit_date, b.discharge_date,
    b.discharge_reason, b.los_days, b.last_attended_day, b.first_attended_day,
    b.days_referral_to_admission, b.scheduled_sessions, b.attended_sessions,
    b.expected_sessions, b.attendance_rate, b.sessions_per_week, b.hours_per_week,
    b.landmark_sessions_per_week, b.landmark_hours_per_week, b.initiated, b.engaged,
    b.dropout_event, b.primary_substance, b.co_occurring, b.on_medication, b.relapse_event,
    b.relapse_week, b.relapse_censor_week, b.screen_dropout_week, b.readmit_30,
    b.readmit_90, b.phq9_baseline, b.phq9_last, b.gad7_baseline, b.gad7_last,
    b.phq9_scores, b.gad7_scores, b.csq8_score,
    CASE WHEN b.dropout_event THEN coalesce(b.last_attended_day, 0) END AS dropout_day,
    -- Retention time: to the last attended session; active episodes to the cutoff.
    CASE WHEN b.discharged THEN coalesce(b.last_attended_day, 0) ELSE b.los_days END AS retention_days,
    {{band "b.landmark_sessions_per_week" "dose"}} AS dose_band,
    {{band "b.landmark_hours_per_week" "hours"}} AS asam_band,
    b.phq9_baseline - b.phq9_last >= 6 AS phq9_reliable_improvement,
    -- A drop of half needs a score to drop from: a baseline of 0 has no response.
    CASE WHEN b.phq9_baseline > 0 THEN b.phq9_last <= b.phq9_baseline / 2 END AS phq9_response,
    CASE WHEN b.phq9_baseline > 9 THEN b.phq9_last < 5 END AS phq9_remission,
    b.gad7_baseline - b.gad7_last >= 4 AS gad7_reliable_improvement,
    CASE WHEN b.gad7_baseline > 0 THEN b.gad7_last <= b.gad7_baseline / 2 END AS gad7_response,
    CASE WHEN b.gad7_baseline >= 10 THEN b.gad7_last < 5 END AS gad7_remission,
    {{addDays "b.admit_date" (printf "%d" landmarkDays)}} <= {{cutoff}}
        AND (CASE WHEN b.discharged THEN coalesce(b.last_attended_day, 0) ELSE b.los_days END) >= {{landmarkDays}}
        AS in_landmark_cohort,
    CASE WHEN b.age_at_admission IS NULL THEN NULL
         WHEN b.age_at_admission < 18 THEN 'under 18'
         WHEN b.age_at_admission < 26 THEN '18-25'
         WHEN b.age_at_admission < 35 THEN '26-34'
         WHEN b.age_at_admission < 50 THEN '35-49'
         WHEN b.age_at_admission < 65 THEN '50-64'
         ELSE '65+' END AS age_band
FROM base b
{{orderBy "b.episode_id"}};

COMMENT ON TABLE episode_outcomes IS 'One row per episode admitted by the cutoff, with its measures (docs/methods.md). Time is in days from admission (day 0).';
COMMENT ON COLUMN episode_outcomes.episode_id IS 'The episode (episodes.episode_id).';
COMMENT ON COLUMN episode_outcomes.patient_key IS 'Pseudonymous patient.';
COMMENT ON COLUMN episode_outcomes.program_id IS 'Program of the episode.';
COMMENT ON COLUMN episode_outcomes.admit_date IS 'Admission date (day 0).';
COMMENT ON COLUMN episode_outcomes.discharge_date IS 'Discharge date; null when active at the cutoff.';
COMMENT ON COLUMN episode_outcomes.discharge_reason IS 'Discharge reason; null when active at the cutoff.';
COMMENT ON COLUMN episode_outcomes.los_days IS 'Length of stay: days from admission to discharge, or to the cutoff while active.';
COMMENT ON COLUMN episode_outcomes.last_attended_day IS 'Day of the last attended session; null when none was attended.';
COMMENT ON COLUMN episode_outcomes.scheduled_sessions IS 'Sessions scheduled in the episode, any status.';
COMMENT ON COLUMN episode_outcomes.attended_sessions IS 'Sessions attended.';
COMMENT ON COLUMN episode_outcomes.expected_sessions IS 'Attended + no-show + cancelled by the patient: the attendance-rate denominator.';
COMMENT ON COLUMN episode_outcomes.attendance_rate IS 'attended_sessions / expected_sessions; program cancellations and excused absences are not counted against the patient.';
COMMENT ON COLUMN episode_outcomes.sessions_per_week IS 'Attended sessions per week in treatment (los_days + 1 days, at least one week).';
COMMENT ON COLUMN episode_outcomes.hours_per_week IS 'Attended hours per week in treatment.';
COMMENT ON COLUMN episode_outcomes.landmark_sessions_per_week IS 'Dose: attended sessions per week in days 0 to landmark_days - 1 (the landmark exposure).';
COMMENT ON COLUMN episode_outcomes.landmark_hours_per_week IS 'Attended hours per week in days 0 to landmark_days - 1.';
COMMENT ON COLUMN episode_outcomes.initiated IS 'Initiation (after HEDIS IET): an attended session on days 0-13.';
COMMENT ON COLUMN episode_outcomes.engaged IS 'Engagement: at least 2 further attended sessions within 34 days after the initiation session.';
COMMENT ON COLUMN episode_outcomes.dropout_event IS 'Discharged as dropped_out or terminated.';
COMMENT ON COLUMN episode_outcomes.primary_substance IS 'Primary substance at admission.';
COMMENT ON COLUMN episode_outcomes.co_occurring IS 'Co-occurring mental health disorder.';
COMMENT ON COLUMN episode_outcomes.on_medication IS 'On MOUD / MAUD.';
COMMENT ON COLUMN episode_outcomes.relapse_event IS 'Relapse under the default definition and missing-test policy (analysis_parameters relapse_definition, missing_policy), within the outcome window (outcome_window_weeks; 0: the whole episode).';
COMMENT ON COLUMN episode_outcomes.relapse_week IS 'Treatment week of the relapse under the default definition (for a run of k weeks, its first week); null without relapse.';
COMMENT ON COLUMN episode_outcomes.relapse_censor_week IS 'Without relapse: the last week a relapse under the default definition could still have been seen to start (relapse_events.censor_week: for a run of k weeks, the last observed week - k + 1), where the relapse curves and models censor the episode, at day 7(w-1), never at discharge. Null with a relapse, and when the episode had fewer observed weeks than the run needs (no time at risk: left out of the relapse models).';
COMMENT ON COLUMN episode_outcomes.screen_dropout_week IS 'Dropout in the drug-screen vocabulary: the first of 4 consecutive weeks with a missing screen, within the outcome window; null when none.';
COMMENT ON COLUMN episode_outcomes.readmit_30 IS 'A new episode of the same patient admitted within 30 days after discharge; null when not discharged at least 30 days before the cutoff.';
COMMENT ON COLUMN episode_outcomes.readmit_90 IS 'The same within 90 days.';
COMMENT ON COLUMN episode_outcomes.phq9_baseline IS 'First PHQ-9 score in days 0-14.';
COMMENT ON COLUMN episode_outcomes.phq9_last IS 'Last PHQ-9 score up to discharge (or the cutoff), when later than the baseline.';
COMMENT ON COLUMN episode_outcomes.gad7_baseline IS 'First GAD-7 score in days 0-14.';
COMMENT ON COLUMN episode_outcomes.gad7_last IS 'Last GAD-7 score up to discharge (or the cutoff), when later than the baseline.';
COMMENT ON COLUMN episode_outcomes.dropout_day IS 'Time to dropout: the day of the last attended session (0 when none); null when not a dropout.';
COMMENT ON COLUMN episode_outcomes.retention_days IS 'Retention time: days to the last attended session, for dropouts the event time and otherwise censored; active episodes are censored at the cutoff.';
COMMENT ON COLUMN episode_outcomes.dose_band IS 'Band of landmark_sessions_per_week (analysis_parameters dose_band_labels).';
COMMENT ON COLUMN episode_outcomes.asam_band IS 'Band of landmark_hours_per_week against the ASAM bands (analysis_parameters hours_band_labels).';
COMMENT ON COLUMN episode_outcomes.phq9_reliable_improvement IS 'PHQ-9 dropped by at least 6 points from baseline to last.';
COMMENT ON COLUMN episode_outcomes.gad7_reliable_improvement IS 'GAD-7 dropped by at least 4 points from baseline to last.';
COMMENT ON COLUMN episode_outcomes.phq9_response IS 'PHQ-9 response: the last score is at most half the baseline (a drop of at least 50%); null without a baseline above 0 and a later score.';
COMMENT ON COLUMN episode_outcomes.phq9_remission IS 'PHQ-9 remission: last score below 5, among episodes whose baseline was above 9 (null otherwise).';
COMMENT ON COLUMN episode_outcomes.gad7_response IS 'GAD-7 response: the last score is at most half the baseline; null without a baseline above 0 and a later score.';
COMMENT ON COLUMN episode_outcomes.gad7_remission IS 'GAD-7 remission: last score below 5, among episodes whose baseline was 10 or more (null otherwise).';
COMMENT ON COLUMN episode_outcomes.first_attended_day IS 'Access: day of the first attended session (days from admission to it); null when none was attended by discharge or the cutoff.';
COMMENT ON COLUMN episode_outcomes.days_referral_to_admission IS 'Access: days from the referral (episodes.referral_date) to admission; null when the export gave no referral date.';
COMMENT ON COLUMN episode_outcomes.phq9_scores IS 'PHQ-9 scores recorded from admission to discharge (or the cutoff); 0 when the instrument was not used.';
COMMENT ON COLUMN episode_outcomes.gad7_scores IS 'GAD-7 scores recorded from admission to discharge (or the cutoff); 0 when the instrument was not used.';
COMMENT ON COLUMN episode_outcomes.csq8_score IS 'Satisfaction: the last CSQ-8 total (8-32, higher is more satisfied) recorded for the episode from admission to 30 days after discharge (or the cutoff); null when none.';
COMMENT ON COLUMN episode_outcomes.in_landmark_cohort IS 'Admitted at least landmark_days before the cutoff and still in treatment at day landmark_days (retention_days >= landmark_days).';
COMMENT ON COLUMN episode_outcomes.age_band IS 'Age at admission (admission year - birth year) in bands; 65+ covers every age above 64, so no age over 89 is shown.';
