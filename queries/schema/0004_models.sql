-- 0004_models: the tables of fitted results that the models runner refills on every
-- rebuild (the SQL models episode_weeks, episode_outcomes and kpis are made by their
-- own files in queries/models).

CREATE TABLE analysis_parameters (
    name        VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    description VARCHAR NOT NULL
);
COMMENT ON TABLE analysis_parameters IS 'Every parameter the last model rebuild used, with the tool version; the models read their parameters from here.';
COMMENT ON COLUMN analysis_parameters.name IS 'Parameter name, for example landmark_days or cutoff.';
COMMENT ON COLUMN analysis_parameters.value IS 'Its value as text (lists separated by |).';
COMMENT ON COLUMN analysis_parameters.description IS 'What the parameter means.';

CREATE TABLE relapse_events (
    episode_id     VARCHAR NOT NULL,
    definition     VARCHAR NOT NULL,
    missing_policy VARCHAR NOT NULL,
    event          BOOLEAN NOT NULL,
    week           INTEGER
);
COMMENT ON TABLE relapse_events IS 'Relapse of every episode under every definition and missing-test policy, computed from episode_weeks.uds_symbol (self_report from self_report_use_days); also dropout in the same vocabulary (definition dropout_4_missing: the first of 4 consecutive weeks with a missing screen).';
COMMENT ON COLUMN relapse_events.episode_id IS 'The episode.';
COMMENT ON COLUMN relapse_events.definition IS 'consecutive4, consecutive4_from_week3, consecutive3, first_positive_after_negative or self_report (docs/methods.md); dropout_4_missing for dropout by screens.';
COMMENT ON COLUMN relapse_events.missing_policy IS 'How a week with a missing specimen counts: positive, ignore (left out) or break (ends a run). self_report does not use it (its rows repeat for each policy); dropout_4_missing has not_applicable.';
COMMENT ON COLUMN relapse_events.event IS 'Whether the episode relapsed under the definition.';
COMMENT ON COLUMN relapse_events.week IS 'Treatment week of the relapse; null without one.';

CREATE TABLE km_estimates (
    analysis   VARCHAR NOT NULL,
    stratum    VARCHAR NOT NULL,
    day        DOUBLE NOT NULL,
    n_risk     INTEGER NOT NULL,
    n_event    INTEGER NOT NULL,
    n_censor   INTEGER NOT NULL,
    survival   DOUBLE NOT NULL,
    std_error  DOUBLE,
    lower      DOUBLE,
    upper      DOUBLE
);
COMMENT ON TABLE km_estimates IS 'Kaplan-Meier curves: one row per analysis, stratum and time at which something happened.';
COMMENT ON COLUMN km_estimates.analysis IS 'retention (all episodes), retention_landmark or relapse_landmark (the landmark cohort, by dose band).';
COMMENT ON COLUMN km_estimates.stratum IS 'Dose band, program, or ALL.';
COMMENT ON COLUMN km_estimates.day IS 'Days from admission.';
COMMENT ON COLUMN km_estimates.n_risk IS 'Episodes at risk just before the day.';
COMMENT ON COLUMN km_estimates.n_event IS 'Events on the day.';
COMMENT ON COLUMN km_estimates.n_censor IS 'Episodes censored on the day.';
COMMENT ON COLUMN km_estimates.survival IS 'Kaplan-Meier estimate just after the day (retention: probability of not having dropped out).';
COMMENT ON COLUMN km_estimates.std_error IS 'Greenwood standard error of the estimate.';
COMMENT ON COLUMN km_estimates.lower IS 'Lower 95% limit (log-log).';
COMMENT ON COLUMN km_estimates.upper IS 'Upper 95% limit (log-log).';

CREATE TABLE logrank_tests (
    analysis   VARCHAR NOT NULL,
    chi_square DOUBLE,
    df         INTEGER NOT NULL,
    p_value    DOUBLE
);
COMMENT ON TABLE logrank_tests IS 'Log-rank test across the strata of each Kaplan-Meier analysis.';
COMMENT ON COLUMN logrank_tests.analysis IS 'The analysis of km_estimates compared.';
COMMENT ON COLUMN logrank_tests.chi_square IS 'Log-rank chi-square statistic.';
COMMENT ON COLUMN logrank_tests.df IS 'Degrees of freedom: strata - 1.';
COMMENT ON COLUMN logrank_tests.p_value IS 'p value of the chi-square.';

CREATE TABLE model_estimates (
    model      VARCHAR NOT NULL,
    term       VARCHAR NOT NULL,
    estimate   DOUBLE,
    std_error  DOUBLE,
    ratio      DOUBLE,
    lower      DOUBLE,
    upper      DOUBLE,
    p_value    DOUBLE,
    n          INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    converged  BOOLEAN NOT NULL,
    iterations INTEGER NOT NULL,
    definition VARCHAR NOT NULL,
    warning    VARCHAR
);
COMMENT ON TABLE model_estimates IS 'Fitted models, one row per term. Models whose name starts with naive_ are biased by design (immortal time) and shown for comparison only.';
COMMENT ON COLUMN model_estimates.model IS 'landmark_cox_dropout (the headline), landmark_cox_relapse, time_varying_cox_dropout, landmark_logistic_relapse, naive_cox_dropout.';
COMMENT ON COLUMN model_estimates.term IS 'Covariate (a level of a categorical covariate is name=level).';
COMMENT ON COLUMN model_estimates.estimate IS 'Coefficient: log hazard ratio (Cox) or log odds ratio (logistic).';
COMMENT ON COLUMN model_estimates.std_error IS 'Standard error of the coefficient.';
COMMENT ON COLUMN model_estimates.ratio IS 'exp(estimate): hazard ratio or odds ratio.';
COMMENT ON COLUMN model_estimates.lower IS 'Lower 95% limit of the ratio.';
COMMENT ON COLUMN model_estimates.upper IS 'Upper 95% limit of the ratio.';
COMMENT ON COLUMN model_estimates.p_value IS 'Wald p value.';
COMMENT ON COLUMN model_estimates.n IS 'Rows fitted (episodes, or episode-weeks for the time-varying model).';
COMMENT ON COLUMN model_estimates.events IS 'Events (or outcomes = 1 for logistic).';
COMMENT ON COLUMN model_estimates.converged IS 'Whether the fit converged; read warning when not.';
COMMENT ON COLUMN model_estimates.iterations IS 'Newton-Raphson (Cox) or IRLS (logistic) iterations.';
COMMENT ON COLUMN model_estimates.definition IS 'Cohort, outcome, time scale, exposure and covariates, in words.';
COMMENT ON COLUMN model_estimates.warning IS 'Why the estimate should not be trusted (separation, no convergence); null when there is nothing to say.';
