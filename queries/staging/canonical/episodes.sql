-- episodes: the canonical episodes.csv onto the episodes table. The patient and the
-- program must already be loaded (earlier in this run or an earlier run).
SELECT
    r.line,
    r.episode_id AS episode_id,
    r.patient_id AS patient_key,
    r.program_id AS program_id,
    iso_date(r.admit_date) AS admit_date,
    iso_date(r.discharge_date) AS discharge_date,
    dr.code AS discharge_reason,
    ps.code AS primary_substance,
    bool_of(r.co_occurring) AS co_occurring,
    bool_of(r.on_medication) AS on_medication,
    rs.code AS referral_source,
    iso_date(r.referral_date) AS referral_date,
    concat_ws(chr(30),
        need('episode_id', r.episode_id),
        need('patient_id', r.patient_id),
        need('program_id', r.program_id),
        need('admit_date', r.admit_date),
        check_date('admit_date', r.admit_date),
        check_date('discharge_date', r.discharge_date),
        check_date('referral_date', r.referral_date),
        check_code('discharge_reason', 'discharge_reason', r.discharge_reason, dr.code),
        check_code('primary_substance', 'primary_substance', r.primary_substance, ps.code),
        check_code('referral_source', 'referral_source', r.referral_source, rs.code),
        check_bool('co_occurring', r.co_occurring),
        check_bool('on_medication', r.on_medication),
        CASE WHEN r.discharge_date IS NOT NULL AND r.discharge_reason IS NULL
             THEN problem('discharge_reason', NULL, 'missing_value',
                          'discharge_date is set but discharge_reason is empty; give both or neither') END,
        CASE WHEN r.discharge_reason IS NOT NULL AND r.discharge_date IS NULL
             THEN problem('discharge_date', NULL, 'missing_value',
                          'discharge_reason is set but discharge_date is empty; give both or neither') END,
        CASE WHEN iso_date(r.discharge_date) < iso_date(r.admit_date)
             THEN problem('discharge_date', r.discharge_date, 'discharge_before_admission',
                          'discharge_date is before admit_date; correct one of them in the export') END,
        CASE WHEN iso_date(r.referral_date) > iso_date(r.admit_date)
             THEN problem('referral_date', r.referral_date, 'referral_after_admission',
                          'referral_date is after admit_date; correct one of them in the export, or leave referral_date empty') END,
        CASE WHEN r.patient_id IS NOT NULL AND pt.patient_key IS NULL
             THEN problem('patient_id', r.patient_id, 'unknown_patient',
                          'no patient with this patient_id has been loaded; include the patient in patients.csv') END,
        CASE WHEN r.program_id IS NOT NULL AND pg.program_id IS NULL
             THEN problem('program_id', r.program_id, 'unknown_program',
                          'no program with this program_id has been loaded; include it in programs.csv') END
    ) AS problems
FROM raw r
LEFT JOIN patients pt ON pt.patient_key = r.patient_id
LEFT JOIN programs pg ON pg.program_id = r.program_id
LEFT JOIN codes dr ON dr.domain = 'discharge_reason' AND lower(dr.code) = lower(r.discharge_reason)
LEFT JOIN codes ps ON ps.domain = 'primary_substance' AND lower(ps.code) = lower(r.primary_substance)
LEFT JOIN codes rs ON rs.domain = 'referral_source' AND lower(rs.code) = lower(r.referral_source)
