"""What a `kill -9` leaves behind, and how the next run clears it (issue 12, item 14).

Each test kills a real subprocess with SIGKILL, which no handler can catch: a half-written
`.part` file of a patient's handout, render workers that outlive their parent, and font
copies in $TMPDIR. The next run removes only what is its own and orphaned: never a concurrent
writer's live `.part`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import DISTINCT, REPO, assert_ok, run

PREAMBLE = f"""
import os, sys, time
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from clearleaf import pdf
from clearleaf.config import Project
"""

# A writer that stops for good just before its data is safely on disk, as a kill -9 would find it.
STALLED_WRITER = PREAMBLE + f"""
def stall(fd):
    print("writing", flush=True)
    time.sleep(600)

os.fsync = stall
pdf.write_atomic(Path(sys.argv[1]), b"%PDF-1.7 ... {DISTINCT} ...", mode=0o600, overwrite=False)
"""


def start(code: str, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def workers_of(parent: subprocess.Popen):
    """The pids the parent prints on its first line; any still alive afterwards are killed."""
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    try:
        yield pids
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def wait_until_gone(pids, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def test_a_killed_writers_part_file_is_removed_by_the_next_run_but_a_live_one_is_kept(project, tmp_path):
    out = tmp_path / "handouts"
    out.mkdir()
    killed, live = start(STALLED_WRITER, out / "MRN-1.pdf"), start(STALLED_WRITER, out / "MRN-2.pdf")
    try:
        assert killed.stdout.readline() == "writing\n" and live.stdout.readline() == "writing\n"
        kill(killed)
        parts = sorted(p.name for p in out.iterdir())
        assert len(parts) == 2 and all(name.endswith(".part") for name in parts)
        (left_over,) = [p for p in out.iterdir() if "MRN-1" in p.name]
        assert DISTINCT.encode() in left_over.read_bytes()  # a patient's handout, hidden in the folder
        csv = tmp_path / "list.csv"
        csv.write_text("reference,name\nMRN-3,Ann Example\n", "utf-8")
        assert_ok(run(project, "handout", "sample", "--patients", csv, "--out", out))
        names = sorted(p.name for p in out.iterdir())
        assert "MRN-3.pdf" in names
        assert not any("MRN-1" in name for name in names)  # the killed writer's, removed
        assert [name for name in names if "MRN-2" in name and name.endswith(".part")]  # the live one, kept
    finally:
        for process in (killed, live):
            if process.poll() is None:
                kill(process)


POOL = PREAMBLE + """
project = Project(Path(sys.argv[1]))
pool = pdf.BuildPool(project, 2, [pdf.Style("a4")])
if sys.argv[2] == "starting":  # the first worker, still importing: it has forked nothing yet
    print(pool.seed.pid, flush=True)
else:
    print(" ".join(map(str, pool.pids)), flush=True)  # the first worker and the one it forked
    with pdf.InProcess(project) as here:
        here.render([(pdf.Style("a4"), "<p>A page, so that this process copies its fonts too</p>")])
        print("ready", flush=True)
        time.sleep(600)
time.sleep(600)
"""


@pytest.mark.parametrize("when", ["starting", "ready"])
def test_build_workers_die_with_their_parent(project, when):
    """Killed as its workers start (they were still importing) or once they are rendering."""
    parent = start(POOL, project, when)
    with workers_of(parent) as pids:
        assert len(pids) == (1 if when == "starting" else 2) and all(alive(pid) for pid in pids)
        if when == "ready":
            assert parent.stdout.readline() == "ready\n"
        kill(parent)
        assert wait_until_gone(pids) == []


WARM = PREAMBLE + """
pool = pdf.WarmPool(Project(Path(sys.argv[1])), 2, [pdf.Style("a4")])
print(" ".join(map(str, pool.pids)), flush=True)
time.sleep(600)
"""


def test_warm_workers_die_with_the_desk(project):
    parent = start(WARM, project)
    with workers_of(parent) as pids:
        assert pids and all(alive(pid) for pid in pids)
        kill(parent)
        assert wait_until_gone(pids) == []


def test_font_copies_left_by_a_killed_run_are_swept_by_the_next(project, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    parent = start(POOL, project, "ready", env={"TMPDIR": str(private_tmp)})
    with workers_of(parent) as pids:
        assert parent.stdout.readline() == "ready\n"
        kill(parent)
        assert wait_until_gone(pids) == []
    left = sum(f.stat().st_size for f in private_tmp.rglob("*") if f.is_file())
    assert left > 1_000_000  # the font copies of the main process and its workers
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr("tempfile.tempdir", str(private_tmp))
    assert_ok(run(project, "build", "sample", "--paper", "a4", "--out", tmp_path / "dist"))
    assert list(private_tmp.iterdir()) == []


def test_a_live_runs_temp_folder_is_never_swept(project, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    parent = start(POOL, project, "ready", env={"TMPDIR": str(private_tmp)})
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    try:
        assert parent.stdout.readline() == "ready\n"
        before = sorted(p.relative_to(private_tmp) for p in private_tmp.rglob("*"))
        monkeypatch.setenv("TMPDIR", str(private_tmp))
        monkeypatch.setattr("tempfile.tempdir", str(private_tmp))
        assert_ok(run(project, "build", "sample", "--paper", "a4", "--out", tmp_path / "dist"))
        assert sorted(p.relative_to(private_tmp) for p in private_tmp.rglob("*")) == before
    finally:
        kill(parent)
        wait_until_gone(pids)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
