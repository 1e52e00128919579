package models

import "fmt"

// Weekly drug-screen symbols of episode_weeks.uds_symbol (docs/methods.md).
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
	if definition == "first_positive_after_negative" {
		event, week := firstPositiveAfterNegative(symbols, policy)
		return event, week, nil
	}
	run, from, err := runOf(definition)
	if err != nil {
		return false, 0, err
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

// runOf returns the run length k of a run-based definition and the week it starts
// counting from.
func runOf(definition string) (run, from int, err error) {
	switch definition {
	case "consecutive4":
		return 4, 1, nil
	case "consecutive4_from_week3":
		return 4, 3, nil
	case "consecutive3":
		return 3, 1, nil
	}
	return 0, 0, fmt.Errorf("relapse definition %q: use one of %v", definition, Definitions())
}

// CensorWeek is the time at risk of an episode without relapse under a definition
// and a missing-test policy (symbols[0] is week 1): the last week in which a relapse
// could still have been seen to start. The episode is censored there, never at
// discharge: a run of k weeks is dated to its first week, so a run that starts in the
// last k-1 observed weeks can never be seen, and counting those weeks as at risk would
// overstate relapse-free time. CensorWeek is therefore the k-th last observed week
// (the last observed week - k + 1 when every week is observed), from the week the
// definition counts from. A week is observed when the definition reads it: a screened
// week, or a missing one unless the policy ignores missing screens (under break a
// missing week is read: it ends a run); a week with no screen expected is not.
// first_positive_after_negative is a run of one week, over the weeks that can be
// positive or negative under the policy, after at least one such week.
//
// CensorWeek is 0 when no week could have been seen, because the episode has fewer
// observed weeks than the run needs: such an episode was never at risk of an
// observable relapse, and the models leave it out rather than censor it at 0 (which
// would change no estimate but count it in n at risk as if it had been followed).
// self_report is not a rule over screens; see SelfReportCensorWeek.
func CensorWeek(symbols, definition, policy string) (int, error) {
	switch policy {
	case "positive", "ignore", "break":
	default:
		return 0, fmt.Errorf("missing-test policy %q: use one of positive, ignore, break", policy)
	}
	if definition == "first_positive_after_negative" {
		observed := func(c byte) bool {
			return c == Positive || c == Mixed || c == Negative || (c == Missing && policy == "positive")
		}
		if lastStart(symbols, 1, 2, observed) == 0 {
			return 0, nil // a positive is seen only after an observed week
		}
		return lastStart(symbols, 1, 1, observed), nil
	}
	run, from, err := runOf(definition)
	if err != nil {
		return 0, err
	}
	return lastStart(symbols, from, run, func(c byte) bool {
		return c != NotScheduled && !(c == Missing && policy == "ignore")
	}), nil
}

// SelfReportCensorWeek is CensorWeek for the self_report definition over an
// episode's weeks: its last week, when that is after week 2. A week without a report
// is read as no use (timeline follow-back records the days of use), so every week is
// observed.
func SelfReportCensorWeek(weeks int) int {
	if weeks < 3 {
		return 0
	}
	return weeks
}

// DropoutCensorWeek is CensorWeek for dropout in the drug-screen vocabulary (a run
// of 4 missing weeks dated to its first week): the 4th last week that expected a
// screen, or 0.
func DropoutCensorWeek(symbols string) int {
	return lastStart(symbols, 1, 4, func(c byte) bool { return c != NotScheduled })
}

// lastStart returns the k-th last week, from week from on, whose symbol is observed,
// or 0 when there are fewer than k such weeks.
func lastStart(symbols string, from, k int, observed func(byte) bool) int {
	seen := 0
	for i := len(symbols) - 1; i >= from-1 && i >= 0; i-- {
		if observed(symbols[i]) {
			seen++
			if seen == k {
				return i + 1
			}
		}
	}
	return 0
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
