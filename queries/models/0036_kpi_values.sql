-- kpi_values: the values the measures that are not a count over a count are
-- summarized from (issue 16): days from referral to admission and from admission to
-- the first attended session (access, dated by the admission), and the CSQ-8
-- satisfaction score (dated by the discharge). A median, its quartiles and a mean do
-- not sum over episodes the way kpi_facts' num / den do, so they keep their own rows:
-- one per episode the measure is taken over, with value null where the episode has
-- none (no referral date, no attended session yet, no score), so that a summary can
-- say how many it left out. kpi_distributions summarizes them by quarter; a report
-- for any other window reads the same rows. It is a view, as kpi_facts is.
CREATE OR REPLACE VIEW kpi_values AS
SELECT program_id, admit_date AS fact_date, 'days_referral_to_admission' AS measure,
       CAST(days_referral_to_admission AS DOUBLE) AS value
FROM episode_outcomes
UNION ALL
SELECT program_id, admit_date, 'days_to_first_session', CAST(first_attended_day AS DOUBLE)
FROM episode_outcomes
UNION ALL
SELECT program_id, discharge_date, 'csq8_score', csq8_score
FROM episode_outcomes
WHERE discharge_date IS NOT NULL AND discharge_reason IS DISTINCT FROM 'died';

COMMENT ON VIEW kpi_values IS 'The values the distribution measures are summarized from (kpi_distributions): one row per episode and measure, dated by the day that places it in a period; value is null for an episode the measure is taken over that has no value (no referral date, no attended session, no CSQ-8 score).';
