-- patients: the canonical patients.csv onto the patients table. The patient id in raw
-- is already its pseudonym: it was keyed as the file was read (or, for a table with a
-- model of its own, looked up in the temp table pseudo by the view raw), so the
-- original never reaches this query.
SELECT
    r.line,
    r.patient_id AS patient_key,
    -- Ages of 90 and over become 90+ (README, Privacy): the birth year of a person
    -- 90 or older in the year of the load is stored as 90 years before that year. The
    -- year is load_day()'s, the run's clock in UTC, never the machine's local date.
    CASE WHEN year(load_day()) - try_cast(r.birth_year AS INTEGER) >= 90 THEN year(load_day()) - 90
         ELSE try_cast(r.birth_year AS INTEGER) END AS birth_year,
    sx.code AS sex,
    rc.code AS race,
    et.code AS ethnicity,
    py.code AS payer,
    concat_ws(chr(30),
        need('patient_id', r.patient_id),
        check_int('birth_year', r.birth_year, 1900, year(load_day())),
        check_code('sex', 'sex', r.sex, sx.code),
        check_code('race', 'race', r.race, rc.code),
        check_code('ethnicity', 'ethnicity', r.ethnicity, et.code),
        check_code('payer', 'payer', r.payer, py.code)
    ) AS problems
FROM raw r
LEFT JOIN codes sx ON sx.domain = 'sex' AND lower(sx.code) = lower(r.sex)
LEFT JOIN codes rc ON rc.domain = 'race' AND lower(rc.code) = lower(r.race)
LEFT JOIN codes et ON et.domain = 'ethnicity' AND lower(et.code) = lower(r.ethnicity)
LEFT JOIN codes py ON py.domain = 'payer' AND lower(py.code) = lower(r.payer)
