# compare.R fits the models of the pipeline with R's survival and stats packages on
# the exact inputs that TestAgainstR (rcompare_test.go) exports from a rebuilt
# database, and writes R's figures as CSV for the test to compare, table by table.
# It implements the cohort, outcome and covariate rules of pipeline/models (README,
# Models) on its own; only the numbers come from R.
#
# Usage: Rscript compare.R DIR   (reads DIR/params.csv, episodes.csv, weeks.csv and
# kpis.csv; writes DIR/r_km.csv, r_logrank.csv, r_models.csv and r_kpis.csv)
suppressPackageStartupMessages(library(survival))

dir <- commandArgs(trailingOnly = TRUE)[1]
rd <- function(f) read.csv(file.path(dir, f), stringsAsFactors = FALSE, na.strings = "",
                           colClasses = c(episode_id = "character", program_id = "character"))
wr <- function(x, f) write.csv(x, file.path(dir, f), row.names = FALSE, na = "")
num <- function(x) formatC(as.numeric(x), digits = 17, format = "g")

par <- read.csv(file.path(dir, "params.csv"), stringsAsFactors = FALSE, na.strings = character(0))
P <- setNames(par$value, par$name)
L <- as.numeric(P[["landmark_days"]])
H <- as.numeric(P[["horizon_days"]])
covs <- if (P[["covariates"]] == "") character(0) else strsplit(P[["covariates"]], "|", fixed = TRUE)[[1]]
policy <- P[["missing_policy"]]

e <- rd("episodes.csv")
for (c in c("dropout_event", "in_landmark_cohort", "observed_horizon", "relapse_event")) e[[c]] <- as.logical(e[[c]])
e <- e[order(e$episode_id, method = "radix"), ]
e$program <- e$program_id # the covariate program is the episode's program

# Converged values on both sides: coxph is run to a tighter tolerance than its
# default (eps 1e-9), and glm restarted from its own fit (below), so that neither side
# is compared where it stopped iterating.
cox_control <- coxph.control(eps = 1e-11, iter.max = 100)
z95 <- qnorm(0.975)

# --- Kaplan-Meier and log-rank -------------------------------------------------------
km_out <- list()
lr_out <- list()
km <- function(analysis, t, ev, stratum) {
  one <- function(name, i) {
    s <- summary(survfit(Surv(t[i], ev[i]) ~ 1, conf.type = "log-log"), censored = TRUE)
    data.frame(analysis = analysis, stratum = name, day = num(s$time), n_risk = s$n.risk, n_event = s$n.event,
               n_censor = s$n.censor, survival = num(s$surv), std_error = num(s$std.err),
               lower = num(s$lower), upper = num(s$upper))
  }
  out <- one("ALL", seq_along(t))
  groups <- sort(unique(stratum), method = "radix")
  for (g in groups) out <- rbind(out, one(g, which(stratum == g)))
  km_out[[length(km_out) + 1]] <<- out
  if (length(groups) >= 2) {
    sd <- survdiff(Surv(t, ev) ~ stratum)
    df <- length(groups) - 1
    lr_out[[length(lr_out) + 1]] <<- data.frame(analysis = analysis, chi_square = num(sd$chisq), df = df,
                                                p_value = num(pchisq(sd$chisq, df, lower.tail = FALSE)))
  }
}

# relapse: the landmark relapse outcome in days from admission, the first day of the
# relapse week, or, without relapse, of the last week a run could still have been seen
# to start (relapse_censor_week); not at risk outside the cohort, without a relapse
# outcome or a censor week, or when that day falls before the landmark.
relapsed <- e$relapse_event %in% TRUE
relapse_wk <- ifelse(relapsed, e$relapse_week, e$relapse_censor_week)
relapse_day <- 7 * (relapse_wk - 1)
relapse_ok <- e$in_landmark_cohort & !is.na(e$relapse_event) & !is.na(relapse_wk) & relapse_day >= L
relapse_ok[is.na(relapse_ok)] <- FALSE

km("retention", e$retention_days, e$dropout_event, e$program_id)
coh <- e$in_landmark_cohort
km("retention_landmark", e$retention_days[coh], e$dropout_event[coh], e$dose_band[coh])
km("relapse_landmark", relapse_day[relapse_ok], relapsed[relapse_ok], e$dose_band[relapse_ok])
wr(do.call(rbind, km_out), "r_km.csv")
wr(if (length(lr_out)) do.call(rbind, lr_out) else data.frame(analysis = character(0)), "r_logrank.csv")

