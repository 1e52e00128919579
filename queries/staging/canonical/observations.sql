-- observations: the canonical observations.csv onto the observations table. The
-- value is checked against the measure registry (table measures). An observation
-- with no episode_id is linked to the patient's episode containing obs_date, if any:
-- follow-up contacts after discharge keep a null episode.
WITH o AS (
    SELECT
        r.*,
        r.episode_id AS eid,
        iso_date(r.obs_date) AS odate,
        r.patient_id AS pkey
    FROM raw r
)
SELECT
    o.line,
    o.pkey AS patient_key,
    coalesce(o.eid, CASE WHEN l.candidates = 1 THEN l.episode_id END) AS episode_id,
    o.odate AS obs_date,
    m.measure,
    CASE WHEN m.kind = 'categorical' THEN lower(o.value) ELSE o.value END AS value,
    CASE WHEN m.kind = 'numeric' THEN try_cast(o.value AS DOUBLE) END AS value_num,
    coalesce(o.unit, m.unit) AS unit,
    concat_ws(chr(30),
        need('patient_id', o.patient_id),
        need('obs_date', o.obs_date),
        check_date('obs_date', o.obs_date),
        need('measure', o.measure),
        need('value', o.value),
        CASE WHEN o.measure IS NOT NULL AND m.measure IS NULL
             THEN problem('measure', o.measure, 'unknown_code',
                          'measure is not in the measure registry; use one of the measures in the measures table') END,
        -- A number outside the measure's range names the measure and its range, as
        -- the registry (table measures) holds them.
        CASE WHEN m.kind = 'numeric' AND o.value IS NOT NULL AND NOT is_num(o.value)
             THEN problem('value', o.value, 'bad_type', 'value must be a number for ' || m.measure)
             WHEN m.kind = 'numeric' AND o.value IS NOT NULL
                  AND try_cast(o.value AS DOUBLE) NOT BETWEEN m.min_value AND m.max_value
             THEN problem('value', o.value, 'out_of_range',
                          'value is outside the range of ' || m.measure || ', '
                          || regexp_replace(CAST(m.min_value AS VARCHAR), '\.0$', '') || ' to '
                          || regexp_replace(CAST(m.max_value AS VARCHAR), '\.0$', '')
                          || ' (table measures); correct it in the export') END,
        CASE WHEN m.kind = 'categorical' AND o.value IS NOT NULL
                  AND NOT list_contains(m.allowed_values, lower(o.value))
             THEN problem('value', o.value, 'out_of_range',
                          'value is not allowed for ' || m.measure || '; use one of: '
                          || array_to_string(m.allowed_values, ', ')) END,
        CASE WHEN o.pkey IS NOT NULL AND pt.patient_key IS NULL
             THEN problem('patient_id', o.pkey, 'unknown_patient',
                          'no patient with this patient_id has been loaded; include the patient in patients.csv') END,
        CASE WHEN o.eid IS NOT NULL AND e.episode_id IS NULL
             THEN problem('episode_id', o.eid, 'unknown_episode',
                          'no episode with this episode_id has been loaded; include it in episodes.csv') END,
        CASE WHEN o.pkey IS NOT NULL AND e.patient_key IS NOT NULL AND o.pkey <> e.patient_key
             THEN problem('patient_id', o.pkey, 'patient_mismatch',
                          'patient_id differs from the patient of the episode; correct one of them') END,
        CASE WHEN l.candidates > 1
             THEN problem('episode_id', NULL, 'ambiguous_episode',
                          'episode_id is empty and more than one episode of this patient contains obs_date; give the episode_id') END
    ) AS problems
FROM o
-- Only a row that names no episode meets a span (episode_spans, macros.sql).
LEFT JOIN episode_spans() l
  ON l.patient_key = CASE WHEN o.eid IS NULL THEN o.pkey END
 AND o.odate BETWEEN l.lo AND l.hi
LEFT JOIN episodes e ON e.episode_id = o.eid
LEFT JOIN patients pt ON pt.patient_key = o.pkey
LEFT JOIN measures m ON m.measure = lower(o.measure)
