-- derived_visitImputed (one expected weekly research visit, every 7th day from
-- randomization) onto sessions: Present is attended, Missing a no-show. The session
-- is linked to the person's episode whose dates contain it.
SELECT
    s.line,
    'V-' || left(pk.key, 20) || '-' || s."when" AS session_id,
    NULL AS episode_id,
    s.who AS patient_id,
    s."when" AS session_date,
    NULL AS start_time,
    'other' AS session_type,
    CASE s.visitimputed WHEN 'Present' THEN 'attended' WHEN 'Missing' THEN 'no_show' ELSE s.visitimputed END AS status,
    NULL AS minutes,
    NULL AS clinician_id
FROM source s
LEFT JOIN pseudo pk ON pk.kind = 'patient' AND pk.id = s.who
