"""Send handout PDFs to a CUPS printer with lp.

The PDF goes to lp on stdin, so nothing is written to disk here, and lp sends no file name
(which could hold a patient's name) as the document name. The job carries only what is passed:
the title (a leaflet code, never a patient's name), copies, paper and sides.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import NoReturn

from .errors import ClearleafError

MEDIA = {"a4": "A4", "letter": "Letter"}
# CUPS queue names: printable, no spaces, / \\ ? ' " or #; never a leading - that lp would read as an option.
PRINTER_RE = re.compile(r"[^\s/\\?'\"#-][^\s/\\?'\"#]{0,126}")
MAX_COPIES = 20
COMMAND_TIMEOUT = 30.0
INSTALL = "install CUPS (Debian: apt-get install cups-client)"


class PrintError(ClearleafError):
    """A handout could not be sent to a printer, or did not print."""


def print_pdf(data: bytes, printer: str, paper: str, copies: int = 1, duplex: bool = False,
              title: str = "handout", server: str | None = None) -> str:
    """Send PDF bytes to a CUPS queue and return the job id (e.g. 'ward-4').

    title is shown in every queue listing: pass the leaflet code, never a patient's name.
    server is host:port; without it lp uses CUPS_SERVER or the system's default server."""
    if not PRINTER_RE.fullmatch(printer):
        _fail(printer, "not a printer name", "use a queue name as lpstat -p lists it, e.g. ward-4-laser")
    if paper not in MEDIA:
        _fail(printer, f"unknown paper '{paper}'", f"use {' or '.join(MEDIA)}")
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        _fail(printer, f"cannot print {copies!r} copies", f"ask for 1 to {MAX_COPIES} copies")
    if not data.startswith(b"%PDF-"):
        _fail(printer, "the document is not a PDF", "print a handout that build has written")
    # Refuse a stopped queue rather than leave the handout waiting in its spool folder.
    _check_queue(printer, server)
    sides = "two-sided-long-edge" if duplex else "one-sided"
    # -h must come before -d: lp looks the destination up on the server as soon as it reads -d.
    args = ["lp", *_host(server), "-d", printer, "-n", str(copies), "-t", title,
            "-o", f"media={MEDIA[paper]}", "-o", f"sides={sides}"]
    code, out, err = _run(args, printer, server, data)
    found = re.search(r"request id is (\S+)", out)
    if code or not found:
        _fail(printer, *_lp_problem(err, out, printer, server))
    return found.group(1)


def list_printers(server: str | None = None) -> list[str]:
    """Return the CUPS queues (`lpstat -e`), sorted; raise PrintError when CUPS cannot be asked."""
    code, out, err = _run(["lpstat", *_host(server), "-e"], "(any)", server)
    if code and "no destinations" not in f"{err}{out}".lower():
        _fail("(any)", *_lp_problem(err, out, "(any)", server))
    names = (line.split()[0] for line in out.splitlines() if line.strip())
    return sorted({name for name in names if PRINTER_RE.fullmatch(name)})


class _Status:
    """What lpstat said about one queue: whether, and why, it is stopped or refusing jobs."""

    def __init__(self, printer: str, text: str):
        self.stopped: str | None = None
        self.rejecting: str | None = None
        blocks: list[list[str]] = []
        for line in text.splitlines():
            if line[:1].isspace() and blocks:
                blocks[-1].append(line.strip())
            elif line.strip():
                blocks.append([line.strip()])
        for head, *details in blocks:
            reason = details[0] if details and head.endswith("-") else ""
            if head.startswith(f"printer {printer} disabled"):
                self.stopped = reason
            elif head.startswith(f"{printer} not accepting"):
                self.rejecting = reason


def _check_queue(printer: str, server: str | None) -> None:
    status = _status(printer, server, ["-p", printer, "-a", printer])
    if status.stopped is not None:
        _fail(printer, f"the printer is stopped ({status.stopped or 'no reason given'})",
              f"fix the printer, then run cupsenable {printer}")
    if status.rejecting is not None:
        _fail(printer, f"the queue is not accepting jobs ({status.rejecting or 'no reason given'})",
              f"run cupsaccept {printer}, or choose another printer (lpstat -p lists them)")


def _status(printer: str, server: str | None, options: list[str]) -> _Status:
    # -r first: with no scheduler, lpstat would only claim the printer does not exist.
    code, out, err = _run(["lpstat", *_host(server), "-r", *options], printer, server)
    if "scheduler is not running" in out or code:
        _fail(printer, *_lp_problem(err, out, printer, server))
    return _Status(printer, out)


def _lp_problem(err: str, out: str, printer: str, server: str | None) -> tuple[str, str]:
    """Turn what lp or lpstat said into (problem, fix); their messages never hold patient data."""
    text = f"{err}\n{out}"
    # Checked first: with no scheduler, lp and lpstat also say the printer does not exist.
    if re.search(r"scheduler is not running|unable to connect|not responding|connection refused", text,
                 re.IGNORECASE):
        return (f"CUPS is not running on {_where(server)}",
                "start it (systemctl start cups) or check CUPS_SERVER")
    if re.search(r"does not exist|invalid destination", text, re.IGNORECASE):
        return f"no printer named {printer}", "lpstat -p lists the printers"
    if re.search(r"not accepting jobs", text, re.IGNORECASE):
        return "the queue is not accepting jobs", f"run cupsaccept {printer}, or choose another printer"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    problem = lines[0] if lines else "lp failed without a message"
    return problem, f"check the printer with lpstat -p {printer} -l"


def _run(args: list[str], printer: str, server: str | None,
         data: bytes | None = None) -> tuple[int, str, str]:
    # English messages whatever the user's locale, because they are matched above.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        done = subprocess.run(args, check=False, input=data, capture_output=True, env=env,
                              stdin=None if data is not None else subprocess.DEVNULL, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        _fail(printer, f"the {args[0]} command is not installed", INSTALL)
    except subprocess.TimeoutExpired:
        _fail(printer, f"CUPS on {_where(server)} did not answer {args[0]} within {COMMAND_TIMEOUT:g} s",
              "check the server (lpstat -r), then see with lpstat -o whether the job was queued "
              "before printing again")
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


def _host(server: str | None) -> list[str]:
    return ["-h", server] if server else []


def _where(server: str | None) -> str:
    if server:
        return server
    if os.environ.get("CUPS_SERVER"):
        return f"{os.environ['CUPS_SERVER']} (CUPS_SERVER)"
    return "the default server"


def _fail(printer: str, problem: str, fix: str) -> NoReturn:
    raise PrintError(f"printer '{printer}': {problem} — {fix}")
