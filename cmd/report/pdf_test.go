package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/iop-outcomes/outcomes/pipeline/pdf"
)

// browserOrSkip returns the Chromium of the machine; without one the test is
// skipped, except in CI, where it fails.
func browserOrSkip(t *testing.T) string {
	t.Helper()
	browser, err := pdf.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is needed (.ci/run installs it): %v", err)
		}
		t.Skip(err)
	}
	return browser
}

// TestReportPDF writes the report with --pdf on each paper and checks that the PDF
// is part of the set (its hash in the manifest), is on that paper, has a sane number
// of pages, and that the page, laid out for print at the paper's printable width
// after preparePrint(), has every table open and nothing wider than the paper.
func TestReportPDF(t *testing.T) {
	browser := browserOrSkip(t)
	db := sampleDB(t)
	tests := []struct {
		paper string
		// width is the MediaBox width in points; px the width inside the page's
		// 12 mm margins, in CSS pixels.
		width string
		px    int64
	}{
		{"letter", "612", 725},
		{"a4", "595", 703},
	}
	for _, tt := range tests {
		t.Run(tt.paper, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report")
			if _, err := runCLI(t, "--db", db, "--out", out, "--pdf", "--paper", tt.paper); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(out, "report.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "%PDF-") {
				t.Fatalf("report.pdf is not a PDF: %q", b[:min(20, len(b))])
			}
			var m struct{ Files map[string]string }
			mb, err := os.ReadFile(filepath.Join(out, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(mb, &m); err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(b)
			if got := m.Files["report.pdf"]; got != hex.EncodeToString(h[:]) {
				t.Errorf("manifest names report.pdf %q, want its hash", got)
			}
			pages := regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(b, -1)
			if len(pages) < 5 || len(pages) > 40 {
				t.Errorf("report.pdf has %d pages, want 5 to 40", len(pages))
			}
			box := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)`).FindSubmatch(b)
			if box == nil || !strings.HasPrefix(string(box[1]), tt.width) {
				t.Errorf("report.pdf's MediaBox %q, want a width of %s points (%s)", box, tt.width, tt.paper)
			}
			for _, o := range printOverflow(t, browser, filepath.Join(out, "report.html"), tt.px) {
				t.Errorf("printed on %s: %s", tt.paper, o)
			}
		})
	}
}

// printOverflow lays the page out for print at width CSS pixels, calls
// preparePrint() as report --pdf does, and lists what is wider than the page and
// every table left closed (as render_test.go's TestPageInChromium does).
func printOverflow(t *testing.T, browser, page string, width int64) []string {
	t.Helper()
	profile, err := os.MkdirTemp("", "report-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), pdf.Offline(browser, profile)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var overflow []string
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(width, 1000),
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady("body"),
		emulation.SetEmulatedMedia().WithMedia("print"),
		chromedp.Evaluate(`preparePrint()`, nil),
		chromedp.Sleep(200*time.Millisecond),
		pdf.Overflow(&overflow),
	)
	if err != nil {
		t.Fatal(err)
	}
	return overflow
}

// TestPDFNeedsABrowserAndAPaper checks the errors a person sees: no browser names
// what to install, an unknown paper names the papers.
func TestPDFNeedsABrowserAndAPaper(t *testing.T) {
	_, err := pdf.Find("no-such-browser-for-report-tests")
	if !errors.Is(err, pdf.ErrNoBrowser) || !strings.Contains(err.Error(), "install Chromium") {
		t.Errorf("error %v, want ErrNoBrowser saying what to install", err)
	}
	_, err = runCLI(t, "--db", filepath.Join(t.TempDir(), "none.duckdb"), "--pdf", "--paper", "legal")
	if err == nil || !strings.Contains(err.Error(), "letter or a4") {
		t.Errorf("--paper legal: error %v, want one naming letter and a4", err)
	}
}
