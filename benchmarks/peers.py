#!/usr/bin/env python3
"""Print how fast the project makes its catalogue PDFs against what people would use instead.

    python3 benchmarks/peers.py [--runs N]

Every way renders the exact HTML of every catalogue PDF `build` makes (each file in each language
on each paper), in a copy of this project:

- the `weasyprint` command, one process per file, with the project's stylesheets;
- WeasyPrint in one process, one `HTML(...).write_pdf()` per file;
- Chromium through Playwright (Debian's /usr/bin/chromium), one browser, `page.pdf()` per file,
  on the same HTML with its styles inlined (skipped, with a message, where Chromium is absent);
- the project's own `build`: from nothing (--force), again with nothing changed, and again
  after one leaflet is edited;
- a personalised handout (`handout dvt --insert venous-stent --patient FILE`) from the shell: the
  first of its kind (the project's .clearleaf-cache/ emptied before each run), and the usual case
  (another patient's handout of the same leaflet made before).

The HTML is made once, beforehand, so the peers are timed on rendering alone; the project's own
commands are timed as a user runs them, `build.py` from start to exit. Each runs in a process of
its own; it prints the median wall time, the ratio to the project's full build, the peak memory
of that process tree (RSS summed, from /proc; its largest single process; and its PSS, which
counts pages that forked workers share once) and the PDF bytes written. Figures, never
assertions: CI runs it with --runs 1 as a smoke test.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__, ("run", "test"))  # Playwright is in the test group

from desk import MemorySampler  # noqa: E402  the same /proc sampling as the desk benchmark

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]  # as tests/browser.py
PAPER_FORMAT = {"a4": "A4", "letter": "Letter"}


# --- the work each way does, run in a child process (--one WAY) ------------------------------------

PATIENT = """name: Ann Example
clinician: Dr A. Patel
medication:
  name: Apixaban
  dose: 5 mg
  how_often: Twice a day
  until: 26 February 2027
follow_up: Clinic 4, 3 Dec 2026, 10:30
reference: MRN-0042
"""

def catalogue(project_root: Path) -> list[dict]:
    """Each catalogue PDF build makes: its name, paper, HTML, stylesheet files and inlined HTML."""
    from clearleaf import builder, content, pdf, render
    from clearleaf.config import Project
    from clearleaf.errors import Problems

    project = Project(project_root)
    today = date.today()
    problems = Problems()
    library = content.load(project, None, [], problems, pdf.font_characters(), langs="all")
    jobs = builder.plan(library, None, [pdf.Style(p) for p in pdf.PAPERS], (), Path("out"), True, today,
                        problems, None)
    fonts = project_root / "fonts.css"
    fonts.write_text(pdf.font_face_css(), "utf-8")
    found = []
    for n, job in enumerate(jobs):
        html = render.render_html(project, library.org, job.parts, job.paper, today, lang=job.lang)
        css = [fonts] + [project.styles / name for name in pdf.stylesheet_names(job.style)]
        inlined = html.replace("<head>", "<head><base href=\"" + project.leaflets.resolve().as_uri() + "/\"><style>"
                               + "\n".join(p.read_text("utf-8") for p in css).replace("</", "<\\/") + "</style>", 1)
        found.append({"name": f"{n:02d}-{job.path.name}", "paper": job.paper, "html": html, "css": css,
                      "inlined": inlined})
    return found


def one(way: str, project_root: Path, out: Path) -> None:
    """Do one peer's work once, on the HTML made beforehand; the parent times and samples this process."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = json.loads((project_root / "catalogue.json").read_text("utf-8"))
    for job in jobs:
        job["css"] = [Path(css) for css in job["css"]]
    base = project_root.joinpath("leaflets").resolve().as_uri() + "/"
    if way == "weasyprint-command":
        for job in jobs:
            source = out / f"{job['name']}.html"
            source.write_text(job["html"], "utf-8")
            styles = [arg for css in job["css"] for arg in ("-s", str(css))]
            subprocess.run([str(Path(sys.executable).parent / "weasyprint"), "--quiet", "-u", base,
                            "--pdf-variant", "pdf/ua-1", *styles, str(source), str(out / f"{job['name']}.pdf")],
                           check=True)
            source.unlink()
    elif way == "weasyprint-one-process":
        import weasyprint

        for job in jobs:
            sheets = [weasyprint.CSS(filename=str(css)) for css in job["css"]]
            weasyprint.HTML(string=job["html"], base_url=base).write_pdf(
                out / f"{job['name']}.pdf", stylesheets=sheets, pdf_variant="pdf/ua-1")
    elif way == "chromium":
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            for job in jobs:
                page.set_content(job["inlined"], wait_until="load")
                (out / f"{job['name']}.pdf").write_bytes(
                    page.pdf(format=PAPER_FORMAT[job["paper"]], print_background=True, tagged=True))
            browser.close()
    else:
        raise SystemExit(f"unknown way {way!r}")


# --- the parent: time, sample memory, report ------------------------------------------------------

