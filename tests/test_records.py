"""The issue log is written ahead: a handout never leaves unrecorded, and a line is whole or absent.

Issue 12, items 1 and 2: with an unwritable log, print and e-mail had already delivered, then
crashed; a short write on a full disk left half a JSON line and reported success.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
import time
from datetime import date
from pathlib import Path

import pytest

import smtp_server
from clearleaf import builder, deliver, handout, mail, pdf, records
from clearleaf.config import Project
from clearleaf.errors import ClearleafError, Problems
from helpers import (DISTINCT, FULL, assert_clean_error, email, handout as handout_cli, pdfs_and_parts,
                     write_patient)

TODAY = date(2026, 11, 30)


def unwritable_log(project: Path) -> Path:
    """Point issue_log at a path under a file, which no one can create."""
    blocker = project / "records-file"
    blocker.write_text("not a folder\n", "utf-8")
    with open(project / "leaflets" / "org.yaml", "a", encoding="utf-8") as f:
        f.write(f"issue_log: {blocker / 'issued.jsonl'}\n")
    return blocker / "issued.jsonl"


def a_handout(project: Path) -> builder.Handout:
    raw = {"name": DISTINCT, "reference": "MRN-0042", "medication.name": "Apixaban",
           "medication.dose": "5 mg"}
    problems = Problems()
    patient = handout.check_values(raw, "test", {}, TODAY, problems, pdf.font_characters())
    (made,) = builder.handouts(Project(project), "sample", [], "a4", [patient], allow_draft=True, today=TODAY)
    return made


def test_an_unwritable_log_stops_an_email_before_anything_is_sent(mail_project, tmp_path, smtp_starttls,
                                                                  smtp_cert, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.PASSWORD)
    unwritable_log(mail_project)
    err = assert_clean_error(email(mail_project, tmp_path, smtp_starttls, smtp_cert))
    assert "cannot write the issue log" in err and "nothing was sent" in err
    assert smtp_starttls.delivered == []


def test_an_unwritable_log_stops_a_save_before_the_file_is_written(project, tmp_path):
    unwritable_log(project)
    out = tmp_path / "out"
    err = assert_clean_error(handout_cli(project, "--patient", write_patient(tmp_path / "p.yaml", **FULL),
                                         "--out", out / "h.pdf"), out)
    assert "cannot write the issue log" in err
    assert pdfs_and_parts(out) == []


def test_a_delivery_is_recorded_before_it_happens_and_completed_after(project, tmp_path):
    made = a_handout(project)
    seen = []
    real = deliver.CHANNELS["save"][1]

    def watching(handout_, options):
        seen.append(records.read(made.issue_log)[0])  # what the log held while the file was written
        return real(handout_, options)

    deliver.CHANNELS["save"] = (deliver.SaveOptions, watching)
    try:
        deliver.deliver("save", made, deliver.SaveOptions(tmp_path / "h.pdf"), staff="a.patel")
    finally:
        deliver.CHANNELS["save"] = (deliver.SaveOptions, real)
    (during,) = seen
    assert [(r["status"], r["reference"]) for r in during] == [("issuing", "MRN-0042")]
    (after,), problems = records.read(made.issue_log)
    assert (after["status"], after["staff"], after["id"], problems) == ("issued", "a.patel", during[0]["id"], [])
    assert len(made.issue_log.read_text("utf-8").splitlines()) == 2


def test_a_failed_delivery_is_recorded_as_failed(project, tmp_path):
    made = a_handout(project)
    blocker = tmp_path / "a-file"
    blocker.write_text("x", "utf-8")
    with pytest.raises(ClearleafError, match="cannot write the handout"):
        deliver.deliver("save", made, deliver.SaveOptions(blocker / "h.pdf"))
    (record,), _ = records.read(made.issue_log)
    assert (record["status"], record["reference"], record["channel"]) == ("failed", "MRN-0042", "save")


def test_a_short_write_is_cut_back_and_fails(tmp_path, monkeypatch):
    path = tmp_path / "issued.jsonl"
    records.append(path, {"reference": "MRN-1"})
    before = path.read_bytes()
    real = os.write
    monkeypatch.setattr(records.os, "write", lambda fd, data: real(fd, data[: len(data) // 2]))
    with pytest.raises(ClearleafError, match="cannot write the issue log: No space left on device"):
        records.append(path, {"reference": "MRN-2"})
    assert path.read_bytes() == before  # no half line left behind
    monkeypatch.setattr(records.os, "write", real)
    records.append(path, {"reference": "MRN-3"})
    found, problems = records.read(path)
    assert [r["reference"] for r in found] == ["MRN-1", "MRN-3"] and problems == []


def test_a_failed_write_is_cut_back_and_fails(tmp_path, monkeypatch):
    path = tmp_path / "issued.jsonl"
    records.append(path, {"reference": "MRN-1"})
    before = path.read_bytes()
    real = os.write

    def full(fd, data):
        real(fd, data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(records.os, "write", full)
    with pytest.raises(ClearleafError, match="No space left on device"):
        records.append(path, {"reference": "MRN-2"})
    assert path.read_bytes() == before


def _waiting_for_lock(path: str) -> bool:
    """Return True when /proc/locks shows a process blocked on the flock of path."""
    inode = os.stat(path).st_ino
    try:
        with open("/proc/locks", encoding="ascii") as locks:
            return any("->" in line and f":{inode} " in line for line in locks)
    except OSError:
        return False


def _append_as_the_disk_fills(path: str, started, other_done) -> None:
    """In its own process: append a record whose write comes up short, as on a full disk, but only
    once the other writer has appended (no lock) or is seen waiting for the lock."""
    real = os.write

    def short_write(fd, data):
        if b"MRN-FULL" not in data:
            return real(fd, data)
        started.set()
        deadline = time.monotonic() + 10
        while not other_done.is_set() and not _waiting_for_lock(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(fd, data[: len(data) // 2])

    os.write = short_write  # this process only
    try:
        records.append(Path(path), {"reference": "MRN-FULL"})
    except ClearleafError as exc:
        assert "No space left on device" in str(exc)
    else:
        raise AssertionError("a short write did not fail")


def _append_once_started(path: str, started, done) -> None:
    assert started.wait(30)
    records.append(Path(path), {"reference": "MRN-OTHER"})
    done.set()


def test_a_failed_write_never_cuts_another_writers_line(tmp_path):
    # A failed write is cut back to where its line began. Under the lock nobody can append in the
    # meantime; without it, the cut takes away a line another process wrote and was told was safe.
    # (Concurrent whole lines alone would not show the lock: on Linux each O_APPEND write() of a
    # line lands whole even without it.)
    path = tmp_path / "issued.jsonl"
    records.append(path, {"reference": "MRN-1"})
    spawn = multiprocessing.get_context("spawn")
    started, done = spawn.Event(), spawn.Event()
    writers = [spawn.Process(target=_append_as_the_disk_fills, args=(str(path), started, done)),
               spawn.Process(target=_append_once_started, args=(str(path), started, done))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    found, problems = records.read(path)
    assert [r["reference"] for r in found] == ["MRN-1", "MRN-OTHER"] and problems == []


def test_a_broken_line_is_skipped_and_reported_never_a_crash(tmp_path):
    path = tmp_path / "issued.jsonl"
    path.write_text(json.dumps({"reference": "OLD-1", "channel": "print"}) + '\n{"reference": "MRN-', "utf-8")
    found, problems = records.read(path)
    assert [(r["reference"], r["status"]) for r in found] == [("OLD-1", "issued")]  # an old one-line record
    (problem,) = problems
    assert problem.line == 2 and "broken" in problem.message


def _server_that_hangs_up_after_the_message(received: list) -> socket.socket:
    """A plain SMTP server on loopback that takes the whole message, then hangs up without a reply."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 hangup.test ESMTP\r\n")
            while line := reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 hangup.test\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    body = b""
                    while not body.endswith(b"\r\n.\r\n"):
                        body += reader.readline()
                    received.append(body)
                    return  # hang up before confirming it

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_a_message_the_server_took_but_never_confirmed_is_recorded_as_unknown(project):
    made = a_handout(project)
    received = []
    listener = _server_that_hangs_up_after_the_message(received)
    try:
        settings = mail.SmtpSettings("127.0.0.1", listener.getsockname()[1], "none", None, "handouts@fixture.example")
        options = deliver.EmailOptions("patient@example.org", settings.sender, settings)
        with pytest.raises(mail.MaybeSent, match="it may have been sent"):
            deliver.deliver("email", made, options)
    finally:
        listener.close()
    assert len(received) == 1
    (record,), _ = records.read(made.issue_log)
    assert record["status"] == "unknown"
