"""Progress on a terminal, silence in pipes, and --quiet: what a person at a shell sees."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from helpers import REPO, assert_clean_error, assert_ok, build, run


def run_on_terminal(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run build.py with stderr on a pseudo-terminal (as in a shell) and stdout in a pipe."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, str(REPO / "build.py"), *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        seen += chunk
    out = process.stdout.read().decode()
    code = process.wait(timeout=120)
    os.close(master)
    return code, out, seen.decode(errors="replace")


def test_a_build_on_a_terminal_shows_a_progress_bar(project, tmp_path):
    code, out, terminal = run_on_terminal("--project", str(project), "build", "--out", str(tmp_path / "out"),
                                          cwd=tmp_path)
    assert code == 0, terminal
    assert "Rendering PDFs" in terminal and "100%" in terminal
    assert "wrote " in out and "built 8 PDFs" in out  # the report still goes to stdout


def test_a_build_in_a_pipe_shows_no_progress(project, tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(project), "build",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Rendering" not in result.stderr and "%" not in result.stderr


def test_quiet_prints_nothing_but_errors(project, tmp_path):
    out = tmp_path / "out"
    result = build(project, out, "--quiet")
    assert_ok(result)
    assert result.stdout == "" and result.stderr == ""
    assert len(list(out.rglob("*.pdf"))) == 8
    (project / "leaflets" / "sample.md").write_text("no front matter\n", "utf-8")
    err = assert_clean_error(build(project, tmp_path / "out2", "--quiet"))
    assert "leaflets/sample.md:1: the file does not start with front matter" in err


def test_quiet_on_a_terminal_shows_no_progress(project, tmp_path):
    code, out, terminal = run_on_terminal("--project", str(project), "build", "--quiet",
                                          "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert code == 0 and out == "" and terminal == ""


def test_a_csv_batch_on_a_terminal_shows_progress(project, tmp_path):
    rows = ["name,reference"] + [f"Person {n},MRN-{n:03d}" for n in range(5)]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n", "utf-8")
    code, out, terminal = run_on_terminal("--project", str(project), "handout", "sample", "--patients",
                                          str(tmp_path / "list.csv"), "--out", str(tmp_path / "handouts"),
                                          cwd=tmp_path)
    assert code == 0, terminal
    assert "Rendering handouts" in terminal and "100%" in terminal
    assert "saved 5 handouts" in out
    quiet = run(project, "handout", "sample", "--patients", str(tmp_path / "list.csv"), "--out",
                str(tmp_path / "again"), "--quiet")
    assert_ok(quiet)
    assert quiet.stdout == ""
