-- uds (one substance found positive in a urine screen on a day) onto observations:
-- uds_<substance> positive. Sedatives are read as barbiturates and MDMA or
-- hallucinogens as other; two results of one day that map to the same measure are
-- one observation.
SELECT
    s.line,
    s.who AS patient_id,
    NULL AS episode_id,
    s."when" AS obs_date,
    CASE s.what
        WHEN 'Opioid' THEN 'uds_opioids'
        WHEN 'Methadone' THEN 'uds_methadone'
        WHEN 'Buprenorphine' THEN 'uds_buprenorphine'
        WHEN 'Cocaine' THEN 'uds_cocaine'
        WHEN 'Amphetamine' THEN 'uds_amphetamines'
        WHEN 'Benzodiazepine' THEN 'uds_benzodiazepines'
        WHEN 'Thc' THEN 'uds_cannabis'
        WHEN 'Alcohol' THEN 'uds_alcohol'
        WHEN 'Sedatives' THEN 'uds_barbiturates'
        WHEN 'Mdma/Hallucinogen' THEN 'uds_other'
        ELSE s.what END AS measure,
    'positive' AS value,
    NULL AS unit
FROM source s
