"""The desk as a real server for tests: `build.py serve` in its own process on a free loopback port.

    with running_desk(project, "--allow-draft", env={"CUPS_SERVER": cups.server}) as desk:
        httpx.get(desk.url + "/")
        desk.output()   # everything the server printed (stdout + stderr): the access log

The server is the real command (uvicorn, warm render workers), so what a test sees is what a
ward PC sees. It is stopped with SIGINT, as Ctrl+C would, then killed if it does not stop.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cups_server import free_port

REPO = Path(__file__).resolve().parent.parent
_LEFT = []  # each server's temp folder and log, removed when the test session ends


@atexit.register
def _clean_up() -> None:
    for path in _LEFT:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@dataclass
class DeskServer:
    process: subprocess.Popen
    url: str
    log: Path
    tmpdir: Path  # the server's TMPDIR: it must be empty of patient data at the end

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


def start(project: Path, *args: str, env: dict | None = None, port: int | None = None, workers: int = 1,
          timeout: float = 60.0) -> DeskServer:
    """Start `build.py serve` for project and wait until it answers; raise with its output if it does not."""
    port = port or free_port()
    tmpdir = Path(tempfile.mkdtemp(prefix="clearleaf-desk-test-"))
    log = tmpdir.parent / f"{tmpdir.name}.log"
    _LEFT.extend([tmpdir, log])  # kept until the session ends: tests read them after stopping
    command = [sys.executable, str(REPO / "build.py"), "--project", str(project), "serve", "--port", str(port),
               "--workers", str(workers), *args]
    environment = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment,
                                   stdin=subprocess.DEVNULL)
    host = next((args[i + 1] for i, a in enumerate(args) if a == "--host"), "127.0.0.1")
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    server = DeskServer(process, url, log, tmpdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the desk exited with {process.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"the desk did not answer within {timeout:g} s:\n{server.output()}")


def stop(server: DeskServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def running_desk(project: Path, *args: str, **kwargs):
    server = start(project, *args, **kwargs)
    try:
        yield server
    finally:
        stop(server)
