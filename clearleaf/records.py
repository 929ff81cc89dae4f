"""The record of issued handouts: JSON lines, written ahead of every save, print or e-mail.

It answers "which version did this patient get?" years later, by reference. It never holds the
patient's name, address, note or medicine: only what identifies the leaflet versions.

A delivery is recorded in two lines with the same id: `begin` writes the full record with
status "issuing" before anything leaves (a log that cannot be written stops the delivery), and
`finish` writes the outcome: "issued", "failed" or "unknown" (the message may have been sent).
`read` joins them into one record per handout. Old logs, one line per handout with no id, read
as issued.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from .config import Org, Project
from .errors import ClearleafError, Problem

def log_path(project: Project, org: Org) -> Path:
    """Return where the issue log lives: org.yaml's issue_log, relative to the project."""
    return project.root / org.issue_log


def entry(channel: str, paper: str, parts: list, reference: str | None, now: datetime | None = None,
          **extra) -> dict:
    """Return the record for one issued handout; channel is a name from deliver.CHANNELS."""
    leaflet, *inserts = parts
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "channel": channel,
        "paper": paper,
        "leaflet": _version(leaflet),
        "inserts": [_version(i) for i in inserts],
        "reference": reference,
        **extra,
    }


def _version(item) -> dict:
    return {"id": item.id, "code": item.meta["code"], "version": item.meta["version"], "lang": item.lang}


def begin(path: Path, record: dict) -> str:
    """Record a delivery that is about to happen (status "issuing"); return its id.

    Raise ClearleafError when the log cannot be written: then nothing may be delivered.
    """
    record_id = uuid.uuid4().hex
    append(path, {**record, "id": record_id, "status": "issuing"})
    return record_id


def finish(path: Path, record_id: str, status: str, now: datetime | None = None, **extra) -> None:
    """Record how the delivery begun as record_id ended: "issued", "failed" or "unknown"."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    append(path, {"id": record_id, "status": status,
                  "finished": now.isoformat(timespec="seconds").replace("+00:00", "Z"), **extra})


def append(path: Path, record: dict) -> None:
    """Append one line, whole or not at all.

    An exclusive lock and a single write keep concurrent writers' lines whole; a short or failed
    write (a full disk) is cut back to where the line began, and raises ClearleafError.
    """
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unwritable(path, exc.strerror) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(28, "No space left on device")  # a short write: the disk is full
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise _unwritable(path, exc.strerror) from None
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _unwritable(path: Path, reason: str | None) -> ClearleafError:
    return ClearleafError([Problem(str(path), None, f"cannot write the issue log: {reason or 'unknown error'}",
                                   "nothing was sent; free some space, or set issue_log in leaflets/org.yaml to "
                                   "a writable file, then try again")])


def read(path: Path) -> tuple[list[dict], list[Problem]]:
    """Return one record per handout (its outcome joined to its begin line), and the problems found.

    A line that is not whole JSON (a crash mid-write in an older version) is skipped and reported
    with its line number, never a crash.
    """
    records, by_id, problems = [], {}, []
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return [], []
    for number, text in enumerate(lines, 1):
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError
        except ValueError:
            problems.append(Problem(str(path), number, "this line of the issue log is broken (not whole JSON)",
                                    "it was skipped; keep the file as it is for the audit trail"))
            continue
        record_id = record.get("id")
        if record_id is None:
            records.append({**record, "status": "issued"})  # an old one-line record
        elif record_id in by_id:
            by_id[record_id].update(record)
        else:
            by_id[record_id] = record
            records.append(record)
    return records, problems
