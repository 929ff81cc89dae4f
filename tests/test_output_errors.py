"""Every command that writes meets a disk that says no, and says so in one line (issue 12, item 4).

An output that is a folder, sits under a file, has a name too long for the file system, is a
device or a pipe, or sits on a full disk: each is `path: problem — fix`, exit code 1, no
traceback, and nothing left half-written. A full disk is simulated in-process, for one folder
only, by making os.write and os.fsync fail with ENOSPC there; standard output is the real
/dev/full.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FULL, REPO, assert_clean_error, pdfs_and_parts, run, write_patient

LONG = "x" * 300  # longer than any file name a Linux file system allows (255 bytes)


def full_disk(monkeypatch, folder: Path, only: str = "") -> None:
    """Make every write and fsync to a file under folder (whose name holds only) fail: disk full."""
    real_write, real_fsync = os.write, os.fsync
    folder = folder.resolve()

    def on_full_disk(fd: int) -> bool:
        try:
            where = Path(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return False
        return where.is_relative_to(folder) and only in where.name

    def write(fd, data):
        if on_full_disk(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def fsync(fd):
        if on_full_disk(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)


@pytest.fixture
def patient(tmp_path) -> Path:
    return write_patient(tmp_path / "p.yaml", **FULL)


@pytest.fixture
def patients(tmp_path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("reference,name\nMRN-1,Ann Example\nMRN-2,Bo Example\n", "utf-8")
    return path


def no_leftovers(folder: Path) -> None:
    assert pdfs_and_parts(folder) == []
    if folder.exists():
        assert not [p for p in folder.rglob("*") if ".part" in p.name or p.suffix == ".eml"]


# --- a full disk, in-process ------------------------------------------------------------------------

def test_build_on_a_full_disk(project, tmp_path, monkeypatch):
    out = tmp_path / "full" / "dist"
    full_disk(monkeypatch, tmp_path / "full")
    err = assert_clean_error(run(project, "build", "sample", "--paper", "a4", "--out", out))
    assert f"{out / 'a4' / 'sample.pdf'}: cannot write the PDF: No space left on device — " in err
    no_leftovers(out)


def test_build_whose_manifest_meets_a_full_disk(project, tmp_path, monkeypatch):
    out = tmp_path / "full" / "dist"
    full_disk(monkeypatch, tmp_path / "full", only=".clearleaf-manifest.json")
    err = assert_clean_error(run(project, "build", "sample", "--paper", "a4", "--out", out))
    assert f"{out / '.clearleaf-manifest.json'}: cannot write the build manifest: No space left on device — " in err


def test_handout_on_a_full_disk(project, tmp_path, monkeypatch, patient):
    out = tmp_path / "full" / "h.pdf"
    full_disk(monkeypatch, tmp_path / "full")
    err = assert_clean_error(run(project, "handout", "sample", "--patient", patient, "--out", out))
    assert f"{out}: cannot write the handout: No space left on device — " in err
    no_leftovers(out.parent)


def test_a_handout_batch_on_a_full_disk(project, tmp_path, monkeypatch, patients):
    out = tmp_path / "full" / "handouts"
    full_disk(monkeypatch, tmp_path / "full")
    err = assert_clean_error(run(project, "handout", "sample", "--patients", patients, "--out", out))
    assert f"{out / 'MRN-1.pdf'}: cannot write the handout: No space left on device — " in err
    no_leftovers(out)


def test_email_eml_on_a_full_disk(mail_project, tmp_path, monkeypatch, patient):  # noqa: F811
    eml = tmp_path / "full" / "m.eml"
    full_disk(monkeypatch, tmp_path / "full")
    err = assert_clean_error(run(mail_project, "email", "sample", "--patient", patient, "--to", "a@example.org",
                                 "--eml", eml))
    assert f"{eml}: cannot write the e-mail file: No space left on device — " in err
    no_leftovers(eml.parent)


def test_print_with_its_issue_log_on_a_full_disk(project, tmp_path, monkeypatch, patient):
    full_disk(monkeypatch, project / "records")
    err = assert_clean_error(run(project, "print", "sample", "--patient", patient, "--printer", "ward"))
    assert "records/issued.jsonl: cannot write the issue log: No space left on device — nothing was sent" in err


def test_desk_user_add_and_remove_on_a_full_disk(project, monkeypatch):
    monkeypatch.setenv("DESK_PASSWORD", "correct horse battery")
    assert run(project, "desk-user", "add", "a.patel").exit_code == 0
    full_disk(monkeypatch, project / "records")
    for args in (("add", "b.okafor"), ("remove", "a.patel")):
        err = assert_clean_error(run(project, "desk-user", *args))
        assert "records/desk-users.txt: cannot write the desk users file: No space left on device — " in err


# --- outputs that are folders, files, devices, pipes or impossible names ---------------------------

def test_build_out_that_is_a_file(project, tmp_path):
    blocker = tmp_path / "dist"
    blocker.write_text("not a folder", "utf-8")
    err = assert_clean_error(run(project, "build", "sample", "--paper", "a4", "--out", blocker))
    assert f"{blocker}: cannot create the output folder: it is a file, not a folder — choose another --out" in err
    assert blocker.read_text("utf-8") == "not a folder"


@pytest.mark.parametrize("command", ["build", "handout", "batch", "eml"])
def test_an_output_name_too_long_for_the_file_system(project, tmp_path, patient, patients, command):
    target = tmp_path / LONG
    args = {"build": ["build", "sample", "--paper", "a4", "--out", target],
            "handout": ["handout", "sample", "--patient", patient, "--out", f"{target}.pdf"],
            "batch": ["handout", "sample", "--patients", patients, "--out", target],
            "eml": ["email", "sample", "--patient", patient, "--to", "a@example.org", "--eml", f"{target}.eml"]}
    err = assert_clean_error(run(project, *args[command]))
    assert "File name too long — choose another" in err
    no_leftovers(tmp_path)


def test_a_patient_file_name_too_long(project, tmp_path):
    err = assert_clean_error(run(project, "handout", "sample", "--patient", tmp_path / f"{LONG}.yaml",
                                 "--out", tmp_path / "h.pdf"))
    assert "File name too long" in err and "—" in err


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_handout_out_that_is_a_folder(project, tmp_path, patient, overwrite):
    folder = tmp_path / "folder"
    folder.mkdir()
    err = assert_clean_error(run(project, "handout", "sample", "--patient", patient, "--out", folder,
                                 *(["--overwrite"] if overwrite else [])))
    assert f"{folder}: cannot write the handout: it is a folder, not a file — choose another --out" in err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_eml_that_is_a_folder(project, tmp_path, patient, overwrite):
    folder = tmp_path / "folder"
    folder.mkdir()
    err = assert_clean_error(run(project, "email", "sample", "--patient", patient, "--to", "a@example.org",
                                 "--eml", folder, *(["--overwrite"] if overwrite else [])))
    assert f"{folder}: cannot write the e-mail file: it is a folder, not a file — choose another --eml" in err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", ["handout", "eml"])
def test_an_output_that_is_a_pipe_is_never_replaced(project, tmp_path, patient, command):
    """A device (/dev/full) or a pipe is not a file to replace, even with --overwrite."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    args = (["handout", "sample", "--patient", patient, "--out", pipe] if command == "handout" else
            ["email", "sample", "--patient", patient, "--to", "a@example.org", "--eml", pipe])
    err = assert_clean_error(run(project, *args, "--overwrite"))
    what = "handout" if command == "handout" else "e-mail file"
    assert f"{pipe}: cannot write the {what}: it is not a regular file (a device, a pipe or a socket) — " in err
    assert pipe.is_fifo()


