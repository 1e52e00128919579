// Package models is the models stage of the data flow: it runs the SQL models of
// queries/models in order, computes what SQL cannot (relapse sequences, Kaplan-Meier
// curves, log-rank tests, Cox and logistic fits) and writes every result back to
// DuckDB, with the parameters it used.
package models

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Params are the parameters of a rebuild. Their file form is YAML with the same names
// (see the README); flags override the file.
type Params struct {
	// LandmarkDays is L: exposure is attendance in days 0..L-1, the cohort is the
	// episodes still in treatment at day L.
	LandmarkDays int `yaml:"landmark_days"`
	// DoseBands are the lower edges of the dose bands, in attended sessions per week.
	DoseBands []float64 `yaml:"dose_bands"`
	// HoursBands are the lower edges of the hours-per-week bands (ASAM: <9, 9-19, 20+).
	HoursBands []float64 `yaml:"hours_bands"`
	// RelapseDefinition and MissingPolicy choose the default relapse outcome.
	RelapseDefinition string `yaml:"relapse_definition"`
	MissingPolicy     string `yaml:"missing_policy"`
	// Covariates adjust the landmark and time-varying models: any of age_band, sex,
	// primary_substance, co_occurring, on_medication, program.
	Covariates []string `yaml:"covariates"`
	// Cutoff is the data cutoff (YYYY-MM-DD); empty means the latest date in the data.
	Cutoff string `yaml:"cutoff"`
	// HorizonDays is the fixed horizon of the logistic model of relapse.
	HorizonDays int `yaml:"horizon_days"`
	// RelapseSubstances are the drug-screen measures (uds_<substance>) whose positive
	// results count as use; empty means every one but buprenorphine and methadone,
	// which are prescribed.
	RelapseSubstances []string `yaml:"relapse_substances"`
	// ScreensExpected says which weeks expect a drug screen: "recorded" (only the
	// weeks with a uds_specimen missing record count as missing) or "weekly" (every
	// week of an episode expects one, as in a trial's weekly schedule).
	ScreensExpected string `yaml:"screens_expected"`
	// OutcomeWindowWeeks bounds the weeks the relapse definitions and dropout by
	// screens read: weeks 1..W from admission, as a trial scores "relapse by week 24"
	// on its protocol's weeks only. 0 means the whole episode.
	OutcomeWindowWeeks int `yaml:"outcome_window_weeks"`
	// FollowUpWindowDays is the half-width of the window around each follow-up
	// horizon (30, 90 and 180 days after discharge): a contact recorded N - w to N + w
	// days after discharge counts as the N-day follow-up, and an episode is due for it
	// once day N + w has passed by the cutoff. Below 30, so the windows never overlap.
	FollowUpWindowDays int `yaml:"followup_window_days"`
	// AccessTargetDays is the access target: days from referral to admission, and from
	// admission to the first attended session, within which a program aims to act.
	AccessTargetDays int `yaml:"access_target_days"`
	// SatisfiedMinScore is the CSQ-8 total (8-32) from which a person counts as
	// satisfied: 24, an average item answer of 3, the first positive answer of every
	// item ("good", "mostly satisfied", "yes, generally").
	SatisfiedMinScore int `yaml:"satisfied_min_score"`
	// Spark says where etl models --engine spark runs the session-level models; it
	// is not a parameter of the models (their results do not depend on it).
	Spark SparkSettings `yaml:"spark"`
}

// SparkSettings are the Spark cluster of etl models --engine spark, in a parameter
// file: the master URL, the spark-submit program and Spark settings (--conf).
type SparkSettings struct {
	Master string            `yaml:"master"`
	Submit string            `yaml:"spark_submit"`
	Conf   map[string]string `yaml:"conf"`
}

// DefaultParams are the parameters docs/methods.md describes as the defaults.
func DefaultParams() Params {
	return Params{
		LandmarkDays:      28,
		DoseBands:         []float64{0, 1, 3, 5},
		HoursBands:        []float64{0, 9, 20},
		RelapseDefinition: "consecutive4",
		MissingPolicy:     "positive",
		Covariates:        []string{"co_occurring", "on_medication"},
		HorizonDays:       90,
		ScreensExpected:   "recorded",
		// Follow-up: 30 days +- 14 reads days 16-44 after discharge, 90 days 76-104,
		// 180 days 166-194.
		FollowUpWindowDays: 14,
		AccessTargetDays:   7,
		SatisfiedMinScore:  24,
	}
}

// CovariateNames are the covariates a model may be adjusted for.
func CovariateNames() []string {
	return []string{"age_band", "sex", "primary_substance", "co_occurring", "on_medication", "program"}
}

