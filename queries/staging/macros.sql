-- macros: the checks every staging model shares. They are temporary macros, made on
-- the loading connection before a file is staged, so they never appear in the
-- database researchers open. A check returns a problem, or NULL when the value passes;
-- a staging model joins its checks with concat_ws(chr(30), ...) into the column
-- problems, which is empty for a row that loads. Problems are plain text rather than
-- a list of structs because building a list for every clean row costs more than the
-- whole CSV parse.

-- The view raw that a staging model reads has every value trimmed already, with
-- empty values as NULL, so the checks below test for NULL and never trim again. Its
-- identifier columns (patient_id, clinician_id) hold pseudonyms, never originals.

-- problem is one reason a row cannot be loaded; it becomes a row of rejects. Its
-- four fields (column, value, reason, message) are separated by chr(31); the value
-- loses any chr(30) or chr(31) of its own so the fields always split back apart.
CREATE OR REPLACE TEMP MACRO problem(col, val, reason, msg) AS
    concat(col, chr(31), regexp_replace(coalesce(CAST(val AS VARCHAR), ''), '[\x1e\x1f]', ' ', 'g'), chr(31), reason, chr(31), msg);

-- need: a required value is empty.
CREATE OR REPLACE TEMP MACRO need(col, v) AS
    CASE WHEN v IS NULL
         THEN problem(col, NULL, 'missing_value', col || ' is empty; every row needs a value here') END;

-- is_int and is_num accept plain decimal numbers only: DuckDB's casts alone would
-- round 59.5 to 60 and read 0x3C as 60.
CREATE OR REPLACE TEMP MACRO is_int(v) AS regexp_full_match(v, '[+-]?[0-9]{1,18}');
CREATE OR REPLACE TEMP MACRO is_num(v) AS regexp_full_match(v, '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)');

-- parse_date reads a date as a profile writes it (fmt): '%Y-%m-%d' (the canonical
-- form), 'days' (a whole number of days from anchor) or a strptime pattern such as
-- '%m/%d/%Y', enforced row by row. It is NULL for anything else, impossible dates and
-- years outside 1900-2100 included. In a workbook's sheet (serial_base not NULL), a
-- plain number that the stated format does not read is a spreadsheet's date serial: a
-- date cell holds its serial whatever the column's display format. Serials count days
-- from serial_base: 1899-12-30 in the usual 1900 date system (Excel's fake 1900 leap
-- day makes serials before 1901 unreliable, so they are refused), 1904-01-01 in a
-- workbook saved in the 1904 system. The stated format comes first, so a day count,
-- or a digits-only pattern such as '%d%m%y', is never taken for a serial; a day-count
-- column reads numbers as day counts only. The loader defines iso_date(v) and
-- check_date(col, v) over it for each file, with that file's format; the staging
-- models call those two. The canonical form is read by DuckDB's cast (several times
-- cheaper than strptime), which alone would accept a trailing time or note, and even a
-- letter in place of a digit (2000-01-1A): so the text must be four, two and two digits
-- between dashes, and its years 1900-2100 are a range of such texts. A date that does
-- not exist (2001-02-29) fails the cast. (This costs half of printing the date back and
-- comparing, which it replaced.)
CREATE OR REPLACE TEMP MACRO serial_date(v, base) AS
    CASE WHEN regexp_full_match(v, '[0-9]{1,6}(\.[0-9]*)?')
              AND year(base + CAST(floor(CAST(v AS DOUBLE)) AS INTEGER)) BETWEEN 1901 AND 2100
         THEN base + CAST(floor(CAST(v AS DOUBLE)) AS INTEGER) END;
CREATE OR REPLACE TEMP MACRO parse_date(v, fmt, anchor, serial_base) AS
    CASE
        WHEN fmt = 'days'
        THEN CASE WHEN regexp_full_match(v, '[+-]?[0-9]{1,6}')
                   AND year(anchor + CAST(v AS INTEGER)) BETWEEN 1900 AND 2100
                  THEN anchor + CAST(v AS INTEGER) END
        ELSE coalesce(
            CASE WHEN fmt = '%Y-%m-%d'
                 THEN CASE WHEN v BETWEEN '1900-01-01' AND '2100-12-31'
                                AND regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                           THEN try_cast(v AS DATE) END
                 ELSE CASE WHEN year(try_strptime(v, fmt)) BETWEEN 1900 AND 2100
                           THEN CAST(try_strptime(v, fmt) AS DATE) END
            END,
            CASE WHEN serial_base IS NOT NULL THEN serial_date(v, serial_base) END)
    END;

-- future_problem refuses a date after the day of the load: one row dated decades
-- ahead would otherwise move the data cutoff, and with it every active stay and model.
-- load_day() is the run's clock's date in UTC, made by the loader before any file.
CREATE OR REPLACE TEMP MACRO future_problem(col, v) AS
    problem(col, v, 'future_date',
            col || ' is after the day of the load (' || strftime(load_day(), '%Y-%m-%d')
            || ', UTC); a date cannot lie ahead of the export: correct it in the export');

