-- relapse_sequences: each episode's weeks as one text of symbols (episode_weeks.uds_symbol,
-- week 1 first) and the list of its self-reported days of use (-1 for a week without a
-- report), from which the relapse definitions are computed (pipeline/models/relapse.go).
-- A session-level model: DuckDB and Spark both run this file (see 0010).
SELECT episode_id,
       {{concatBy "uds_symbol" "week"}} AS symbols,
       {{listBy "coalesce(self_report_use_days, CAST(-1 AS DOUBLE))" "week"}} AS reports
FROM episode_weeks
GROUP BY episode_id;
