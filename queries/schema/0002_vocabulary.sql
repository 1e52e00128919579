-- 0002_vocabulary: the coded values the canonical layout accepts and the registry of
-- observation measures with their allowed values. Staging models check exports
-- against these tables, so a new code is a row here, not a code change.

CREATE TABLE codes (
    domain VARCHAR NOT NULL,
    code   VARCHAR NOT NULL,
    label  VARCHAR NOT NULL
);
COMMENT ON TABLE codes IS 'Allowed codes of each coded column of the canonical layout (README, The canonical export layout). Exports are matched without regard to case and stored with the case given here.';
COMMENT ON COLUMN codes.domain IS 'The coded column, for example session_status or discharge_reason.';
COMMENT ON COLUMN codes.code IS 'The code as stored in the core tables.';
COMMENT ON COLUMN codes.label IS 'What the code means, in words.';

INSERT INTO codes VALUES
    ('level_of_care', 'IOP', 'Intensive outpatient (ASAM 2.1): 9-19 hours a week, 6-19 for adolescents'),
    ('level_of_care', 'PHP', 'Partial hospitalization (ASAM 2.5): 20 or more hours a week'),
    ('level_of_care', 'OP', 'Outpatient (ASAM 1): under 9 hours a week'),
    ('sex', 'female', 'Female'),
    ('sex', 'male', 'Male'),
    ('sex', 'other', 'Another sex or gender'),
    ('sex', 'unknown', 'Not recorded'),
    ('race', 'american_indian_alaska_native', 'American Indian or Alaska Native'),
    ('race', 'asian', 'Asian'),
    ('race', 'black', 'Black or African American'),
    ('race', 'native_hawaiian_pacific_islander', 'Native Hawaiian or Other Pacific Islander'),
    ('race', 'white', 'White'),
    ('race', 'multiple', 'More than one race'),
    ('race', 'other', 'Another race'),
    ('race', 'unknown', 'Not recorded'),
    ('ethnicity', 'hispanic', 'Hispanic or Latino'),
    ('ethnicity', 'not_hispanic', 'Not Hispanic or Latino'),
    ('ethnicity', 'unknown', 'Not recorded'),
    ('payer', 'medicaid', 'Medicaid'),
    ('payer', 'medicare', 'Medicare'),
    ('payer', 'commercial', 'Commercial insurance'),
    ('payer', 'public_other', 'Other public funding (state, block grant, county)'),
    ('payer', 'military', 'TRICARE or VA'),
    ('payer', 'self_pay', 'Self pay'),
    ('payer', 'other', 'Another payer'),
    ('payer', 'unknown', 'Not recorded'),
    ('discharge_reason', 'completed', 'Completed treatment'),
    ('discharge_reason', 'dropped_out', 'Dropped out, left against advice or lost contact'),
    ('discharge_reason', 'terminated', 'Terminated by the program'),
    ('discharge_reason', 'transferred', 'Transferred to another level of care or provider'),
    ('discharge_reason', 'incarcerated', 'Incarcerated'),
    ('discharge_reason', 'died', 'Died'),
    ('discharge_reason', 'other', 'Another reason'),
    ('primary_substance', 'alcohol', 'Alcohol'),
    ('primary_substance', 'opioids', 'Opioids (heroin, fentanyl, prescription opioids)'),
    ('primary_substance', 'cocaine', 'Cocaine or crack'),
    ('primary_substance', 'methamphetamine', 'Methamphetamine or other stimulants'),
    ('primary_substance', 'cannabis', 'Cannabis'),
    ('primary_substance', 'benzodiazepines', 'Benzodiazepines or other sedatives'),
    ('primary_substance', 'other', 'Another substance'),
    ('primary_substance', 'none', 'No substance use disorder (mental health only)'),
    ('referral_source', 'self', 'Self or family'),
    ('referral_source', 'healthcare', 'Health care provider or hospital'),
    ('referral_source', 'court', 'Court or criminal justice'),
    ('referral_source', 'employer', 'Employer or EAP'),
    ('referral_source', 'school', 'School'),
    ('referral_source', 'community', 'Community or social services'),
    ('referral_source', 'other', 'Another source'),
    ('session_type', 'individual', 'Individual therapy'),
    ('session_type', 'group', 'Group therapy'),
    ('session_type', 'family', 'Family therapy'),
    ('session_type', 'peer_support', '12-step or peer support'),
    ('session_type', 'medication_management', 'Medication management'),
    ('session_type', 'psychoeducation', 'Psychoeducation'),
    ('session_type', 'case_management', 'Case management'),
    ('session_type', 'other', 'Another session type'),
    ('session_status', 'attended', 'Attended'),
    ('session_status', 'no_show', 'Did not attend, no notice'),
    ('session_status', 'cancelled_by_patient', 'Cancelled by the patient'),
    ('session_status', 'cancelled_by_program', 'Cancelled by the program'),
    ('session_status', 'excused', 'Excused absence');

