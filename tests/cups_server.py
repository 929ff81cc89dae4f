"""A private CUPS scheduler on loopback, and a network printer behind it that records what it is sent.

Debian's cups-daemon ships only the ipp backend (socket, lpd and usb come with the full `cups`
package), so the printer speaks IPP: CUPS's own ipp backend delivers each job to it over
127.0.0.1 exactly as it would to a real IPP printer, and the printer keeps the document bytes
and the job attributes it was sent. Nothing here touches /etc/cups or a system scheduler.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CUPSD = "/usr/sbin/cupsd"
START_TIMEOUT = 20.0

# IPP operations, statuses, delimiter and value tags (RFC 8010, RFC 8011).
PRINT_JOB, VALIDATE_JOB, CANCEL_JOB = 0x02, 0x04, 0x08
GET_JOB_ATTRIBUTES, GET_JOBS, GET_PRINTER_ATTRIBUTES = 0x09, 0x0A, 0x0B
OK, NOT_FOUND, OPERATION_NOT_SUPPORTED = 0x0000, 0x0406, 0x0501
OPERATION_GROUP, JOB_GROUP, END, PRINTER_GROUP = 0x01, 0x02, 0x03, 0x04
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
RANGE, BEGIN_COLLECTION, END_COLLECTION = 0x33, 0x34, 0x37
TEXT, NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49
JOB_COMPLETED, PRINTER_IDLE = 9, 3


# --- IPP encoding -------------------------------------------------------------------------------

def decode_ipp(body: bytes) -> tuple[int, int, dict[str, list], bytes]:
    """Return (operation, request id, attributes by name, document data) of one IPP message.

    Attributes of every group are merged by name; members of collections are skipped."""
    op, request_id = struct.unpack(">HI", body[2:8])
    attrs: dict[str, list] = {}
    pos, depth, name = 8, 0, ""
    while pos < len(body):
        tag = body[pos]
        pos += 1
        if tag == END:
            break
        if tag < 0x10:  # a delimiter starting the next group
            continue
        (size,) = struct.unpack(">H", body[pos:pos + 2])
        new_name = body[pos + 2:pos + 2 + size].decode()
        pos += 2 + size
        (size,) = struct.unpack(">H", body[pos:pos + 2])
        raw = body[pos + 2:pos + 2 + size]
        pos += 2 + size
        if tag == BEGIN_COLLECTION:
            depth += 1
        elif tag == END_COLLECTION:
            depth -= 1
            continue
        if depth > 1 or (depth == 1 and tag != BEGIN_COLLECTION):
            continue
        name = new_name or name
        attrs.setdefault(name, []).append("<collection>" if tag == BEGIN_COLLECTION else _value(tag, raw))
    return op, request_id, attrs, body[pos:]


def _value(tag: int, raw: bytes):
    if tag in (INTEGER, ENUM):
        return struct.unpack(">i", raw)[0]
    if tag == BOOLEAN:
        return bool(raw[0])
    if tag == RANGE:
        return struct.unpack(">ii", raw)
    if 0x40 <= tag <= 0x5f:
        return raw.decode("utf-8", "replace")
    return raw


def encode_ipp(code: int, request_id: int, groups: list[tuple[int, list[tuple[int, str, list]]]]) -> bytes:
    """Encode an IPP/1.1 request (code: the operation) or response (code: the status).

    groups are (delimiter tag, [(value tag, name, values)])."""
    out = bytearray(struct.pack(">BBHI", 1, 1, code, request_id))
    for group, attrs in groups:
        out.append(group)
        for tag, name, values in attrs:
            for n, value in enumerate(values):
                if tag in (INTEGER, ENUM):
                    raw = struct.pack(">i", value)
                elif tag == BOOLEAN:
                    raw = bytes([bool(value)])
                elif tag == RANGE:
                    raw = struct.pack(">ii", *value)
                else:
                    raw = value.encode()
                key = b"" if n else name.encode()
                out += bytes([tag]) + struct.pack(">H", len(key)) + key + struct.pack(">H", len(raw)) + raw
    out.append(END)
    return bytes(out)


# --- the printer --------------------------------------------------------------------------------

@dataclass
class Received:
    """One Print-Job request as the printer got it."""

    job_id: int
    attributes: dict[str, list]
    data: bytes


@dataclass
class IppPrinter:
    """An IPP printer on 127.0.0.1 that accepts Print-Job and keeps every job it is sent."""

    jobs: list[Received] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ipp-printer", daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        return f"ipp://127.0.0.1:{self._server.server_address[1]}/ipp/print"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, since: int = 0) -> list[Received]:
        with self._lock:
            return list(self.jobs[since:])

    def answer(self, body: bytes) -> bytes:
        op, request_id, attrs, data = decode_ipp(body)
        head = [(CHARSET, "attributes-charset", ["utf-8"]), (LANGUAGE, "attributes-natural-language", ["en"])]
        with self._lock:
            self.requests.append(op)
            if op == PRINT_JOB:
                job = Received(len(self.jobs) + 1, attrs, data)
                self.jobs.append(job)
                return encode_ipp(OK, request_id,
                                  [(OPERATION_GROUP, head), (JOB_GROUP, self._job(job.job_id))])
            if op == GET_JOB_ATTRIBUTES:
                job_id = attrs.get("job-id", [0])[0]
                if not 0 < job_id <= len(self.jobs):
                    return encode_ipp(NOT_FOUND, request_id, [(OPERATION_GROUP, head)])
                return encode_ipp(OK, request_id, [(OPERATION_GROUP, head), (JOB_GROUP, self._job(job_id))])
            if op == GET_PRINTER_ATTRIBUTES:
                return encode_ipp(OK, request_id, [(OPERATION_GROUP, head), (PRINTER_GROUP, self._printer())])
            if op in (GET_JOBS, CANCEL_JOB, VALIDATE_JOB):
                return encode_ipp(OK, request_id, [(OPERATION_GROUP, head)])
        return encode_ipp(OPERATION_NOT_SUPPORTED, request_id, [(OPERATION_GROUP, head)])

    def _job(self, job_id: int) -> list:
        return [(INTEGER, "job-id", [job_id]), (URI, "job-uri", [f"{self.uri}/{job_id}"]),
                (ENUM, "job-state", [JOB_COMPLETED]),
                (KEYWORD, "job-state-reasons", ["job-completed-successfully"])]

    def _printer(self) -> list:
        # No copies-supported: like many network printers, so CUPS's backend sends a document once per copy.
        return [
            (URI, "printer-uri-supported", [self.uri]), (KEYWORD, "uri-security-supported", ["none"]),
            (KEYWORD, "uri-authentication-supported", ["none"]), (NAME, "printer-name", ["test-printer"]),
            (ENUM, "printer-state", [PRINTER_IDLE]), (KEYWORD, "printer-state-reasons", ["none"]),
            (BOOLEAN, "printer-is-accepting-jobs", [True]),
            (ENUM, "operations-supported", [PRINT_JOB, VALIDATE_JOB, CANCEL_JOB, GET_JOB_ATTRIBUTES, GET_JOBS,
                                            GET_PRINTER_ATTRIBUTES]),
            (MIME, "document-format-supported", ["application/pdf", "application/octet-stream"]),
            (MIME, "document-format-default", ["application/octet-stream"]),
            (KEYWORD, "compression-supported", ["none"]),
            (KEYWORD, "ipp-versions-supported", ["1.0", "1.1"]),
            (KEYWORD, "media-supported", ["iso_a4_210x297mm", "na_letter_8.5x11in"]),
            (KEYWORD, "media-default", ["iso_a4_210x297mm"]),
            (KEYWORD, "sides-supported", ["one-sided", "two-sided-long-edge", "two-sided-short-edge"]),
            (KEYWORD, "sides-default", ["one-sided"]),
            (CHARSET, "charset-configured", ["utf-8"]), (CHARSET, "charset-supported", ["utf-8"]),
            (LANGUAGE, "natural-language-configured", ["en"]),
            (LANGUAGE, "generated-natural-language-supported", ["en"]),
            (KEYWORD, "pdl-override-supported", ["not-attempted"]),
            (INTEGER, "printer-up-time", [int(time.monotonic())]),
            (INTEGER, "queued-job-count", [0]),
        ]


def _handler(printer: IppPrinter):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as CUPS expects

        def do_POST(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._chunked()
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = printer.answer(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/ipp")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _chunked(self) -> bytes:
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        def log_message(self, *args):
            pass

    return Handler


# --- the scheduler ------------------------------------------------------------------------------

CUPSD_CONF = """\
Listen 127.0.0.1:{port}
LogLevel warn
WebInterface No
Browsing No
DefaultAuthType None
PreserveJobFiles No
PreserveJobHistory Yes
# Write job control files at once, not up to 30 s later, so tests can read them.
DirtyCleanInterval 0
<Location />
  Order allow,deny
  Allow 127.0.0.1
