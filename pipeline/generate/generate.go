// Package generate makes synthetic program exports in the canonical layout: programs,
// patients, episodes, sessions and observations that look like an IOP's (weekly
// schedules of 9-19 hours, attendance that varies between people and over time,
// weekly drug screens, PHQ-9 and GAD-7, dropouts, completions and readmissions), with
// known effects planted for the models to recover, and, when asked, the mess of real
// exports. It streams: memory does not grow with the number of patients.
package generate

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/iop-outcomes/outcomes/pipeline"
)

// Config says what to generate.
type Config struct {
	// Patients is the number of people; each has one or more episodes.
	Patients int
	// Seed makes the output reproducible: the same seed gives the same files.
	Seed uint64
	// Messy writes two overlapping exports with the defects of real ones instead of
	// one clean export.
	Messy bool
	// Cutoff is the export date (the last date in the data); zero means 2026-09-30.
	Cutoff time.Time
	// AdmitFrom is the first admission date; zero means 2025-01-01.
	AdmitFrom time.Time
	// Layout is LayoutCanonical (the default: CSV files) or LayoutEHR (one XLSX
	// workbook in an EHR's names, codes and date format).
	Layout string
	// Weekly splits a clean export in two folders: base/, everything known a week
	// before the cutoff, and weekly/, the export of the last week (the sessions and
	// observations of those seven days with the patients and episodes active in
	// them), as a program sends week by week. Loading both equals loading the one
	// export.
	Weekly bool
}

// Effects are the planted effects, written to the ground-truth file.
type Effects struct {
	LandmarkDays int `json:"landmark_days"`
	// DropoutHRPerSession multiplies the hazard of dropout after the landmark for
	// each additional attended session per week in days 0..landmark-1.
	DropoutHRPerSession float64 `json:"dropout_hazard_ratio_per_weekly_session"`
	// RelapseHRPerSession does the same for the hazard of relapse after the landmark.
	RelapseHRPerSession float64 `json:"relapse_hazard_ratio_per_weekly_session"`
	// ReferenceDose is the dose (sessions per week) at which the baseline rates apply.
	ReferenceDose float64 `json:"reference_sessions_per_week"`
	// DropoutRatePerDay and RelapseRatePerDay are the baseline daily hazards after
	// the landmark at the reference dose.
	DropoutRatePerDay float64 `json:"dropout_rate_per_day_at_reference"`
	RelapseRatePerDay float64 `json:"relapse_rate_per_day_at_reference"`
	Mechanism         string  `json:"mechanism"`
	// FollowUps are the post-discharge follow-up contacts: at each horizon, the
	// probability that a person discharged (not died) is reached.
	FollowUps []FollowUpEffect `json:"followups"`
	// ReferralDelayMedianDays is, per program, the median number of days from referral
	// to admission; the delay is the median times a log-normal factor (sigma
	// ReferralDelaySigma), rounded to whole days.
	ReferralDelayMedianDays map[string]int `json:"referral_delay_median_days_by_program"`
	ReferralDelaySigma      float64        `json:"referral_delay_log_sd"`
	// ReferralDateShare is the share of episodes exported with a referral date.
	ReferralDateShare float64 `json:"referral_date_share"`
	// Satisfaction is how the CSQ-8 score at discharge is drawn.
	Satisfaction SatisfactionEffect `json:"satisfaction"`
	// CompletionRatioMedicaid is the planted payer gap: the completion rate of
	// episodes of Medicaid patients over that of commercially insured ones.
	CompletionRatioMedicaid float64 `json:"completion_ratio_medicaid_to_commercial"`
}

// FollowUpEffect is the planted response of one follow-up horizon.
type FollowUpEffect struct {
	// Days after discharge the contact is made (give or take JitterDays).
	Days       int `json:"days_after_discharge"`
	JitterDays int `json:"jitter_days"`
	// ReachCompleted and ReachOther are the probabilities that a person discharged as
	// completed, or for another reason but death, is reached.
	ReachCompleted float64 `json:"reach_probability_completed"`
	ReachOther     float64 `json:"reach_probability_other"`
}