// LoadParams reads a parameter file over the defaults. Unknown names are an error
// that names the file and the line.
func LoadParams(path string) (Params, error) {
	p := DefaultParams()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("%s: %v; the parameters are described in the README", path, err)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Validate checks the parameters and says what is wrong.
func (p Params) Validate() error {
	if p.LandmarkDays < 7 || p.LandmarkDays > 365 {
		return fmt.Errorf("landmark_days %d: give a number of days from 7 to 365", p.LandmarkDays)
	}
	for name, edges := range map[string][]float64{"dose_bands": p.DoseBands, "hours_bands": p.HoursBands} {
		if len(edges) < 2 || edges[0] != 0 || !slices.IsSorted(edges) || len(slices.Compact(slices.Clone(edges))) != len(edges) {
			return fmt.Errorf("%s %v: give increasing lower edges starting at 0, at least two", name, edges)
		}
	}
	if !slices.Contains(Definitions(), p.RelapseDefinition) {
		return fmt.Errorf("relapse_definition %q: use one of %s", p.RelapseDefinition, strings.Join(Definitions(), ", "))
	}
	if !slices.Contains(Policies(), p.MissingPolicy) {
		return fmt.Errorf("missing_policy %q: use one of %s", p.MissingPolicy, strings.Join(Policies(), ", "))
	}
	for _, c := range p.Covariates {
		if !slices.Contains(CovariateNames(), c) {
			return fmt.Errorf("covariate %q: use any of %s", c, strings.Join(CovariateNames(), ", "))
		}
	}
	if p.Cutoff != "" {
		if _, err := time.Parse(time.DateOnly, p.Cutoff); err != nil {
			return fmt.Errorf("cutoff %q: give a date as YYYY-MM-DD", p.Cutoff)
		}
	}
	for _, m := range p.RelapseSubstances {
		if !strings.HasPrefix(m, "uds_") || m == "uds_specimen" || strings.Trim(m, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return fmt.Errorf("relapse_substances: %q is not a drug-screen result; name measures such as uds_opioids", m)
		}
	}
	if p.ScreensExpected != "recorded" && p.ScreensExpected != "weekly" {
		return fmt.Errorf("screens_expected %q: use recorded or weekly", p.ScreensExpected)
	}
	if p.OutcomeWindowWeeks < 0 || p.OutcomeWindowWeeks > 520 {
		return fmt.Errorf("outcome_window_weeks %d: give a number of weeks from 1 to 520, or 0 for the whole episode", p.OutcomeWindowWeeks)
	}
	if w := p.OutcomeWindowWeeks; w > 0 && 7*w <= p.LandmarkDays {
		return fmt.Errorf("outcome_window_weeks %d: the window ends on day %d, before the landmark (day %d); give a longer window", w, 7*w-1, p.LandmarkDays)
	}
	if p.FollowUpWindowDays < 0 || p.FollowUpWindowDays > 29 {
		return fmt.Errorf("followup_window_days %d: give a number of days from 0 to 29 (the windows around 30, 90 and 180 days must not overlap)", p.FollowUpWindowDays)
	}
	if p.AccessTargetDays < 0 || p.AccessTargetDays > 365 {
		return fmt.Errorf("access_target_days %d: give a number of days from 0 to 365", p.AccessTargetDays)
	}
	if p.SatisfiedMinScore < 8 || p.SatisfiedMinScore > 32 {
		return fmt.Errorf("satisfied_min_score %d: give a CSQ-8 total from 8 to 32", p.SatisfiedMinScore)
	}
	if p.HorizonDays <= p.LandmarkDays {
		return fmt.Errorf("horizon_days %d: must be after the landmark (%d days)", p.HorizonDays, p.LandmarkDays)
	}
	return nil
}

// bandLabels names the bands of lower edges: [0 1 3 5] gives <1, 1-2, 3-4, 5+.
func bandLabels(edges []float64) []string {
	var out []string
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for i, lo := range edges {
		switch {
		case i == 0:
			out = append(out, "<"+num(edges[1]))
		case i == len(edges)-1:
			out = append(out, num(lo)+"+")
		case lo == float64(int(lo)) && edges[i+1] == float64(int(edges[i+1])) && edges[i+1]-lo >= 1:
			out = append(out, num(lo)+"-"+num(edges[i+1]-1))
		default:
			out = append(out, num(lo)+" to <"+num(edges[i+1]))
		}
	}
	return out
}

func joinFloats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'f', -1, 64))
	}
	return strings.Join(s, "|")
}
