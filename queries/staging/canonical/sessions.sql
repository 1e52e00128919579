-- sessions: the canonical sessions.csv onto the sessions table. A session names its
-- episode, or its patient and date, in which case it is linked to the patient's
-- episode whose admission..discharge dates contain the date (README, The canonical export layout).
WITH s AS (
    SELECT
        r.*,
        r.episode_id AS eid,
        iso_date(r.session_date) AS sdate,
        r.patient_id AS pkey,
        r.clinician_id AS ckey
    FROM raw r
)
SELECT
    s.line,
    s.session_id AS session_id,
    e.episode_id,
    e.patient_key,
    s.sdate AS session_date,
    iso_time(s.start_time) AS start_time,
    st.code AS session_type,
    ss.code AS status,
    try_cast(s.minutes AS INTEGER) AS minutes,
    s.ckey AS clinician_key,
    concat_ws(chr(30),
        need('session_id', s.session_id),
        need('session_date', s.session_date),
        check_date('session_date', s.session_date),
        need('session_type', s.session_type),
        check_code('session_type', 'session_type', s.session_type, st.code),
        need('status', s.status),
        check_code('status', 'session_status', s.status, ss.code),
        check_int('minutes', s.minutes, 1, 1440),
        check_time('start_time', s.start_time),
        CASE WHEN s.eid IS NULL AND s.pkey IS NULL
             THEN problem('episode_id', NULL, 'missing_value',
                          'episode_id and patient_id are both empty; give the episode, or the patient so the session can be linked') END,
        CASE WHEN s.eid IS NOT NULL AND e.episode_id IS NULL
             THEN problem('episode_id', s.eid, 'unknown_episode',
                          'no episode with this episode_id has been loaded; include it in episodes.csv') END,
        CASE WHEN s.eid IS NULL AND s.pkey IS NOT NULL AND s.sdate IS NOT NULL AND l.patient_key IS NULL
             THEN problem('episode_id', NULL, 'unknown_episode',
                          'episode_id is empty and no episode of this patient contains session_date; give the episode_id') END,
        CASE WHEN l.candidates > 1
             THEN problem('episode_id', NULL, 'ambiguous_episode',
                          'episode_id is empty and more than one episode of this patient contains session_date; give the episode_id') END,
        CASE WHEN s.pkey IS NOT NULL AND e.patient_key IS NOT NULL AND s.pkey <> e.patient_key
             THEN problem('patient_id', s.pkey, 'patient_mismatch',
                          'patient_id differs from the patient of the episode; correct one of them') END,
        CASE WHEN s.sdate < e.admit_date OR s.sdate > e.discharge_date
             THEN problem('session_date', s.session_date, 'session_outside_episode',
                          'session_date is outside the episode''s admit_date..discharge_date; correct the date or the episode') END
    ) AS problems
FROM s
-- Only a row that names no episode meets a span (episode_spans, macros.sql): the
-- others probe with a NULL key, which matches nothing.
LEFT JOIN episode_spans() l
  ON l.patient_key = CASE WHEN s.eid IS NULL THEN s.pkey END
 AND s.sdate BETWEEN l.lo AND l.hi
LEFT JOIN episodes e ON e.episode_id = coalesce(s.eid, CASE WHEN l.candidates = 1 THEN l.episode_id END)
LEFT JOIN codes st ON st.domain = 'session_type' AND lower(st.code) = lower(s.session_type)
LEFT JOIN codes ss ON ss.domain = 'session_status' AND lower(ss.code) = lower(s.status)
