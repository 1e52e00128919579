-- spans: the table macro the staging models link rows through. It reads the core
-- table episodes, so it is made once the database's tables exist (macros.sql, which
-- reads no table, is made on any connection).

-- episode_spans cuts each patient's dates into spans (lo..hi) within which the same
-- episodes contain every date, with the smallest episode_id among them and how many
-- they are. A row that names no episode is linked through the one span holding its
-- date: none when no episode contains the date, ambiguous when more than one does.
-- Each row then meets at most one span, so a staging model links its rows in the
-- same single pass that checks them.
CREATE OR REPLACE TEMP MACRO episode_spans() AS TABLE
    WITH bounds AS (
        SELECT patient_key, admit_date AS d FROM episodes
        UNION
        SELECT patient_key, discharge_date + 1 FROM episodes WHERE discharge_date IS NOT NULL
    ),
    spans AS (
        SELECT patient_key, d AS lo,
               coalesce(lead(d) OVER (PARTITION BY patient_key ORDER BY d) - 1, DATE '9999-12-31') AS hi
        FROM bounds
    )
    SELECT s.patient_key, s.lo, s.hi, min(e.episode_id) AS episode_id, count(*) AS candidates
    FROM spans s
    JOIN episodes e
      ON e.patient_key = s.patient_key
     AND s.lo BETWEEN e.admit_date AND coalesce(e.discharge_date, DATE '9999-12-31')
    GROUP BY s.patient_key, s.lo, s.hi;
