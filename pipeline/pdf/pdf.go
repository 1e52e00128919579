// Package pdf is the last step of the reports stage: it prints the report's page to
// PDF through a headless Chromium found on the machine, as a reader's browser would
// print it, with every table open and the charts drawn at the width of the paper.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ErrNoBrowser is returned by Find when no Chromium is on the machine.
var ErrNoBrowser = errors.New("no Chromium found")

// Browsers are the names Find looks for on PATH, in order, before /usr/bin/chromium.
func Browsers() []string {
	return []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
}

// Find returns the path of the first of names found on PATH, or else of
// /usr/bin/chromium (a Chromium outside PATH, as some packages install it). With no
// names it looks for Browsers.
func Find(names ...string) (string, error) {
	if len(names) == 0 {
		names = Browsers()
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	if slices.Equal(names, Browsers()) {
		if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return "/usr/bin/chromium", nil
		}
	}
	return "", fmt.Errorf("%w (looked for %s on PATH and /usr/bin/chromium): install Chromium (apt-get install chromium, or Google Chrome) to write report.pdf, or leave out --pdf",
		ErrNoBrowser, strings.Join(names, ", "))
}

// Paper is a sheet of paper, in inches.
type Paper struct {
	Name          string
	Width, Height float64
}

// Papers are the sheets a report prints on.
func Papers() []Paper {
	return []Paper{{"letter", 8.5, 11}, {"a4", 210 / 25.4, 297 / 25.4}}
}

// PaperNamed returns the paper of a name (letter or a4, any case).
func PaperNamed(name string) (Paper, error) {
	for _, p := range Papers() {
		if strings.EqualFold(strings.TrimSpace(name), p.Name) {
			return p, nil
		}
	}
	return Paper{}, fmt.Errorf("paper %q: use letter or a4", name)
}

// margin is the page's own @page margin (12 mm), which the printable width leaves.
const margin = 12 / 25.4

// Print prints page (a report page, self-contained) to PDF with the browser at
// browser on paper. The page is loaded from a private temporary folder, with every
// host unresolvable and a proxy that answers nothing, so that it can reach no
// network; it is laid out for print at the paper's printable width, and its
// preparePrint() opens every table and draws the charts again at that width.
func Print(ctx context.Context, browser string, page []byte, paper Paper) ([]byte, error) {
	dir, err := os.MkdirTemp("", "report-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o600); err != nil {
		return nil, err
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, Offline(browser, filepath.Join(dir, "profile"))...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	width := int((paper.Width - 2*margin) * 96)
	var ok bool
	var pdf []byte
	err = chromedp.Run(bctx,
		chromedp.EmulateViewport(int64(width), 1000),
		chromedp.Navigate("file://"+file),
		chromedp.WaitReady("body"),
		emulation.SetEmulatedMedia().WithMedia("print"),
		chromedp.Evaluate(`(typeof preparePrint === "function") && (preparePrint(), true)`, &ok),
		// Two frames: the charts have drawn again at the new width.
		chromedp.Evaluate(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, nil,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			pdf, _, err = cdppage.PrintToPDF().WithPaperWidth(paper.Width).WithPaperHeight(paper.Height).
				WithPrintBackground(true).Do(ctx)
			return err
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("print with %s: %w", browser, err)
	}
	if !ok {
		return nil, fmt.Errorf("print with %s: the page has no preparePrint(); it is not a report page", browser)
	}
	return pdf, nil
}

// Offline is how a browser is started to show or print a report: headless, with its
// own profile folder, every host unresolvable and a proxy that answers nothing, so
// that it reaches no network.
func Offline(browser, profile string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"), chromedp.ProxyServer("127.0.0.1:9"),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile))
}

// Overflow lists, into out, what of a page laid out for print is wider than the page,
// and every table left closed: what a printed report must not have.
func Overflow(out *[]string) chromedp.Action {
	return chromedp.Evaluate(`(() => {
		const out = [];
		const page = document.documentElement.clientWidth;
		document.querySelectorAll('table, .chart, canvas, h1, h2, p, .tiles').forEach(e => {
			const r = e.getBoundingClientRect();
			if (r.right > page + 1) out.push(e.tagName + ' ' + (e.id || e.textContent.slice(0, 40)) + ' ends at ' + Math.round(r.right) + ' of ' + page);
		});
		document.querySelectorAll('details').forEach(d => { if (!d.open) out.push('a closed table'); });
		return out;
	})()`, out)
}
