// Package pipeline holds the domain of the outcomes pipeline: the canonical export
// layout (the entities a program exports and the columns of each) and the version the
// tools stamp on what they write. Its subpackages are the stages of the data flow:
// store opens the DuckDB database and applies the schema, pseudo keys patient
// identifiers, ingest loads exports through staging into the core tables, and
// generate makes synthetic exports.
package pipeline

// Version is the version of the tools, recorded in the ledger of every run.
const Version = "0.1.0"

// Column is one column of an entity's export layout.
type Column struct {
	// Name is the column's header name, lower case.
	Name string
	// Optional columns may be absent from a file's header; a required column that is
	// absent fails the whole file.
	Optional bool
	// Pseudonym names the identifier kind ("patient", "clinician") whose values are
	// replaced by a keyed pseudonym at ingest; empty for ordinary columns.
	Pseudonym string
}

// Entity is one table of the canonical export layout: a file stem (programs.csv)
// that is also the name of the core table it feeds.
type Entity struct {
	Name    string
	Columns []Column
	// Key is the natural key of the core table; a later export that has a row with
	// the same key replaces the earlier row.
	Key []string
}

// Layout returns the canonical export layout in load order: every entity comes after
// the ones it refers to.
func Layout() []Entity {
	return []Entity{
		{
			Name: "programs",
			Columns: []Column{
				{Name: "program_id"}, {Name: "name"}, {Name: "site"}, {Name: "level_of_care"},
				{Name: "planned_weeks"}, {Name: "planned_hours_per_week"},
			},
			Key: []string{"program_id"},
		},
		{
			Name: "patients",
			Columns: []Column{
				{Name: "patient_id", Pseudonym: "patient"}, {Name: "birth_year"}, {Name: "sex"},
				{Name: "race", Optional: true}, {Name: "ethnicity", Optional: true}, {Name: "payer", Optional: true},
			},
			Key: []string{"patient_key"},
		},
		{
			Name: "episodes",
			Columns: []Column{
				{Name: "episode_id"}, {Name: "patient_id", Pseudonym: "patient"}, {Name: "program_id"},
				{Name: "admit_date"}, {Name: "discharge_date"}, {Name: "discharge_reason"},
				{Name: "primary_substance"}, {Name: "co_occurring"}, {Name: "on_medication"},
				{Name: "referral_source", Optional: true}, {Name: "referral_date", Optional: true},
			},
			Key: []string{"episode_id"},
		},
		{
			Name: "sessions",
			Columns: []Column{
				{Name: "session_id"}, {Name: "episode_id"}, {Name: "patient_id", Pseudonym: "patient"},
				{Name: "session_date"}, {Name: "start_time", Optional: true}, {Name: "session_type"},
				{Name: "status"}, {Name: "minutes"}, {Name: "clinician_id", Optional: true, Pseudonym: "clinician"},
			},
			Key: []string{"session_id"},
		},
		{
			Name: "observations",
			Columns: []Column{
				{Name: "patient_id", Pseudonym: "patient"}, {Name: "episode_id"}, {Name: "obs_date"},
				{Name: "measure"}, {Name: "value"}, {Name: "unit", Optional: true},
			},
			Key: []string{"patient_key", "obs_date", "measure"},
		},
	}
}

// EntityByName returns the layout entity with the given name.
func EntityByName(name string) (Entity, bool) {
	for _, e := range Layout() {
		if e.Name == name {
			return e, true
		}
	}
	return Entity{}, false
}
