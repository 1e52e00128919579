-- 0008_access_satisfaction: what the access and satisfaction measures read (issue 16):
-- the date a person was referred, an optional column of the canonical episodes, and
-- the CSQ-8 client-satisfaction score as a registered observation measure, so that a
-- score outside 8-32 is rejected at load like any out-of-range value.

ALTER TABLE episodes ADD COLUMN referral_date DATE;
COMMENT ON COLUMN episodes.referral_date IS 'Date the person was referred to the program, when exported (optional); not after admit_date. Access is measured from it (episode_outcomes.days_referral_to_admission).';

INSERT INTO measures VALUES
    ('csq8', 'numeric', 8, 32, NULL, 'points',
     'Client Satisfaction Questionnaire (CSQ-8, Larsen et al. 1979) total score: 8 items scored 1-4, 8-32, higher is more satisfied; usually given at discharge');

COMMENT ON COLUMN rejects.reason IS 'Reason code: missing_value, bad_type, bad_date, unknown_code, out_of_range, discharge_before_admission, referral_after_admission, session_outside_episode, unknown_episode, unknown_patient, unknown_program, patient_mismatch, ambiguous_episode, duplicate_key, malformed_row (the row is not CSV of the header''s shape), missing_column and malformed_file (the whole file was refused; one row at line 1).';