def test_a_handout_under_a_file(project, tmp_path, patient):
    blocker = tmp_path / "afile"
    blocker.write_text("x", "utf-8")
    err = assert_clean_error(run(project, "handout", "sample", "--patient", patient, "--out", blocker / "h.pdf"))
    assert f"{blocker / 'h.pdf'}: cannot write the handout: a folder in the path is a file — choose another --out" in err


# --- standard output on a full disk: the real /dev/full ---------------------------------------------

@pytest.mark.parametrize("args", [["list"], ["html", "sample"], ["check", "sample"], ["desk-user", "list"],
                                  ["build", "sample", "--paper", "a4"]])
def test_commands_whose_standard_output_is_full(project, tmp_path, args):
    if args[0] == "build":
        args = [*args, "--out", str(tmp_path / "dist")]
    if args[0] == "desk-user":
        (project / "records").mkdir(exist_ok=True)
        (project / "records" / "desk-users.txt").write_text("a.patel:$argon2id$v=19$m=65536,t=3,p=4$x$y\n", "utf-8")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "--project", str(project), *args],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "standard output: cannot write: No space left on device — ")


def test_serve_on_a_port_in_use(project):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run(project, "serve", "--port", port, "--workers", 0)
    err = assert_clean_error(result)
    assert err.startswith(f"--port: cannot listen on 127.0.0.1:{port}: Address already in use — choose another --port")
    assert "Clearleaf desk on" not in result.output + err  # it never said it was running
