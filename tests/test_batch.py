"""A CSV batch is streamed: rendered, checked and written a chunk at a time, and one stopped early
says exactly which handouts were written and recorded (issue 12, item 7).

5,000 rows took 945 MB and lost everything if stopped late: every handout was rendered and
held in memory before the first was written. Memory and time are measured by
benchmarks/batch.py, never here.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clearleaf import deliver, personal, records
from helpers import REPO, pdfs_and_parts, run

ROWS = 10


def write_list(path: Path, rows: int = ROWS) -> Path:
    path.write_text("reference,name,medication.name\n" +
                    "".join(f"MRN-{n:02d},Person {n} Example,Apixaban\n" for n in range(1, rows + 1)), "utf-8")
    return path


def batch(project, tmp_path, *args):
    return run(project, "handout", "sample", "--patients", write_list(tmp_path / "list.csv"), "--out",
               tmp_path / "out", *args)


def written(tmp_path) -> list[str]:
    return sorted(p.stem for p in (tmp_path / "out").glob("*.pdf"))


def log(project) -> dict[str, list[str]]:
    """Each reference's outcomes in the issue log (every begin line is joined to its outcome)."""
    found, problems = records.read(project / "records" / "issued.jsonl")
    assert problems == []
    outcomes: dict[str, list[str]] = {}
    for record in found:
        outcomes.setdefault(record["reference"], []).append(record["status"])
    return outcomes


def watch_saves(monkeypatch, after=None) -> list:
    """Log each save, and call after(count) once each handout is saved and recorded."""
    events = []
    kind, real = deliver.CHANNELS["save"]

    def save(handout, options):
        result = real(handout, options)
        events.append(("save", handout.patient.reference))
        if after:
            after(sum(1 for event in events if event[0] == "save"))
        return result

    monkeypatch.setitem(deliver.CHANNELS, "save", (kind, save))
    real_render = personal.render

    def render(project, style, html, count, *args, **kwargs):
        events.append(("render", count))
        return real_render(project, style, html, count, *args, **kwargs)

    monkeypatch.setattr(personal, "render", render)
    return events


def test_a_batch_is_rendered_and_written_a_chunk_at_a_time(project, tmp_path, monkeypatch):
    monkeypatch.setattr(deliver, "BATCH_CHUNK", 4, raising=False)
    events = watch_saves(monkeypatch)
    result = batch(project, tmp_path)
    assert result.exit_code == 0, result.stderr
    renders = [n for kind, n in events if kind == "render"]
    assert renders == [4, 4, 2]  # never more than a chunk rendered and held at once
    order = [kind for kind, _ in events]
    assert order == ["render"] + ["save"] * 4 + ["render"] + ["save"] * 4 + ["render"] + ["save"] * 2
    assert written(tmp_path) == [f"MRN-{n:02d}" for n in range(1, ROWS + 1)]
    assert result.stdout.count("wrote ") == ROWS and f"saved {ROWS} handouts" in result.stdout


def test_ctrl_c_stops_after_the_handout_being_written_and_says_exactly_what_was(project, tmp_path, monkeypatch):
    monkeypatch.setattr(deliver, "BATCH_CHUNK", 3, raising=False)
    watch_saves(monkeypatch, after=lambda count: count == 4 and os.kill(os.getpid(), signal.SIGINT))
    result = batch(project, tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert written(tmp_path) == ["MRN-01", "MRN-02", "MRN-03", "MRN-04"]
    assert log(project) == {f"MRN-{n:02d}": ["issued"] for n in range(1, 5)}
    assert result.stdout.count("wrote ") == 4
    assert "list.csv: stopped after 4 of the 10 handouts — " in result.stderr
    assert "  written and recorded: lines 2–5 (MRN-01 to MRN-04)" in result.stderr
    assert "  not written: lines 6–11 (MRN-05 to MRN-10)" in result.stderr
    assert pdfs_and_parts(tmp_path / "out") == sorted((tmp_path / "out").glob("*.pdf"))  # no .part left


def test_a_full_disk_part_way_keeps_what_was_written_and_says_so(project, tmp_path, monkeypatch):
    monkeypatch.setattr(deliver, "BATCH_CHUNK", 3, raising=False)
    real_write = os.write

    def write(fd, data):  # the disk fills up during the sixth handout
        try:
            name = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            name = ""
        if "MRN-06.pdf" in name and name.endswith(".part"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    result = batch(project, tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert written(tmp_path) == [f"MRN-{n:02d}" for n in range(1, 6)]
    assert f"{tmp_path / 'out' / 'MRN-06.pdf'}: cannot write the handout: No space left on device — " in result.stderr
    assert "stopped after 5 of the 10 handouts" in result.stderr
    assert "  written and recorded: lines 2–6 (MRN-01 to MRN-05)" in result.stderr
    assert "  not written: lines 7–11 (MRN-06 to MRN-10)" in result.stderr
    outcomes = log(project)
    assert outcomes.pop("MRN-06") == ["failed"] and outcomes == {f"MRN-{n:02d}": ["issued"] for n in range(1, 6)}


def test_a_row_whose_handout_fails_its_checks_is_named_and_the_rest_are_written(project, tmp_path, monkeypatch):
    from clearleaf import builder

    real = builder._check_first_page

    def check(job, rendered, problems, personalised=False):
        real(job, rendered, problems, personalised)
        if job.path.name == "MRN-03.pdf":
            problems.add("leaflets/sample.md", 1, "the patient's details (note) do not fit on page 1 (a4)",
                         "shorten the note")

    monkeypatch.setattr(builder, "_check_first_page", check)
    result = batch(project, tmp_path)
    assert result.exit_code == 1
    assert written(tmp_path) == [f"MRN-{n:02d}" for n in range(1, ROWS + 1) if n != 3]
    csv = tmp_path / "list.csv"
    assert (f"{csv}:4: this row's handout was not made: the patient's details (note) do not fit on page 1 (a4) "
            "(leaflets/sample.md) — shorten the note") in result.stderr
    assert "1 of the 10 handouts were not made (above); the other 9 were written" in result.stderr
    assert "MRN-03" not in log(project)


def test_a_batch_in_a_pipe_shows_no_progress(project, tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(project), "handout", "sample",
                           "--patients", str(write_list(tmp_path / "list.csv")), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Rendering" not in done.stderr and "%" not in done.stderr
    assert done.stdout.count("wrote ") == ROWS


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_real_batch_stopped_by_a_signal_reports_exactly_what_is_on_disk_and_in_the_log(project, tmp_path, sig):
    rows = 120
    listing = write_list(tmp_path / "list.csv", rows)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(REPO / "build.py"), "--project", str(project), "handout",
                                "sample", "--patients", str(listing), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    assert first.startswith("wrote "), first + process.stderr.read()
    process.send_signal(sig)
    rest, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    on_disk = sorted(p.stem for p in out.glob("*.pdf"))
    assert 1 <= len(on_disk) < rows
    assert sorted(Path(line.split()[1]).stem for line in (first + rest).splitlines() if line.startswith("wrote ")) \
        == on_disk
    outcomes = log(project)
    assert sorted(outcomes) == on_disk and all(v == ["issued"] for v in outcomes.values())
    found = re.search(r"written and recorded: lines? (\d+)(?:–(\d+))? \((MRN-\d+)(?: to (MRN-\d+))?\)", err)
    assert found, err
    assert (found.group(3), found.group(4) or found.group(3)) == (on_disk[0], on_disk[-1])
    assert f"stopped after {len(on_disk)} of the {rows} handouts" in err
    assert pdfs_and_parts(out) == sorted(out.glob("*.pdf"))  # nothing half-written