CREATE TABLE measures (
    measure        VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    min_value      DOUBLE,
    max_value      DOUBLE,
    allowed_values VARCHAR[],
    unit           VARCHAR,
    description    VARCHAR NOT NULL
);
COMMENT ON TABLE measures IS 'Registry of observation measures and the values each allows; an observation whose value is outside them is rejected.';
COMMENT ON COLUMN measures.measure IS 'Measure code as it appears in observations.measure.';
COMMENT ON COLUMN measures.kind IS 'numeric (value_num holds the number) or categorical (value holds one of allowed_values).';
COMMENT ON COLUMN measures.min_value IS 'Smallest allowed value of a numeric measure.';
COMMENT ON COLUMN measures.max_value IS 'Largest allowed value of a numeric measure.';
COMMENT ON COLUMN measures.allowed_values IS 'Allowed values of a categorical measure, lower case.';
COMMENT ON COLUMN measures.unit IS 'Unit of a numeric measure.';
COMMENT ON COLUMN measures.description IS 'What the measure is.';

INSERT INTO measures VALUES
    ('phq9', 'numeric', 0, 27, NULL, 'points', 'PHQ-9 depression score'),
    ('gad7', 'numeric', 0, 21, NULL, 'points', 'GAD-7 anxiety score'),
    ('bam_use_days', 'numeric', 0, 30, NULL, 'days', 'Brief Addiction Monitor: days of use in the past 30'),
    ('self_report_use_days', 'numeric', 0, 30, NULL, 'days', 'Self-reported days of use in the past 30 (timeline follow-back)'),
    ('uds_specimen', 'categorical', NULL, NULL, ['collected', 'missing'], NULL, 'Urine drug screen expected this day: collected, or missing (expected but not given)'),
    ('followup_contact', 'categorical', NULL, NULL, ['reached', 'not_reached'], NULL, 'Post-discharge follow-up attempt: whether the person was reached'),
    ('followup_abstinent', 'categorical', NULL, NULL, ['yes', 'no'], NULL, 'Post-discharge follow-up: abstinent since discharge, as reported'),
    ('uds_alcohol', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine or breath screen result for alcohol (EtG/EtS)'),
    ('uds_amphetamines', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for amphetamines'),
    ('uds_barbiturates', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for barbiturates'),
    ('uds_benzodiazepines', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for benzodiazepines'),
    ('uds_buprenorphine', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for buprenorphine'),
    ('uds_cannabis', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for cannabinoids (THC)'),
    ('uds_cocaine', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for cocaine'),
    ('uds_fentanyl', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for fentanyl'),
    ('uds_methadone', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for methadone'),
    ('uds_methamphetamine', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for methamphetamine'),
    ('uds_opioids', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for opiates (morphine, heroin, codeine)'),
    ('uds_oxycodone', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for oxycodone'),
    ('uds_other', 'categorical', NULL, NULL, ['positive', 'negative'], NULL, 'Urine drug screen result for another substance');
