-- 0003_core: the canonical tables (README, The canonical export layout). Rows arrive only through
-- staging; each row remembers the export file and line it last came from, so every
-- figure can be traced back to an export. Natural keys are kept unique by the loader
-- (the newer export wins), not by index constraints, which would slow bulk loads.

CREATE TABLE programs (
    program_id             VARCHAR NOT NULL,
    name                   VARCHAR NOT NULL,
    site                   VARCHAR,
    level_of_care          VARCHAR NOT NULL,
    planned_weeks          INTEGER,
    planned_hours_per_week DOUBLE,
    load_file_id           INTEGER NOT NULL,
    source_line            BIGINT NOT NULL
);
COMMENT ON TABLE programs IS 'Treatment programs, one row per program_id (natural key).';
COMMENT ON COLUMN programs.program_id IS 'Program identifier from the export (natural key).';
COMMENT ON COLUMN programs.name IS 'Program name as exported.';
COMMENT ON COLUMN programs.site IS 'Site (location) the program runs at.';
COMMENT ON COLUMN programs.level_of_care IS 'ASAM level of care: IOP, PHP or OP (codes, domain level_of_care).';
COMMENT ON COLUMN programs.planned_weeks IS 'Planned length of treatment in weeks.';
COMMENT ON COLUMN programs.planned_hours_per_week IS 'Scheduled hours of treatment per week.';
COMMENT ON COLUMN programs.load_file_id IS 'Export file (load_files.file_id) this row was last loaded from.';
COMMENT ON COLUMN programs.source_line IS 'Record number of the row in that file, header = 1.';

CREATE TABLE patients (
    patient_key  VARCHAR NOT NULL,
    birth_year   INTEGER,
    sex          VARCHAR,
    race         VARCHAR,
    ethnicity    VARCHAR,
    payer        VARCHAR,
    load_file_id INTEGER NOT NULL,
    source_line  BIGINT NOT NULL
);
COMMENT ON TABLE patients IS 'People treated, one row per patient_key. No names, addresses, contact details, record numbers or dates of birth are stored.';
COMMENT ON COLUMN patients.patient_key IS 'Pseudonym of the export''s patient id: HMAC-SHA256 under the site key, hex. The original id is never stored.';
COMMENT ON COLUMN patients.birth_year IS 'Year of birth (no full date of birth is kept), top-coded: a person 90 or older in the year of the load is stored as born 90 years before it, so no age over 90 can be read off.';
COMMENT ON COLUMN patients.sex IS 'Sex (codes, domain sex).';
COMMENT ON COLUMN patients.race IS 'Race (codes, domain race).';
COMMENT ON COLUMN patients.ethnicity IS 'Ethnicity (codes, domain ethnicity).';
COMMENT ON COLUMN patients.payer IS 'Primary payer (codes, domain payer).';
COMMENT ON COLUMN patients.load_file_id IS 'Export file (load_files.file_id) this row was last loaded from.';
COMMENT ON COLUMN patients.source_line IS 'Record number of the row in that file, header = 1.';

CREATE TABLE episodes (
    episode_id        VARCHAR NOT NULL,
    patient_key       VARCHAR NOT NULL,
    program_id        VARCHAR NOT NULL,
    admit_date        DATE NOT NULL,
    discharge_date    DATE,
    discharge_reason  VARCHAR,
    primary_substance VARCHAR,
    co_occurring      BOOLEAN,
    on_medication     BOOLEAN,
    referral_source   VARCHAR,
    load_file_id      INTEGER NOT NULL,
    source_line       BIGINT NOT NULL
);
COMMENT ON TABLE episodes IS 'Treatment episodes (one admission each), one row per episode_id.';
COMMENT ON COLUMN episodes.episode_id IS 'Episode identifier from the export (natural key).';
COMMENT ON COLUMN episodes.patient_key IS 'Pseudonymous patient (patients.patient_key).';
COMMENT ON COLUMN episodes.program_id IS 'Program of the episode (programs.program_id).';
COMMENT ON COLUMN episodes.admit_date IS 'Date of admission; day 0 of treatment time.';
COMMENT ON COLUMN episodes.discharge_date IS 'Date of discharge; null while the episode is active.';
COMMENT ON COLUMN episodes.discharge_reason IS 'Why the episode ended (codes, domain discharge_reason); null while active.';
COMMENT ON COLUMN episodes.primary_substance IS 'Primary substance at admission (codes, domain primary_substance).';
COMMENT ON COLUMN episodes.co_occurring IS 'Whether a co-occurring mental health disorder was diagnosed.';
COMMENT ON COLUMN episodes.on_medication IS 'Whether the person received medication for opioid or alcohol use disorder (MOUD/MAUD).';
COMMENT ON COLUMN episodes.referral_source IS 'Who referred the person (codes, domain referral_source).';
COMMENT ON COLUMN episodes.load_file_id IS 'Export file (load_files.file_id) this row was last loaded from.';
COMMENT ON COLUMN episodes.source_line IS 'Record number of the row in that file, header = 1.';