-- date_problem says why v is not a date in the format fmt. A date such as 03/04/2024
-- in an export whose profile states no format could be March 4 or April 3: it is
-- refused as ambiguous, never guessed.
CREATE OR REPLACE TEMP MACRO date_problem(col, v, fmt) AS
    CASE
        WHEN fmt = '%Y-%m-%d' AND regexp_full_match(v, '[0-9]{1,2}[/.-][0-9]{1,2}[/.-]([0-9]{2}|[0-9]{4})')
             AND CAST(regexp_extract(v, '^([0-9]+)', 1) AS INTEGER) BETWEEN 1 AND 12
             AND CAST(regexp_extract(v, '^[0-9]+[/.-]([0-9]+)', 1) AS INTEGER) BETWEEN 1 AND 12
        THEN problem(col, v, 'ambiguous_date',
                     col || ' could be month/day or day/month; dates are never guessed: write YYYY-MM-DD, or state the export''s date format in its profile (date_format, for example "%m/%d/%Y")')
        WHEN fmt = '%Y-%m-%d' AND regexp_full_match(v, '[0-9]{1,2}[/.-][0-9]{1,2}[/.-]([0-9]{2}|[0-9]{4})')
        THEN problem(col, v, 'bad_date',
                     col || ' is not a real date in the form YYYY-MM-DD; if the export writes dates another way, state the format in its profile (date_format, for example "%d/%m/%Y")')
        WHEN fmt = '%Y-%m-%d'
        THEN problem(col, v, 'bad_date',
                     col || ' is not a real date in the form YYYY-MM-DD (years 1900-2100); correct it in the export')
        WHEN fmt = 'days'
        THEN problem(col, v, 'bad_date',
                     col || ' must be a whole number of days from the profile''s anchor date (years 1900-2100); correct it in the export')
        ELSE problem(col, v, 'bad_date',
                     col || ' is not a real date in the profile''s format ' || fmt || ' (years 1900-2100); correct it in the export')
    END;

-- code_check: a coded value that has no row in codes for its domain. canon is the
-- looked-up code (NULL when not found).
CREATE OR REPLACE TEMP MACRO check_code(col, dom, v, canon) AS
    CASE WHEN v IS NOT NULL AND canon IS NULL
         THEN problem(col, v, 'unknown_code',
                      col || ' is not a known code; use one of: '
                      || (SELECT string_agg(code, ', ' ORDER BY code) FROM codes WHERE domain = dom)) END;

CREATE OR REPLACE TEMP MACRO check_int(col, v, lo, hi) AS
    CASE WHEN v IS NULL THEN NULL
         WHEN NOT is_int(v)
         THEN problem(col, v, 'bad_type', col || ' must be a whole number')
         WHEN try_cast(v AS BIGINT) NOT BETWEEN lo AND hi
         THEN problem(col, v, 'out_of_range', col || ' must be between ' || lo || ' and ' || hi) END;

CREATE OR REPLACE TEMP MACRO check_num(col, v, lo, hi) AS
    CASE WHEN v IS NULL THEN NULL
         WHEN NOT is_num(v)
         THEN problem(col, v, 'bad_type', col || ' must be a number')
         WHEN try_cast(v AS DOUBLE) NOT BETWEEN lo AND hi
         THEN problem(col, v, 'out_of_range', col || ' must be between ' || lo || ' and ' || hi) END;

-- bool_of reads true/false, yes/no, 1/0, t/f and y/n in any case.
CREATE OR REPLACE TEMP MACRO bool_of(v) AS
    CASE WHEN lower(v) IN ('true', 't', 'yes', 'y', '1') THEN true
         WHEN lower(v) IN ('false', 'f', 'no', 'n', '0') THEN false END;

CREATE OR REPLACE TEMP MACRO check_bool(col, v) AS
    CASE WHEN v IS NOT NULL AND bool_of(v) IS NULL
         THEN problem(col, v, 'bad_type', col || ' must be true or false') END;

-- time_of reads a time of day such as 09:30; in a workbook's sheet (sheet true), a
-- time cell holds the fraction of a day (0.375 is 09:00), read to the second. The
-- loader defines iso_time(v) over it for each file, which check_time and the staging
-- models call.
CREATE OR REPLACE TEMP MACRO time_of(v, sheet) AS
    coalesce(try_cast(v AS TIME),
             CASE WHEN sheet AND regexp_full_match(v, '0?\.[0-9]+|0')
                  THEN TIME '00:00:00' + to_seconds(CAST(round(CAST(v AS DOUBLE) * 86400) AS BIGINT)) END);

CREATE OR REPLACE TEMP MACRO check_time(col, v) AS
    CASE WHEN v IS NOT NULL AND iso_time(v) IS NULL
         THEN problem(col, v, 'bad_type', col || ' must be a time of day such as 09:30') END;
