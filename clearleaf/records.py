"""The record of issued handouts: one JSON line per handout saved, printed or e-mailed.

It answers "which version did this patient get?" years later, by reference. It never holds the
patient's name, address, note or medicine: only what identifies the leaflet versions.
"""

from __future__ import annotations

import fcntl
import json
import os
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


def append(path: Path, record: dict) -> None:
    """Append one line; an exclusive lock and a single write keep concurrent writers' lines whole."""
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ClearleafError([Problem(str(path), None, f"cannot write the issue log: {exc.strerror}",
                                      "set issue_log in leaflets/org.yaml to a writable file")]) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