CREATE TABLE sessions (
    session_id    VARCHAR NOT NULL,
    episode_id    VARCHAR NOT NULL,
    patient_key   VARCHAR NOT NULL,
    session_date  DATE NOT NULL,
    start_time    TIME,
    session_type  VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,
    minutes       INTEGER,
    clinician_key VARCHAR,
    load_file_id  INTEGER NOT NULL,
    source_line   BIGINT NOT NULL
);
COMMENT ON TABLE sessions IS 'Scheduled appointments, attended or not, one row per session_id. A session lies within its episode''s admission and discharge dates when loaded; if a later export changes the episode''s dates, etl warns, keeps the session and the models leave it out.';
COMMENT ON COLUMN sessions.session_id IS 'Session identifier from the export (natural key).';
COMMENT ON COLUMN sessions.episode_id IS 'Episode the session belongs to; when the export left it empty, the patient''s episode whose dates contain the session.';
COMMENT ON COLUMN sessions.patient_key IS 'Pseudonymous patient (patients.patient_key).';
COMMENT ON COLUMN sessions.session_date IS 'Date the session was scheduled for.';
COMMENT ON COLUMN sessions.start_time IS 'Scheduled start time, when exported.';
COMMENT ON COLUMN sessions.session_type IS 'Kind of session (codes, domain session_type).';
COMMENT ON COLUMN sessions.status IS 'What happened (codes, domain session_status). Only attended counts as attendance.';
COMMENT ON COLUMN sessions.minutes IS 'Length of the session in minutes.';
COMMENT ON COLUMN sessions.clinician_key IS 'Pseudonym of the clinician id (HMAC-SHA256 under the site key), when exported.';
COMMENT ON COLUMN sessions.load_file_id IS 'Export file (load_files.file_id) this row was last loaded from.';
COMMENT ON COLUMN sessions.source_line IS 'Record number of the row in that file, header = 1.';

CREATE TABLE observations (
    patient_key  VARCHAR NOT NULL,
    episode_id   VARCHAR,
    obs_date     DATE NOT NULL,
    measure      VARCHAR NOT NULL,
    value        VARCHAR NOT NULL,
    value_num    DOUBLE,
    unit         VARCHAR,
    load_file_id INTEGER NOT NULL,
    source_line  BIGINT NOT NULL
);
COMMENT ON TABLE observations IS 'Measured values in long format, one row per patient_key, obs_date and measure (natural key): drug screens, questionnaire scores, follow-up contacts.';
COMMENT ON COLUMN observations.patient_key IS 'Pseudonymous patient (patients.patient_key).';
COMMENT ON COLUMN observations.episode_id IS 'Episode the observation belongs to; when the export left it empty, the patient''s episode whose dates contain obs_date, else null (for example a follow-up after discharge).';
COMMENT ON COLUMN observations.obs_date IS 'Date of the observation.';
COMMENT ON COLUMN observations.measure IS 'What was measured (measures.measure).';
COMMENT ON COLUMN observations.value IS 'The value as text, normalized: lower-case category, or the number as written.';
COMMENT ON COLUMN observations.value_num IS 'The value as a number for numeric measures; null for categorical ones.';
COMMENT ON COLUMN observations.unit IS 'Unit of the value (from the export, else from the measure registry).';
COMMENT ON COLUMN observations.load_file_id IS 'Export file (load_files.file_id) this row was last loaded from.';
COMMENT ON COLUMN observations.source_line IS 'Record number of the row in that file, header = 1.';
