-- tlfb (one day of self-reported use of one substance, timeline follow-back) onto
-- observations: self_report_use_days 1 on that day, whatever the substance. Several
-- substances reported for one day are one observation.
SELECT
    s.line,
    s.who AS patient_id,
    NULL AS episode_id,
    s."when" AS obs_date,
    'self_report_use_days' AS measure,
    '1' AS value,
    'days' AS unit
FROM source s