# --- Covariates ---------------------------------------------------------------------
# design applies the pipeline's rules to the episodes rows of a fit: a covariate
# missing for all of them is left out, then incomplete rows, then a covariate with
# one value; booleans are 0/1, categories indicators against the most frequent level
# (ties by name, byte order).
design <- function(rows) {
  idx <- which(rows)
  dropped <- character(0)
  used <- character(0)
  for (c in covs) if (length(idx) > 0 && all(is.na(e[[c]][idx]))) dropped <- c(dropped, c) else used <- c(used, c)
  complete <- if (length(used)) complete.cases(e[idx, used, drop = FALSE]) else rep(TRUE, length(idx))
  excluded <- sum(!complete)
  idx <- idx[complete]
  X <- matrix(0, nrow = length(idx), ncol = 0)
  names <- character(0)
  for (c in used) {
    v <- e[[c]][idx]
    tb <- table(v)
    lv <- names(tb)[order(-as.vector(tb), names(tb), method = "radix")]
    if (length(lv) == 1) {
      dropped <- c(dropped, c)
      next
    }
    if (c %in% c("co_occurring", "on_medication")) {
      X <- cbind(X, as.numeric(v == "true"))
      names <- c(names, c)
    } else for (l in lv[-1]) {
      X <- cbind(X, as.numeric(v == l))
      names <- c(names, paste0(c, "=", l))
    }
  }
  list(idx = idx, X = X, names = names, dropped = dropped, excluded = excluded)
}

models_out <- list()
emit <- function(model, terms, status, b, se, n, events, excluded) {
  z <- b / se
  models_out[[length(models_out) + 1]] <<- data.frame(
    model = model, term = terms, status = status, estimate = num(b), std_error = num(se),
    lower = num(exp(b - z95 * se)), upper = num(exp(b + z95 * se)), p_value = num(2 * pnorm(-abs(z))),
    n = n, events = events, n_excluded = excluded)
}
nofit <- function(model, excluded) emit(model, "(no fit)", "nofit", NA, NA, 0, 0, excluded)
dropped_rows <- function(model, d, n, events) {
  for (c in d$dropped) emit(model, c, "dropped", NA, NA, n, events, d$excluded)
}

# cox fits one Cox model and records R's own verdicts: NA for an aliased column, and
# the columns of the warning "Loglik converged before variable k; coefficient may be
# infinite" as infinite.
cox <- function(model, d, start, stop, ev, M, terms) {
  if (length(stop) == 0) return(nofit(model, d$excluded))
  infinite <- integer(0)
  fit <- withCallingHandlers(
    if (is.null(start)) coxph(Surv(stop, ev) ~ M, ties = "efron", control = cox_control)
    else coxph(Surv(start, stop, ev) ~ M, ties = "efron", control = cox_control),
    warning = function(w) {
      m <- conditionMessage(w)
      if (grepl("coefficient may be infinite", m)) {
        infinite <<- as.integer(trimws(strsplit(sub(".*variable +([0-9, ]+);.*", "\\1", m), ",")[[1]]))
      }
      invokeRestart("muffleWarning")
    })
  b <- unname(coef(fit))
  se <- sqrt(pmax(diag(fit$var), 0))
  # coxph's own test can miss a coefficient that ran off (it did for age 65+ in
  # the trial's time-varying model: -18.6, standard error 7016): a standard error
  # above 1000 on the log hazard ratio is taken as infinite too.
  status <- ifelse(is.na(b), "aliased", ifelse(!is.na(se) & se > 1000, "infinite", "ok"))
  status[infinite] <- "infinite"
  se[is.na(b)] <- NA
  emit(model, terms, status, b, se, fit$n, fit$nevent, d$excluded)
  dropped_rows(model, d, fit$n, fit$nevent)
}

landmark <- function(model, rows, t, ev, exposure) {
  d <- design(rows)
  M <- cbind(e$landmark_sessions_per_week[d$idx], d$X)
  cox(model, d, NULL, t[d$idx], ev[d$idx], M, c(exposure, d$names))
}
landmark("landmark_cox_dropout", e$in_landmark_cohort, e$retention_days - L + 1, e$dropout_event, "landmark_sessions_per_week")
landmark("landmark_cox_relapse", relapse_ok, relapse_day - L + 1, relapsed, "landmark_sessions_per_week")

# Time-varying: one interval per week from week 2 while before the end of retention,
# the exposure the previous week's attended sessions.
w <- read.csv(file.path(dir, "weeks.csv"), stringsAsFactors = FALSE, colClasses = c(episode_id = "character"))
w <- w[order(w$episode_id, w$week, method = "radix"), ]
w$prev <- ave(w$attended, w$episode_id, FUN = function(a) c(0, head(a, -1)))
d <- design(e$retention_days + 1 > 7)
row <- match(w$episode_id, e$episode_id[d$idx])
w <- w[!is.na(row), ]
row <- row[!is.na(row)]
end <- e$retention_days[d$idx][row] + 1
w$start <- 7 * (w$week - 1)
w$stop <- pmin(7 * w$week, end)
at <- w$week >= 2 & w$start < end & w$stop > w$start
w$event <- e$dropout_event[d$idx][row] & w$stop == end
M <- cbind(w$prev, d$X[row, , drop = FALSE])[at, , drop = FALSE]
cox("time_varying_cox_dropout", d, w$start[at], w$stop[at], w$event[at], M, c("previous_week_sessions", d$names))

