#!/usr/bin/env python3
"""Print speed and memory figures for the build: python3 benchmarks/bench.py [--runs N].

Figures, never assertions: timings vary by machine, so they live here and in the README,
not in the tests.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__)


def timed(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def big_project(copies, out):
    """Return a copy of this project with extra copies of the DVT leaflet, for batch figures."""
    import shutil

    from clearleaf.config import Project

    root = out / "big"
    for folder in ("leaflets", "templates", "styles", "locales"):
        shutil.copytree(ROOT / folder, root / folder, dirs_exist_ok=True)
    for n in range(copies):
        shutil.copy(root / "leaflets" / "dvt.md", root / "leaflets" / f"dvt-copy-{n}.md")
    return Project(root)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=6, help="extra leaflets for the batch figure")
    args = parser.parse_args()

    from clearleaf import builder, pdf
    from clearleaf.config import Project

    project = Project(ROOT)
    with tempfile.TemporaryDirectory() as out:
        out = Path(out)
        med, best = timed(lambda: builder.build(project, ["dvt"], ("a4",), (), out, langs=["en"], force=True),
                          args.runs)
        print(f"one leaflet, one paper       {med:6.2f} s median  {best:6.2f} s best  (in-process, incl. fonts)")
        med, best = timed(lambda: builder.build(project, ["dvt"], ("a4",),
                                                ("venous-angioplasty", "venous-stent"), out, langs=["en"],
                                                force=True), args.runs)
        print(f"leaflet + 2 inserts          {med:6.2f} s median  {best:6.2f} s best")
        from clearleaf.handout import Patient

        patient = Patient(name="Zoë Ó'Brien-Łukasiewicz", reference="MRN-0001",
                          medication={"name": "Apixaban", "dose": "5 mg"}, issued=date.today())
        med, best = timed(lambda: builder.handouts(project, "dvt", ("venous-stent",), "a4", [patient],
                                                   [out / "h.pdf"], allow_draft=True), args.runs)
        print(f"personalised dvt + insert    {med:6.2f} s median  {best:6.2f} s best  (render only, in memory)")
        for name, proj in (("this project", project), (f"{args.copies} more leaflets", big_project(args.copies, out))):
            # Render processes (pdf.BuildPool: the first started afresh, the others forked from it;
            # the main process only makes the HTML); --force so that every run renders everything
            # rather than reusing the last run's PDFs.
            for label, workers in (("in-process", 0), ("1 worker", 1), ("2 workers", 2), ("3 workers", 3)):
                original = pdf.pool_workers
                pdf.pool_workers = lambda jobs, w=workers: w
                made = []
                try:
                    med, best = timed(lambda: made.append(builder.build(proj, None, pdf.PAPERS, (), out / "all",
                                                                        force=True)), args.runs)
                finally:
                    pdf.pool_workers = original
                count = len(made[-1].jobs)
                print(f"full build, {name:<17} {count:3d} PDFs, {label:<16} {med:6.2f} s median  {best:6.2f} s best")

    # Not the workers' too: Linux counts a process started from this one (fork, then exec) as
    # large as this one was when it forked. peers.py samples each process's memory from /proc.
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory                  {self_mb:6.0f} MB this process (it rendered the in-process rows)")

    # Each in a fresh process, as a command starts: WeasyPrint's own import, and Clearleaf's (weasy_compat: the
    # libraries by soname, fontTools' subsetter and instancer left unrun, the C declarations
    # compiled ahead where bootstrap.py wrote them).
    for label, code in (("import weasyprint (plain)", "import weasyprint"),
                        ("import weasyprint (clearleaf)", "from clearleaf import pdf; pdf.weasyprint()")):
        med, best = timed(lambda: subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                                                   f"import time; t = time.perf_counter(); {code}; "
                                                   "print(time.perf_counter() - t)"], check=True, capture_output=True),
                          args.runs)
        print(f"{label:<29}{med:6.2f} s median  {best:6.2f} s best  (process start included)")


if __name__ == "__main__":
    main()
