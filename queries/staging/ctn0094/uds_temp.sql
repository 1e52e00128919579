-- uds_temp (one urine specimen collected on a day) onto observations: uds_specimen
-- collected. Its positive results come from uds; a collected specimen with no
-- positive result for a substance is negative for it (the models read it so).
SELECT
    s.line,
    s.who AS patient_id,
    NULL AS episode_id,
    s."when" AS obs_date,
    'uds_specimen' AS measure,
    'collected' AS value,
    NULL AS unit
FROM source s