# Logistic: relapse by the horizon in the landmark cohort followed to it.
# A dropout before the horizon without relapse counts as relapse when missing screens
# count as positive (and is left out otherwise); any other episode without relapse
# counts only when a run starting in any week before the horizon could have been seen
# (the week after its censor week begins at or after the horizon).
base <- e$in_landmark_cohort & !is.na(e$relapse_event) & e$observed_horizon
dropout_before <- base & !relapsed & e$dropout_event & e$los_days < H
y <- relapse_ok & relapsed & relapse_day < H
evaluable <- relapse_ok & (relapsed | relapse_day + 7 >= H)
ok <- base & ifelse(dropout_before, policy == "positive", evaluable)
y <- y | dropout_before
d <- design(ok)
# With one outcome for every row there is nothing to fit: the pipeline says so and
# stores no estimate; glm would run the intercept to infinity.
if (length(d$idx) == 0 || length(unique(y[d$idx])) < 2) nofit("landmark_logistic_relapse", d$excluded) else {
  M <- cbind(e$landmark_sessions_per_week[d$idx], d$X)
  yy <- y[d$idx]
  # glm's own fit decides which columns are aliased (its QR tolerance is
  # min(1e-7, epsilon / 1000), so it must run at the default epsilon); glm's
  # standard errors come from the weights of the iteration before the last, so it is
  # then restarted from there on the columns it kept for a few more iterations.
  first <- suppressWarnings(glm(yy ~ M, family = binomial))
  kept <- !is.na(coef(first))
  X1 <- cbind(1, M)[, kept, drop = FALSE]
  fit <- suppressWarnings(glm.fit(X1, yy, family = binomial(), start = coef(first)[kept],
                                  control = glm.control(epsilon = 1e-14, maxit = 4)))
  b <- rep(NA_real_, length(kept))
  b[kept] <- fit$coefficients
  se <- rep(NA_real_, length(kept))
  se[kept] <- sqrt(pmax(diag(chol2inv(fit$qr$qr[seq_len(sum(kept)), seq_len(sum(kept)), drop = FALSE]))[order(fit$qr$pivot)], 0))
  # glm names no term when it warns of fitted probabilities of 0 or 1: a coefficient
  # whose standard error exceeds 1000 is taken as R's infinite one.
  status <- ifelse(!kept, "aliased", ifelse(se > 1000, "infinite", "ok"))
  emit("landmark_logistic_relapse", c("(intercept)", "landmark_sessions_per_week", d$names), status, b, se,
       length(d$idx), sum(yy), d$excluded)
  dropped_rows("landmark_logistic_relapse", d, length(d$idx), sum(yy))
}

# Naive: the whole episode against sessions per week over the stay.
cox("naive_cox_dropout", list(excluded = 0, dropped = character(0)), NULL, e$retention_days + 1, e$dropout_event,
    matrix(e$sessions_per_week, ncol = 1), "sessions_per_week")
wr(do.call(rbind, models_out), "r_models.csv")

# --- Wilson intervals and funnel limits --------------------------------------------
k <- read.csv(file.path(dir, "kpis.csv"), stringsAsFactors = FALSE, na.strings = "",
              colClasses = c(program_id = "character"))
k <- k[!is.na(k$denominator) & k$denominator > 0, ]
overall <- k[k$program_id == "ALL", c("period", "measure", "rate")]
names(overall)[3] <- "p0"
k <- merge(k, overall, by = c("period", "measure"))
wilson_lower <- rep(NA_real_, nrow(k))
wilson_upper <- wilson_lower
for (i in seq_len(nrow(k))) {
  x <- k$numerator[i]
  n <- k$denominator[i]
  # Retention rows hold a Kaplan-Meier estimate and its limits, not a proportion.
  if (!grepl("^retention_", k$measure[i]) && !is.na(x) && x == round(x) && x <= n) {
    ci <- suppressWarnings(prop.test(x, n, correct = FALSE)$conf.int)
    wilson_lower[i] <- ci[1]
    wilson_upper[i] <- ci[2]
  }
}
funnel <- function(z, sign) {
  v <- k$p0 + sign * z * sqrt(k$p0 * (1 - k$p0) / k$denominator)
  if (sign < 0) pmax(0, v) else pmin(1, v)
}
wr(data.frame(program_id = k$program_id, period = k$period, measure = k$measure,
              wilson_lower = num(wilson_lower), wilson_upper = num(wilson_upper),
              funnel_lower_95 = num(funnel(z95, -1)), funnel_upper_95 = num(funnel(z95, 1)),
              funnel_lower_998 = num(funnel(qnorm(0.999), -1)), funnel_upper_998 = num(funnel(qnorm(0.999), 1))),
   "r_kpis.csv")