// SatisfactionEffect plants a CSQ-8 score that rises with attendance: at discharge
// (not death) a person answers with probability ResponseCompleted (completed) or
// ResponseOther, and scores Intercept + PerAttendance * attendance rate + N(0, SD),
// rounded and kept within 8-32. The attendance rate is attended / (attended + no-show +
// cancelled by the patient), as episode_outcomes.attendance_rate counts it.
type SatisfactionEffect struct {
	ResponseCompleted float64 `json:"response_probability_completed"`
	ResponseOther     float64 `json:"response_probability_other"`
	Intercept         float64 `json:"score_at_no_attendance"`
	PerAttendance     float64 `json:"score_per_unit_attendance_rate"`
	SD                float64 `json:"score_sd"`
}

// Truth is the ground-truth file written beside the exports.
type Truth struct {
	Generator string  `json:"generator"`
	Seed      uint64  `json:"seed"`
	Patients  int     `json:"patients"`
	Messy     bool    `json:"messy"`
	Cutoff    string  `json:"cutoff"`
	Effects   Effects `json:"effects"`
	// Written counts rows written per file (relative path).
	Written map[string]int64 `json:"rows_written"`
	// Core counts the records a correct load must end with, per core table, and the
	// attended sessions among them.
	Core map[string]int64 `json:"expected_core_rows"`
	// AttendedSessions is the number of sessions whose final status is attended.
	AttendedSessions int64 `json:"expected_attended_sessions"`
	// Injected counts the reject rows a correct load must make per reason (messy only).
	Injected map[string]int64 `json:"expected_rejects_by_reason,omitempty"`
	// Repeats counts rows written twice, identical, within a file (messy only).
	Repeats int64 `json:"exact_repeat_rows,omitempty"`
	// Corrected counts sessions recorded as no_show in the first export and attended
	// in the second (messy only).
	Corrected int64 `json:"sessions_corrected_in_later_export,omitempty"`
}

// TruthFile is the name of the ground-truth file in the output folder.
const TruthFile = "ground_truth.json"

// Generate writes the exports into dir and returns the ground truth, which it also
// writes to dir/ground_truth.json.
func Generate(ctx context.Context, cfg Config, dir string) (*Truth, error) {
	if cfg.Patients < 1 {
		return nil, fmt.Errorf("patients %d: give at least 1", cfg.Patients)
	}
	if cfg.Cutoff.IsZero() {
		cfg.Cutoff = time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	}
	if cfg.AdmitFrom.IsZero() {
		cfg.AdmitFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Messy && cfg.Weekly {
		return nil, fmt.Errorf("weekly: a weekly split is written for a clean export only, not with messy")
	}
	switch cfg.Layout {
	case "", LayoutCanonical:
	case LayoutEHR:
		if cfg.Messy || cfg.Weekly {
			return nil, fmt.Errorf("layout ehr: --messy and --weekly are written in the canonical layout only")
		}
	default:
		return nil, fmt.Errorf("layout %q: use %s or %s", cfg.Layout, LayoutCanonical, LayoutEHR)
	}
	if !cfg.AdmitFrom.Before(cfg.Cutoff.AddDate(0, 0, -30)) {
		return nil, fmt.Errorf("admissions from %s: must start at least 30 days before the cutoff %s",
			cfg.AdmitFrom.Format(time.DateOnly), cfg.Cutoff.Format(time.DateOnly))
	}
	g := &gen{cfg: cfg, cutoff: dayOf(cfg.Cutoff), from: dayOf(cfg.AdmitFrom), dates: map[int]string{}}
	g.truth = &Truth{
		Generator: "etl generate " + pipeline.Version, Seed: cfg.Seed, Patients: cfg.Patients, Messy: cfg.Messy,
		Cutoff: cfg.Cutoff.Format(time.DateOnly), Effects: plantedEffects(),
		Written: map[string]int64{}, Core: map[string]int64{},
	}
	if cfg.Messy {
		// The second export's programs.csv lacks a required column: one reject for the file.
		g.truth.Injected = map[string]int64{"missing_column": 1}
		g.t1 = g.cutoff - 14
		g.exports = []*export{{name: "export-1", asOf: g.t1, from: math.MinInt32}, {name: "export-2", asOf: g.cutoff, from: g.t1 - 28}}
	} else if cfg.Weekly {
		g.exports = []*export{{name: "base", asOf: g.cutoff - 7, from: math.MinInt32}, {name: "weekly", asOf: g.cutoff, from: g.cutoff - 7, followUps: true}}
	} else {
		g.exports = []*export{{name: "", asOf: g.cutoff, from: math.MinInt32}}
	}
	for _, x := range g.exports {
		if err := x.open(dir, cfg.Messy, cfg.Layout == LayoutEHR); err != nil {
			g.closeAll()
			return nil, err
		}
	}
	g.writePrograms()
	for i := 0; i < cfg.Patients; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			g.closeAll()
			return nil, ctx.Err()
		}
		g.patient(i)
	}
	for _, x := range g.exports {
		for name, n := range x.rows {
			file := filepath.Join(x.name, name+".csv")
			if x.book != nil {
				file = filepath.Join(x.name, EHRWorkbook) + "#" + ehrTables[name].sheet
			}
			g.truth.Written[filepath.ToSlash(file)] = n
		}
	}
	if err := g.closeAll(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(g.truth, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, TruthFile), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write ground truth: %w", err)
	}
	return g.truth, nil
}