def command(way: str, project_root: Path, out: Path, run: int) -> list[str]:
    """The command a way runs: build.py itself for the project's own, a child of this script for a peer."""
    build_py = [sys.executable, str(ROOT / "build.py"), "--project", str(project_root)]
    if way.startswith("build"):
        return build_py + ["build", "--out", str(out), "--quiet"] + (["--force"] if way == "build-cold" else [])
    if way.startswith("handout"):
        return build_py + ["handout", "dvt", "--insert", "venous-stent", "--patient", str(project_root / "ann.yaml"),
                           "--allow-draft", "--out", str(out / f"handout-{run}.pdf"), "--quiet"]
    return [sys.executable, __file__, "--one", way, "--project", str(project_root), "--out", str(out)]


def run_way(way: str, project_root: Path, out: Path, runs: int, before=None) -> dict:
    times, peak, largest, pss = [], 0.0, 0.0, 0.0
    for run in range(runs):
        if before:
            before()
        if way not in ("build-unchanged", "build-one-edit", "handout") and out.exists():
            shutil.rmtree(out)
        start = time.perf_counter()
        child = subprocess.Popen(command(way, project_root, out, run))
        sampler = MemorySampler(lambda: [child.pid])
        sampler.start()
        code = child.wait()
        elapsed = time.perf_counter() - start
        sampler.stop()
        if code:
            raise SystemExit(f"{way} failed with exit code {code}")
        times.append(elapsed)
        peaks = sampler.peaks()
        peak, pss, largest = max(peak, peaks["rss"]), max(pss, peaks["pss"]), max(largest, sampler.largest())
    pdfs = list(out.rglob("*.pdf"))
    return {"way": way, "seconds": statistics.median(times), "peak_mb": peak, "largest_mb": largest,
            "pss_mb": pss, "pdfs": len(pdfs),
            "bytes": sum(p.stat().st_size for p in pdfs)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each way; the median is printed (default 3)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.project, args.out)
        return
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="clearleaf-peers-") as tmp:
        tmp = Path(tmp)
        project = tmp / "project"
        for folder in ("leaflets", "templates", "styles", "locales"):
            shutil.copytree(ROOT / folder, project / folder)
        leaflet = project / "leaflets" / "dvt.md"
        original = leaflet.read_text("utf-8")
        edits = iter(range(1_000_000))

        def edit_one():
            leaflet.write_text(original + f"\nOne more sentence for the benchmark, number {next(edits)}.\n", "utf-8")

        results = []
        build_out = tmp / "build"
        results.append(run_way("build-cold", project, build_out, args.runs))
        results.append(run_way("build-unchanged", project, build_out, args.runs))
        results.append(run_way("build-one-edit", project, build_out, args.runs, before=edit_one))
        leaflet.write_text(original, "utf-8")
        (project / "ann.yaml").write_text(PATIENT, "utf-8")
        results.append(run_way("handout-first", project, tmp / "handout-first", args.runs,
                               before=lambda: shutil.rmtree(project / ".clearleaf-cache", ignore_errors=True)))
        subprocess.run(command("handout", project, tmp / "warm-up", 0), check=True)  # another patient's, before
        results.append(run_way("handout", project, tmp / "handout", args.runs))
        jobs = catalogue(project)  # the peers' HTML, made once and outside their timing
        for job in jobs:
            job["css"] = [str(css) for css in job["css"]]
        (project / "catalogue.json").write_text(json.dumps(jobs), "utf-8")
        results.append(run_way("weasyprint-one-process", project, tmp / "wp-one", args.runs))
        results.append(run_way("weasyprint-command", project, tmp / "wp-cmd", args.runs))
        if CHROMIUM.exists():
            results.append(run_way("chromium", project, tmp / "chromium", args.runs))
        else:
            print(f"Chromium: skipped, {CHROMIUM} is not installed (python3 test.py installs it)")
    base = results[0]["seconds"]
    names = {"build-cold": "build.py build, from nothing (--force)",
             "build-unchanged": "build.py build, nothing changed",
             "build-one-edit": "build.py build, one leaflet edited",
             "handout-first": "build.py handout (dvt + stent), first of its kind",
             "handout": "build.py handout (dvt + stent), another patient",
             "weasyprint-one-process": "WeasyPrint, one process, write_pdf per file",
             "weasyprint-command": "weasyprint command, one process per file",
             "chromium": "Chromium (Playwright), page.pdf per file"}
    print(f"\n{results[0]['pdfs']} catalogue PDFs, median of {args.runs} run(s); ratio = time / the full build's")
    print("peak MB: RSS summed over the process tree (shared pages counted in each process); largest: the")
    print("largest single process; PSS: the tree's proportional set size (shared pages shared out)")
    print(f"{'way':<52} {'wall s':>7} {'ratio':>6} {'peak MB':>8} {'largest':>8} {'PSS':>6} {'PDFs':>5} "
          f"{'PDF bytes':>10}")
    for r in results:
        print(f"{names[r['way']]:<52} {r['seconds']:7.2f} {r['seconds'] / base:6.2f} {r['peak_mb']:8.0f} "
              f"{r['largest_mb']:8.0f} {r['pss_mb']:6.0f} {r['pdfs']:5d} {r['bytes']:10d}")
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
