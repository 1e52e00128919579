-- Complete cases: how many episodes of a fit's cohort were left out for a missing
-- covariate, beside n.

ALTER TABLE model_estimates ADD COLUMN n_excluded INTEGER DEFAULT 0;
COMMENT ON COLUMN model_estimates.n_excluded IS 'Episodes of the fit''s cohort left out because a covariate it uses is missing (complete cases, as R''s na.omit); n counts the rows fitted. A covariate missing for every episode of the cohort, or with one value, is left out of the fit instead (see warning).';
COMMENT ON COLUMN model_estimates.estimate IS 'Coefficient: log hazard ratio (Cox) or log odds ratio (logistic). Null for a term left out: aliased (constant or collinear with the terms before it, as R reports NA), a covariate left out of the fit, or a coefficient running to infinity (separation); warning says which.';
COMMENT ON COLUMN model_estimates.converged IS 'Whether the fit converged; false when it did not, or when a coefficient grows without bound while the likelihood is flat (read warning).';
COMMENT ON COLUMN model_estimates.warning IS 'What went wrong, in words and by term name: covariates or rows left out, aliased terms, separation, no convergence, or why the model was not fitted; null when there is nothing to say. etl prints it and the report shows it beside the model.';
COMMENT ON COLUMN model_estimates.p_value IS 'Wald p value, two-sided, from the upper tail of the normal distribution (erfc).';
