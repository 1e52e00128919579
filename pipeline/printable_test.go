package pipeline

import "testing"

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"export-1/programs.csv", "export-1/programs.csv"},
		{"ünïcode ok", "ünïcode ok"},
		{"x\x1b[2J\x1b]0;pwned\x07.csv", `x\x1b[2J\x1b]0;pwned\x07.csv`},
		{"a\tb\nc\rd", `a\tb\nc\rd`},
		{"c1\u009b31m", `c1\x9b31m`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"evil\u202egnp.csv", `evil\u202egnp.csv`},
		{"del\x7f", `del\x7f`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := PrintableLines("one\x1b\ntwo"); got != "one\\x1b\ntwo" {
		t.Errorf("PrintableLines: %q", got)
	}
}
