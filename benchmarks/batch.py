#!/usr/bin/env python3
"""Print time and memory for a CSV batch of personalised handouts: python3 benchmarks/batch.py [--rows N ...].

Each batch is `build.py handout dvt --insert venous-stent --patients list.csv --allow-draft` on a copy of
this project (its own issue log), run as its own process; every field of "Your details" is
filled. Peak memory is sampled from /proc every 0.1 s: the most the whole process tree (the
main process and its render workers) held at once, and the main process's own peak. Figures
only, never assertions: a batch that holds one chunk at a time keeps them flat as the rows grow.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bootstrap import ensure_ready  # noqa: E402

ensure_ready(__file__)

PAGE = 4096


def write_list(path: Path, rows: int) -> None:
    """A discharge list of rows patients, every field filled (the longest 'Your details' box)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["reference", "name", "issued", "clinician", "contact_phone", "medication.name",
                      "medication.dose", "medication.how_often", "medication.until", "follow_up", "note"])
        for n in range(rows):
            out.writerow([f"MRN-{n:06d}", f"Patient Number {n} Example-Surname", "2026-11-30", "Dr Ada Fixture",
                          "(555) 010-0199", "Apixaban", "5 mg", "Twice a day, with food", "26 February 2027",
                          "Clinic 4, 3 Dec 2026, 10:30", "Keep walking every day. Drink plenty of water."])


def tree_rss(root: int) -> tuple[int, int]:
    """Return (bytes resident in root and all its descendants, in root alone), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        rss[pid] = int(statm[1]) * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total, rss.get(root, 0)


def batch(rows: int, work: Path) -> dict:
    project = work / f"project-{rows}"
    for folder in ("leaflets", "templates", "styles", "locales"):
        shutil.copytree(ROOT / folder, project / folder)
    org = project / "leaflets" / "org.yaml"
    lines = [line for line in org.read_text("utf-8").split("\n") if not line.startswith("issue_log:")]
    org.write_text("\n".join(lines) + f"\nissue_log: {work / f'issued-{rows}.jsonl'}\n", "utf-8")
    listing = work / f"list-{rows}.csv"
    write_list(listing, rows)
    out = work / f"out-{rows}"
    command = [sys.executable, str(ROOT / "build.py"), "--project", str(project), "handout", "dvt", "--insert",
               "venous-stent", "--patients", str(listing), "--out", str(out), "--quiet",
               "--allow-draft"]  # the DVT leaflet is a draft until the panel approves it
    peaks = {"tree": 0, "main": 0}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while process.poll() is None:
            tree, main = tree_rss(process.pid)
            peaks["tree"], peaks["main"] = max(peaks["tree"], tree), max(peaks["main"], main)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = process.communicate()[1]
    seconds = time.perf_counter() - start
    sampler.join()
    if process.returncode:
        raise SystemExit(f"the batch of {rows} failed:\n{err}")
    written = len(list(out.glob("*.pdf")))
    shutil.rmtree(out)
    return {"rows": rows, "written": written, "seconds": seconds, "tree": peaks["tree"], "main": peaks["main"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[500, 5000],
                        help="batch sizes to run (default: 500 and 5000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearleaf-batch-") as work:
        print("rows    written   time       per row    peak memory (all processes)   main process")
        for rows in args.rows:
            got = batch(rows, Path(work))
            print(f"{got['rows']:>5}   {got['written']:>7}   {got['seconds']:7.1f} s   "
                  f"{got['seconds'] / rows * 1000:6.0f} ms   {got['tree'] / 1e6:8.0f} MB"
                  f"                   {got['main'] / 1e6:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
