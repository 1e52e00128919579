package models

import "fmt"

// Weekly drug-screen symbols of episode_weeks.uds_symbol (DESIGN.md section 4).
const (
	Positive     = '+' // every specimen of the week positive
	Negative     = '-' // every specimen negative
	Mixed        = '*' // some positive, some negative
	Missing      = 'o' // a specimen was expected and not given
	NotScheduled = '_' // no specimen was expected
)

// Definitions are the relapse definitions offered, in the order they are listed.
func Definitions() []string {
	return []string{"consecutive4", "consecutive4_from_week3", "consecutive3", "first_positive_after_negative", "self_report"}
}

// Policies are the missing-test policies: a missing week counts as positive, is
// ignored (left out of the sequence), or breaks a run of positives.
func Policies() []string { return []string{"positive", "ignore", "break"} }

// Relapse applies a definition and a missing-test policy to the weekly symbols of
// one episode (symbols[0] is week 1) and returns whether a relapse happened and its
// week. self_report is not a rule over screens; see SelfReportRelapse.
//
// A mixed week counts as positive (there was use). Weeks with no screen expected are
// left out: they neither continue nor break a run.
func Relapse(symbols string, definition, policy string) (bool, int, error) {
	switch policy {
	case "positive", "ignore", "break":
	default:
		return false, 0, fmt.Errorf("missing-test policy %q: use one of positive, ignore, break", policy)
	}
	run, from := 0, 1
	switch definition {
	case "consecutive4":
		run = 4
	case "consecutive4_from_week3":
		run, from = 4, 3
	case "consecutive3":
		run = 3
	case "first_positive_after_negative":
		event, week := firstPositiveAfterNegative(symbols, policy)
		return event, week, nil
	default:
		return false, 0, fmt.Errorf("relapse definition %q: use one of %v", definition, Definitions())
	}
	length, start := 0, 0
	for i := from - 1; i < len(symbols); i++ {
		week := i + 1
		switch symbols[i] {
		case Positive, Mixed:
		case Missing:
			switch policy {
			case "ignore":
				continue
			case "break":
				length = 0
				continue
			}
		case NotScheduled:
			continue
		default: // negative, or anything unknown
			length = 0
			continue
		}
		if length == 0 {
			start = week
		}
		length++
		if length == run {
			return true, start, nil
		}
	}
	return false, 0, nil
}

// firstPositiveAfterNegative finds the first positive week after at least one
// negative one. A missing week is positive under the positive policy and otherwise
// neither positive nor negative.
func firstPositiveAfterNegative(symbols, policy string) (bool, int) {
	seenNegative := false
	for i := 0; i < len(symbols); i++ {
		positive := false
		switch symbols[i] {
		case Negative:
			seenNegative = true
		case Positive, Mixed:
			positive = true
		case Missing:
			positive = policy == "positive"
		}
		if positive && seenNegative {
			return true, i + 1
		}
	}
	return false, 0
}

// SelfReportRelapse applies the self_report definition: the first week after week 2
// with any self-reported day of use. useDays[0] is week 1; a negative value means no
// report that week.
func SelfReportRelapse(useDays []float64) (bool, int) {
	for i := 2; i < len(useDays); i++ {
		if useDays[i] > 0 {
			return true, i + 1
		}
	}
	return false, 0
}

// DropoutWeek returns the first week of 4 consecutive missing weeks (the dropout rule
// in the drug-screen vocabulary), or 0.
func DropoutWeek(symbols string) int {
	length, start := 0, 0
	for i := 0; i < len(symbols); i++ {
		switch symbols[i] {
		case Missing:
			if length == 0 {
				start = i + 1
			}
			length++
			if length == 4 {
				return start
			}
		case NotScheduled:
		default:
			length = 0
		}
	}
	return 0
}