// Effects returns the effects a generation plants; they do not depend on the config.
func (Config) Effects() Effects { return plantedEffects() }

func plantedEffects() Effects {
	return Effects{
		LandmarkDays:        28,
		DropoutHRPerSession: 0.80,
		RelapseHRPerSession: 0.85,
		ReferenceDose:       4,
		DropoutRatePerDay:   0.010,
		RelapseRatePerDay:   0.012,
		Mechanism: "Dose is attended sessions per week in days 0-27. For episodes still in treatment at day 28, " +
			"the time from day 28 to dropout (the last attended session, give or take the days to the next scheduled one) " +
			"and to relapse onset are exponential with rate base * HR^(dose - reference), independent of everything else " +
			"given dose; completion at the planned length, transfer, incarceration and death censor them. After relapse " +
			"onset a collected drug screen is positive for the primary substance with probability 0.85, before it 0.05 " +
			"(0.35 in weeks 1-2). Payer gap: an episode of a Medicaid patient that reaches its planned length is discharged " +
			"as completed with probability completion_ratio_medicaid_to_commercial and otherwise as transferred (stepped down " +
			"elsewhere, censored like completion), so its completion rate is that ratio times a commercially insured one's; " +
			"nothing else depends on the payer.",
		FollowUps: []FollowUpEffect{
			{Days: 30, JitterDays: 0, ReachCompleted: 0.70, ReachOther: 0.20},
			{Days: 90, JitterDays: 5, ReachCompleted: 0.55, ReachOther: 0.15},
			{Days: 180, JitterDays: 5, ReachCompleted: 0.40, ReachOther: 0.10},
		},
		ReferralDelayMedianDays: map[string]int{"P01": 5, "P02": 9, "P03": 14, "P04": 7, "P05": 3, "P06": 2},
		ReferralDelaySigma:      0.5,
		ReferralDateShare:       0.9,
		Satisfaction: SatisfactionEffect{
			ResponseCompleted: 0.6, ResponseOther: 0.25, Intercept: 16, PerAttendance: 10, SD: 3,
		},
		CompletionRatioMedicaid: 0.75,
	}
}