</Location>
<Policy default>
  JobPrivateAccess default
  JobPrivateValues default
  SubscriptionPrivateAccess default
  SubscriptionPrivateValues default
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
StateDir {root}/state
CacheDir {root}/cache
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
LogFilePerm 0600
ServerBin /usr/lib/cups
DataDir /usr/share/cups
FileDevice No
# No printcap: the default is /run/cups/printcap, which belongs to the system's scheduler.
Printcap
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cups:
    """A cupsd of our own: its config, spool and logs in one temp folder, listening on 127.0.0.1 only."""

    def __init__(self):
        missing = [tool for tool in (CUPSD, "lp", "lpstat", "lpadmin") if not shutil.which(tool)]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not found — python3 test.py installs cups-daemon "
                               "and cups-client, or apt-get install them")
        # Not under pytest's 0700 temp folder: the ipp backend runs as the lp user and must reach
        # the spool to read the document it sends.
        self.root = Path(tempfile.mkdtemp(prefix="clearleaf-cups-"))
        self.root.chmod(0o711)
        for sub in ("conf", "spool/tmp", "state", "cache", "log"):
            (self.root / sub).mkdir(parents=True)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.printer: IppPrinter | None = None
        self.queue = ""

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def output(self) -> str:
        path = self.root / "log" / "cupsd.out"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def error_log(self) -> str:
        path = self.root / "log" / "error_log"
        return path.read_text(errors="replace") if path.exists() else "(no error_log)"

    def start(self) -> Cups:
        """Start cupsd in the foreground; retry on another port if the one picked was taken meanwhile."""
        for _ in range(3):
            self.port = free_port()
            (self.root / "conf" / "cupsd.conf").write_text(CUPSD_CONF.format(port=self.port))
            (self.root / "conf" / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
            # Its own output goes to a file: a pipe nobody reads could fill up and stall it.
            with open(self.root / "log" / "cupsd.out", "wb") as output:
                self.process = subprocess.Popen(
                    [CUPSD, "-f", "-c", str(self.root / "conf" / "cupsd.conf"),
                     "-s", str(self.root / "conf" / "cups-files.conf")],
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
            if self._wait_running():
                return self
            self._stop_process()
            if "bind" not in (self.output + self.error_log).lower():
                break
        raise RuntimeError(f"cupsd did not start on {self.server}\n--- cupsd output:\n{self.output}\n"
                           f"--- error_log:\n{self.error_log}")

    def _wait_running(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            done = subprocess.run(["lpstat", "-h", self.server, "-r"], check=False, capture_output=True,
                                  text=True, timeout=10)
            if done.stdout.strip() == "scheduler is running":
                return True
            time.sleep(0.05)
        return False

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run a CUPS command (lpadmin, lpstat, cupsdisable...) against this scheduler; fail loudly."""
        done = subprocess.run([args[0], "-h", self.server, *args[1:]], check=False, capture_output=True,
                              text=True, timeout=30, env={**os.environ, "LC_ALL": "C"})
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                               f"--- error_log:\n{self.error_log}")
        return done

    def add_printer(self, name: str, uri: str) -> None:
        """Create an enabled, accepting raw queue: the PDF reaches the device exactly as sent."""
        # Raw queues are deprecated in CUPS 2.4 (lpadmin warns) but still work, and need no filters.
        self.run("lpadmin", "-p", name, "-E", "-v", uri, "-m", "raw")
        self.run("cupsenable", name)
        self.run("cupsaccept", name)

    def job_attributes(self, job_id: str) -> dict[str, list]:
        """Every attribute the scheduler reports for a job (Get-Job-Attributes, as lpstat asks)."""
        number = int(job_id.rpartition("-")[2])
        request = encode_ipp(GET_JOB_ATTRIBUTES, 1, [(OPERATION_GROUP, [
            (CHARSET, "attributes-charset", ["utf-8"]), (LANGUAGE, "attributes-natural-language", ["en"]),
            (URI, "job-uri", [f"ipp://{self.server}/jobs/{number}"]),
            (NAME, "requesting-user-name", ["root"]), (KEYWORD, "requested-attributes", ["all"])])])
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST", "/jobs/", request, {"Content-Type": "application/ipp"})
            status, _, attrs, _ = decode_ipp(connection.getresponse().read())
        finally:
            connection.close()
        if status != OK:
            raise RuntimeError(f"Get-Job-Attributes {job_id}: IPP status 0x{status:04x}\n{self.error_log}")
        return attrs

    def wait_for_job(self, job_id: str, timeout: float = 30.0) -> str:
        """Wait until the scheduler has finished a job and return 'completed'; fail if it was cancelled
        or aborted, or is still pending or printing after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.job_attributes(job_id)["job-state"][0]
            if state == 9:  # IPP job-state: 7 canceled, 8 aborted, 9 completed
                return "completed"
            if state in (7, 8) or time.monotonic() >= deadline:
                raise AssertionError(f"job {job_id} is in IPP job-state {state}, not completed\n{self.error_log}")
            time.sleep(0.05)

    def control_file(self, job_id: str) -> bytes:
        """The scheduler's record of a job (IPP attributes, no document) from the spool."""
        number = int(job_id.rpartition("-")[2])
        return (self.spool / f"c{number:05d}").read_bytes()

    def documents(self) -> list[Path]:
        """Every document file still in the spool (d<job>-<n>)."""
        return sorted(p for p in self.spool.iterdir() if p.name.startswith("d"))

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@contextmanager
def running_cups(queue: str = "ward"):
    """A private scheduler with one raw queue whose printer keeps what it receives; stopped afterwards."""
    printer = IppPrinter()
    cups = Cups()
    try:
        cups.start()
        cups.add_printer(queue, printer.uri)
        cups.printer = printer
        cups.queue = queue
        yield cups
    finally:
        cups.stop()
        printer.stop()
