package generate

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// Layouts the generator writes.
const (
	// LayoutCanonical is a folder of CSV files in the canonical layout.
	LayoutCanonical = "canonical"
	// LayoutEHR is one XLSX workbook as an EHR exports it: a sheet per table, the
	// EHR's own column names and codes, dates as month/day/year. The built-in
	// profile ehr-example (profiles/ehr-example.yaml) maps it back.
	LayoutEHR = "ehr"
)

// EHRWorkbook is the name of the workbook of the EHR layout.
const EHRWorkbook = "ehr-export.xlsx"

// ehrTable is how the EHR layout writes one canonical table: its sheet, a header per
// canonical column (in the canonical order), and the codes it writes in place of the
// canonical ones, per column.
type ehrTable struct {
	sheet   string
	headers []string
	codes   map[int]map[string]string
	dates   []int // columns holding dates
	bools   []int // columns holding booleans, written Y / N
}

// ehrTables mirrors profiles/ehr-example.yaml; loading a generated workbook through
// that profile and comparing it with its canonical twin tests both.
var ehrTables = map[string]ehrTable{
	"programs": {
		sheet:   "Programs",
		headers: []string{"Program Code", "Program Name", "Location", "Service Level", "Length (weeks)", "Hours per Week"},
		codes:   map[int]map[string]string{3: {"IOP": "Intensive Outpatient", "PHP": "Partial Hospitalization", "OP": "Outpatient"}},
	},
	"patients": {
		sheet:   "Clients",
		headers: []string{"MRN", "Birth Year", "Gender", "Race", "Ethnicity", "Primary Insurance"},
		codes: map[int]map[string]string{
			2: {"female": "F", "male": "M", "other": "X", "unknown": "U"},
			4: {"hispanic": "Hispanic or Latino", "not_hispanic": "Not Hispanic or Latino", "unknown": "Unknown"},
			5: {"medicaid": "Medicaid", "medicare": "Medicare", "commercial": "Commercial", "self_pay": "Self Pay", "other": "Other", "unknown": "Unknown"},
		},
	},
	"episodes": {
		sheet: "Encounters",
		headers: []string{"Encounter Number", "MRN", "Program Code", "Admission Date", "Discharge Date", "Discharge Disposition",
			"Primary Substance", "Dual Diagnosis", "MAT", "Referral Source", "Referral Date"},
		codes: map[int]map[string]string{5: {"completed": "Completed Treatment", "dropped_out": "Left Against Advice",
			"terminated": "Administrative Discharge", "transferred": "Transferred", "incarcerated": "Incarcerated", "died": "Deceased", "other": "Other"}},
		dates: []int{3, 4, 10},
		bools: []int{7, 8},
	},
	"sessions": {
		sheet: "Appointments",
		headers: []string{"Appointment ID", "Encounter Number", "MRN", "Appointment Date", "Start Time", "Service",
			"Appointment Status", "Duration (min)", "Provider ID"},
		codes: map[int]map[string]string{
			5: {"individual": "Individual Therapy", "group": "Group Therapy", "family": "Family Therapy", "peer_support": "Peer Support",
				"medication_management": "Medication Management", "psychoeducation": "Psychoeducation", "case_management": "Case Management", "other": "Other"},
			6: {"attended": "Show", "no_show": "No Show", "cancelled_by_patient": "Late Cancel", "cancelled_by_program": "Cancelled by Clinic", "excused": "Excused"},
		},
		dates: []int{3},
	},
	"observations": {
		sheet:   "Results",
		headers: []string{"MRN", "Encounter Number", "Result Date", "Test", "Result", "Units"},
		codes:   map[int]map[string]string{3: {"phq9": "PHQ-9", "gad7": "GAD-7", "bam_use_days": "BAM Use Days", "csq8": "CSQ-8"}},
		dates:   []int{2},
	},
}

// sheetRowLimit is the most rows a worksheet holds.
const sheetRowLimit = 1 << 20

// xlsxSink writes one canonical table into a sheet of the workbook, transformed into
// the EHR's names and codes.
type xlsxSink struct {
	t    ehrTable
	sw   *excelize.StreamWriter
	rows int
}

func (s *xlsxSink) Write(rec []string) error {
	if s.rows >= sheetRowLimit {
		return fmt.Errorf("sheet %s is full (%d rows); generate fewer patients for the ehr layout", s.t.sheet, sheetRowLimit)
	}
	s.rows++
	cells := make([]any, len(rec))
	for i, v := range rec {
		cells[i] = v
		if m := s.t.codes[i]; m != nil {
			if c, ok := m[v]; ok {
				cells[i] = c
			}
		}
		for _, d := range s.t.dates {
			if d == i && v != "" {
				if t, err := time.Parse(time.DateOnly, v); err == nil {
					cells[i] = t.Format("01/02/2006")
				}
			}
		}
		for _, b := range s.t.bools {
			if yn, ok := map[string]string{"true": "Y", "false": "N"}[v]; ok && b == i {
				cells[i] = yn
			}
		}
		if n, err := strconv.Atoi(v); err == nil && i > 0 && s.t.codes[i] == nil && len(v) < 10 {
			cells[i] = n // counts and years as numbers, as spreadsheets hold them
		}
	}
	cell, _ := excelize.CoordinatesToCellName(1, s.rows)
	return s.sw.SetRow(cell, cells)
}

// openWorkbook makes the workbook of the EHR layout with one sheet per table and its
// header row written.
func (x *export) openWorkbook(dir string) error {
	x.book = excelize.NewFile()
	x.bookPath = filepath.Join(dir, x.name, EHRWorkbook)
	first := true
	for _, name := range entityOrder() {
		t := ehrTables[name]
		if first {
			if err := x.book.SetSheetName("Sheet1", t.sheet); err != nil {
				return err
			}
			first = false
		} else if _, err := x.book.NewSheet(t.sheet); err != nil {
			return err
		}
		sw, err := x.book.NewStreamWriter(t.sheet)
		if err != nil {
			return err
		}
		s := &xlsxSink{t: t, sw: sw}
		if err := s.Write(t.headers); err != nil {
			return err
		}
		x.sinks[name] = s
	}
	return nil
}

// closeWorkbook flushes every sheet and saves the workbook.
func (x *export) closeWorkbook() error {
	var first error
	for _, name := range entityOrder() {
		if s, ok := x.sinks[name].(*xlsxSink); ok {
			if err := s.sw.Flush(); err != nil && first == nil {
				first = err
			}
		}
	}
	if first == nil {
		first = x.book.SaveAs(x.bookPath)
	}
	if err := x.book.Close(); err != nil && first == nil {
		first = err
	}
	x.book = nil
	if first != nil {
		return fmt.Errorf("write workbook: %w", first)
	}
	return nil
}