// export is one export folder being written.
type export struct {
	name string // folder under the output dir; "" for a flat export
	asOf int    // the export's date: data after it is not known to it
	from int    // sessions and observations before this day are not in it
	// followUps: the export also carries the episodes of the observations in its
	// window (follow-up contacts after discharge), as a weekly export does.
	followUps bool
	files     []*os.File
	sinks     map[string]sink
	rows      map[string]int64
	err       error // the first write error
	// book is the workbook of the EHR layout, saved to bookPath when closed.
	book     *excelize.File
	bookPath string
}

// sink takes the rows of one table in canonical form.
type sink interface {
	Write(rec []string) error
}

// csvSink writes a table as a CSV file.
type csvSink struct{ w *csv.Writer }

func (s csvSink) Write(rec []string) error { return s.w.Write(rec) }

func entityOrder() []string {
	var names []string
	for _, e := range pipeline.Layout() {
		names = append(names, e.Name)
	}
	return names
}

func (x *export) open(dir string, messy, ehr bool) error {
	d := filepath.Join(dir, x.name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("make output folder: %w", err)
	}
	x.sinks = map[string]sink{}
	x.rows = map[string]int64{}
	if ehr {
		return x.openWorkbook(dir)
	}
	for _, e := range pipeline.Layout() {
		f, err := os.Create(filepath.Join(d, e.Name+".csv"))
		if err != nil {
			return fmt.Errorf("create export file: %w", err)
		}
		x.files = append(x.files, f)
		w := csv.NewWriter(f)
		var header []string
		for _, c := range e.Columns {
			header = append(header, c.Name)
		}
		if messy && e.Name == "patients" {
			// Real exports carry columns nobody asked for; the loader must never read them.
			header = append(header, "patient_name", "phone")
		}
		if messy && x.name == "export-2" && e.Name == "programs" {
			// A later export that lost a required column: the file must be refused whole.
			header = header[:len(header)-1]
		}
		w.Write(header)
		x.sinks[e.Name] = csvSink{w}
	}
	return nil
}

func (x *export) write(entity string, rec []string) {
	if entity == "programs" && len(rec) > 0 && x.name == "export-2" {
		rec = rec[:len(rec)-1]
	}
	if err := x.sinks[entity].Write(rec); err != nil && x.err == nil {
		x.err = err
	}
	x.rows[entity]++
}

func (g *gen) closeAll() error {
	var first error
	for _, x := range g.exports {
		if x.err != nil && first == nil {
			first = fmt.Errorf("write export: %w", x.err)
		}
		for _, s := range x.sinks {
			if c, ok := s.(csvSink); ok {
				c.w.Flush()
				if err := c.w.Error(); err != nil && first == nil {
					first = fmt.Errorf("write export: %w", err)
				}
			}
		}
		for _, f := range x.files {
			if err := f.Close(); err != nil && first == nil {
				first = fmt.Errorf("write export: %w", err)
			}
		}
		x.files = nil
		if x.book != nil {
			if err := x.closeWorkbook(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// gen is the state of one generation.
type gen struct {
	cfg     Config
	cutoff  int // day number of the cutoff
	from    int // first admission day
	t1      int // date of the first export when messy
	exports []*export
	truth   *Truth
	dates   map[int]string
}

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

func dayOf(t time.Time) int { return int(t.Sub(epoch).Hours() / 24) }

// date formats a day number as YYYY-MM-DD, from a cache: only a few thousand days occur.
func (g *gen) date(d int) string {
	s, ok := g.dates[d]
	if !ok {
		s = epoch.AddDate(0, 0, d).Format(time.DateOnly)
		g.dates[d] = s
	}
	return s
}

// weekday of a day number, Monday = 0.
func weekday(d int) int { return (d + 3) % 7 } // 1970-01-01 was a Thursday

func normal(r *rand.Rand, mean, sd float64) float64 { return mean + sd*r.NormFloat64() }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// pick returns an index drawn with the given weights.
func pick(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	u := r.Float64() * total
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}
