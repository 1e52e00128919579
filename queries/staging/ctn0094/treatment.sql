-- treatment (one day on which study medication was given) onto sessions: an attended
-- medication-management session, linked to the person's episode whose dates contain
-- it. Two rows of one person and day are one session.
SELECT
    s.line,
    'D-' || left(pk.key, 20) || '-' || s."when" AS session_id,
    NULL AS episode_id,
    s.who AS patient_id,
    s."when" AS session_date,
    NULL AS start_time,
    'medication_management' AS session_type,
    'attended' AS status,
    NULL AS minutes,
    NULL AS clinician_id
FROM source s
LEFT JOIN pseudo pk ON pk.kind = 'patient' AND pk.id = s.who
