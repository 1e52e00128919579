-- demographics (one row per person) onto patients. Ages are at consent, which is day
-- 0 on the profile's anchor date, so the birth year is the anchor year less the age
-- (it may be a year late). NA means not recorded.
SELECT
    s.line,
    s.who AS patient_id,
    CASE WHEN try_cast(s.age AS INTEGER) IS NOT NULL THEN CAST(year(anchor_date()) - CAST(s.age AS INTEGER) AS VARCHAR)
         ELSE nullif(s.age, 'NA') END AS birth_year,
    CASE s.is_male WHEN 'Yes' THEN 'male' WHEN 'No' THEN 'female' WHEN 'NA' THEN 'unknown' ELSE s.is_male END AS sex,
    CASE s.race WHEN 'White' THEN 'white' WHEN 'Black' THEN 'black' WHEN 'Other' THEN 'other'
                WHEN 'Refused/missing' THEN 'unknown' WHEN 'NA' THEN 'unknown' ELSE s.race END AS race,
    CASE s.is_hispanic WHEN 'Yes' THEN 'hispanic' WHEN 'No' THEN 'not_hispanic' WHEN 'NA' THEN 'unknown' ELSE s.is_hispanic END AS ethnicity,
    NULL AS payer
FROM source s
