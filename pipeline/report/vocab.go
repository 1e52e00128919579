package report

import (
	"slices"
	"strings"
)

// Term is how a measure is named and explained to a person. The vocabulary is the one
// place the page, the workbook and the Measures sheet take their words from.
type Term struct {
	// Name is the measure's name in the database (kpis.measure).
	Name string
	// Label is the measure in plain words, as a tile or a legend shows it.
	Label string
	// Definition says what is counted, over what: numerator / denominator.
	Definition string
	// Unit is what the figure is: a share of episodes or sessions, or a count.
	Unit string
	// Higher is true when a higher figure is better.
	Higher bool
	// KaplanMeier marks a rate that an internal report gives as a Kaplan-Meier
	// estimate, which is not the numerator over the denominator.
	KaplanMeier bool
}

// vocabulary lists the measures in reading order: volume, access, engagement,
// retention, outcomes, symptoms, follow-up after discharge, satisfaction. The
// distribution measures (unit days or points) are rows of kpi_distributions, not kpis.
func vocabulary() []Term {
	ret := func(n string) Term {
		return Term{Name: "retention_" + n, Label: "In treatment at " + n + " days", Unit: "share of episodes", Higher: true, KaplanMeier: true,
			Definition: "Episodes not dropped out by day " + n + " / episodes admitted in the quarter at least " + n + " days before the cutoff. " +
				"An internal report gives the Kaplan-Meier probability, in which completed and transferred episodes count until they leave; " +
				"an external report gives the share, computed from the rounded counts."}
	}
	followUp := func(n string) []Term {
		return []Term{
			{Name: "followup_contact_" + n, Label: "Reached at the " + n + "-day follow-up", Unit: "share of episodes", Higher: true,
				Definition: "Episodes reached " + n + " days after discharge, give or take followup_window_days (default 14) / episodes discharged in the quarter (not died) whose window closed by the cutoff. " +
					"This is the response rate of the follow-up: read it beside every follow-up outcome."},
			{Name: "followup_abstinent_" + n, Label: "Abstinent at the " + n + "-day follow-up, among those reached", Unit: "share of episodes", Higher: true,
				Definition: "Episodes reporting abstinence since discharge at the " + n + "-day follow-up / episodes reached then who answered. " +
					"An outcome among those reached, not of everyone discharged: read it beside the share reached."},
		}
	}
	terms := []Term{
		{Name: "census", Label: "Episodes in care", Unit: "episodes", Higher: true,
			Definition: "Episodes in treatment at any time in the quarter."},
		{Name: "admissions", Label: "Admissions", Unit: "episodes", Higher: true,
			Definition: "Episodes admitted in the quarter."},
		{Name: "discharges", Label: "Discharges", Unit: "episodes", Higher: true,
			Definition: "Episodes discharged in the quarter."},
		{Name: "length_of_stay", Label: "Median length of stay", Unit: "days", Higher: true,
			Definition: "Days from admission to discharge: the median over the episodes discharged in the quarter (half stayed longer); its denominator is those episodes. Longer is better up to the planned length: stays of 90 days or more predict better outcomes."},
		{Name: "referral_within_target", Label: "Admitted within the access target of referral", Unit: "share of episodes", Higher: true,
			Definition: "Episodes admitted within access_target_days (default 7) of their referral / episodes admitted in the quarter with a referral date."},
		{Name: "days_referral_to_admission", Label: "Days from referral to admission", Unit: "days", Higher: false,
			Definition: "Days from referral to admission: median and quartiles over episodes admitted in the quarter with a referral date (kpi_distributions)."},
		{Name: "first_session_within_target", Label: "First session within the access target of admission", Unit: "share of episodes", Higher: true,
			Definition: "Episodes with an attended session within access_target_days (default 7) of admission / episodes admitted in the quarter at least that many days before the cutoff."},
		{Name: "days_to_first_session", Label: "Days from admission to the first attended session", Unit: "days", Higher: false,
			Definition: "Days from admission to the first attended session: median and quartiles over episodes admitted in the quarter that attended one (kpi_distributions)."},
		{Name: "attendance_rate", Label: "Sessions attended", Unit: "share of sessions", Higher: true,
			Definition: "Sessions attended / sessions attended, missed or cancelled by the patient, sessions in the quarter (sessions the program cancelled or excused are not the patient's)."},
		{Name: "initiation", Label: "Started treatment (a session in the first 14 days)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes with an attended session on days 0-13 / episodes admitted in the quarter at least 14 days before the cutoff (after HEDIS IET)."},
		{Name: "engagement", Label: "Engaged (2 more sessions within 34 days)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes with 2 further attended sessions within 34 days of initiation / episodes admitted in the quarter at least 48 days before the cutoff."},
		{Name: "completion_rate", Label: "Completed treatment", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged as completed / all episodes discharged in the quarter."},
		ret("30"), ret("60"), ret("90"),
		{Name: "relapse_rate", Label: "Relapsed during treatment", Unit: "share of episodes", Higher: false,
			Definition: "Episodes discharged in the quarter that relapsed under the default definition, within the outcome window (outcome_window_weeks) / episodes discharged in the quarter."},
		{Name: "readmission_30", Label: "Readmitted within 30 days", Unit: "share of episodes", Higher: false,
			Definition: "Episodes discharged in the quarter followed by a new admission within 30 days / episodes discharged in the quarter at least 30 days before the cutoff."},
		{Name: "readmission_90", Label: "Readmitted within 90 days", Unit: "share of episodes", Higher: false,
			Definition: "Episodes discharged in the quarter followed by a new admission within 90 days / episodes discharged in the quarter at least 90 days before the cutoff."},
		{Name: "phq9_reliable_improvement", Label: "Depression improved (PHQ-9 down 6 or more)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose PHQ-9 fell by 6 points or more from baseline / those with a baseline and a later score."},
		{Name: "gad7_reliable_improvement", Label: "Anxiety improved (GAD-7 down 4 or more)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose GAD-7 fell by 4 points or more from baseline / those with a baseline and a later score."},
		{Name: "phq9_measured", Label: "Depression measured (a PHQ-9 during treatment)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter with at least one PHQ-9 score during the episode / episodes discharged in the quarter."},
		{Name: "phq9_response", Label: "Depression response (PHQ-9 halved)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose last PHQ-9 was at most half the baseline / those with a baseline above 0 and a later score."},
		{Name: "phq9_remission", Label: "Depression remission (PHQ-9 below 5)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose last PHQ-9 was below 5 / those with a baseline above 9 and a later score."},
		{Name: "gad7_measured", Label: "Anxiety measured (a GAD-7 during treatment)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter with at least one GAD-7 score during the episode / episodes discharged in the quarter."},
		{Name: "gad7_response", Label: "Anxiety response (GAD-7 halved)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose last GAD-7 was at most half the baseline / those with a baseline above 0 and a later score."},
		{Name: "gad7_remission", Label: "Anxiety remission (GAD-7 below 5)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter whose last GAD-7 was below 5 / those with a baseline of 10 or more and a later score."},
	}
	terms = append(terms, followUp("30")...)
	terms = append(terms, followUp("90")...)
	terms = append(terms, followUp("180")...)
	return append(terms,
		Term{Name: "satisfaction_response", Label: "Answered the satisfaction survey (CSQ-8)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes discharged in the quarter (not died) with a CSQ-8 score from admission to 30 days after discharge / episodes discharged in the quarter, not died."},
		Term{Name: "satisfied", Label: "Satisfied with care (CSQ-8)", Unit: "share of episodes", Higher: true,
			Definition: "Episodes with a CSQ-8 total of at least satisfied_min_score (default 24: an average answer of 3, good or mostly satisfied, on the 8 items) / episodes discharged in the quarter (not died) with a score. " +
				"Read it beside the share who answered."},
		Term{Name: "csq8_score", Label: "Satisfaction score (CSQ-8, 8-32)", Unit: "points", Higher: true,
			Definition: "Mean CSQ-8 total, with quartiles, over episodes discharged in the quarter (not died) with a score (kpi_distributions)."},
	)
}

// lookup finds a measure's term by its database name.
func lookup(name string) (Term, int, bool) {
	for i, t := range vocabulary() {
		if t.Name == name {
			return t, i, true
		}
	}
	return Term{}, 0, false
}

// definitions maps each measure to its definition.
func definitions() map[string]string {
	out := map[string]string{}
	for _, t := range vocabulary() {
		out[t.Name] = t.Definition
	}
	return out
}

// label is a measure's plain words, or the name itself for a name the vocabulary
// does not have.
func label(name string) string { return labelIn(vocabulary(), name) }

// labelIn is a name's plain words in a list of terms, or the name with spaces for
// underscores when the list does not have it.
func labelIn(terms []Term, name string) string {
	for _, t := range terms {
		if t.Name == name {
			return t.Label
		}
	}
	return strings.ReplaceAll(name, "_", " ")
}

// modelTerms names the fitted models in plain words, the headline first. A label says
// whether its ratio is a hazard ratio (Cox) or an odds ratio (logistic).
func modelTerms() []Term {
	return []Term{
		{Name: "landmark_cox_dropout", Label: "Dropout after the landmark, by early attendance (Cox, the headline)",
			Definition: "Hazard of dropout after the landmark day per additional weekly session attended before it, among episodes still in treatment then."},
		{Name: "landmark_cox_relapse", Label: "Relapse after the landmark, by early attendance (Cox)",
			Definition: "Hazard of relapse after the landmark day per additional weekly session attended before it."},
		{Name: "time_varying_cox_dropout", Label: "Dropout, week by week, by the previous week's sessions (Cox)",
			Definition: "Hazard of dropout per additional session attended in the previous week."},
		{Name: "landmark_logistic_relapse", Label: "Relapse by the horizon, by early attendance (logistic)",
			Definition: "Odds of relapse by the horizon day per additional weekly session attended before the landmark."},
		{Name: "naive_cox_dropout", Label: "Dropout, naive and biased, for comparison only (Cox)",
			Definition: "Hazard of dropout per weekly session over the whole stay: biased, since people who stay longer attend more."},
	}
}

// attributeTerms name what kpis_by_group breaks the measures down by, in reading
// order.
func attributeTerms() []Term {
	return []Term{
		{Name: "sex", Label: "Sex", Definition: "The patient's sex (patients.sex); Not recorded when the export gave none."},
		{Name: "race", Label: "Race", Definition: "The patient's race (patients.race)."},
		{Name: "ethnicity", Label: "Ethnicity", Definition: "The patient's ethnicity (patients.ethnicity)."},
		{Name: "payer", Label: "Payer", Definition: "The patient's primary payer (patients.payer)."},
		{Name: "age_band", Label: "Age at admission", Definition: "Admission year minus birth year, in bands (episode_outcomes.age_band)."},
	}
}

// vocabularyOf is the list of terms a column's vocabulary names.
func vocabularyOf(name string) []Term {
	switch name {
	case "models":
		return modelTerms()
	case "attributes":
		return attributeTerms()
	}
	return vocabulary()
}

// rank is a name's place in a list of terms; names the list does not have come last.
func rank(terms []Term, name string) int {
	if k := slices.IndexFunc(terms, func(t Term) bool { return t.Name == name }); k >= 0 {
		return k
	}
	return len(terms)
}

// lowerFirst writes a label in the middle of a sentence.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
