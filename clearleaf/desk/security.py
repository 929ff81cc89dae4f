"""What keeps the desk safe on a hospital network: who is asking, and what a request may carry.

- Sessions live in server memory; the cookie holds only a random id (HttpOnly, SameSite=Strict,
  Secure behind TLS) and ends after the idle timeout.
- Every POST carries the session's CSRF token.
- The Host header must be one the desk answers to, and a request body is small.
- Logins are rate-limited per address and per user name.
- The access log has the method, path, status and time only: never a query, body or header.
- Every response says: nothing external (CSP), no sniffing, no referrer; and, unless it is a
  static file, never store me (patient details may be in it).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

COOKIE = "clearleaf_session"
MAX_BODY = 64 * 1024
MAX_HANDOUTS = 4  # previews kept per session; older ones are dropped
LOGIN_FAILURES = 5
LOGIN_WINDOW = 15 * 60
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
]
access_log = logging.getLogger("clearleaf.desk.access")


@dataclass
class Session:
    """One staff member's visit: who, the CSRF token, and the handouts previewed (in memory only)."""

    id: str
    user: str | None
    via: str = "local"  # how the user was named: local (the OS user), login, or proxy
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)
    handouts: OrderedDict = field(default_factory=OrderedDict)  # token -> Prepared

    def keep(self, token: str, prepared) -> None:
        self.handouts[token] = prepared
        while len(self.handouts) > MAX_HANDOUTS:
            self.handouts.popitem(last=False)

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    """The sessions of a running desk, in memory: a restart signs everyone out and drops previews."""

    def __init__(self, idle_minutes: int):
        self.idle = idle_minutes * 60
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> Session | None:
        """Return the live session with this id, touching it; expired ones are dropped."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, s in self._items.items() if now - s.last_seen > self.idle]:
                del self._items[key]  # drops its handouts too
            session = self._items.get(sid or "")
            if session is not None:
                session.last_seen = now
            return session

    def new(self, user: str | None, via: str = "local") -> Session:
        session = Session(secrets.token_urlsafe(32), user, via)
        with self._lock:
            self._items[session.id] = session
        return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)


class LoginLimiter:
    """Count failed logins per address and per user name; refuse after LOGIN_FAILURES in the window."""

    def __init__(self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW):
        self.failures, self.window = failures, window
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> int:
        """Return the seconds until these keys may try again (0 when they may now)."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key in keys:
                times = self._seen.get(key, deque())
                while times and now - times[0] > self.window:
                    times.popleft()
                if len(times) >= self.failures:
                    waits.append(int(self.window - (now - times[0])) + 1)
            return max(waits, default=0)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._seen.setdefault(key, deque()).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._seen.pop(key, None)


def host_name(value: str) -> str:
    """Return the host of a Host header, without its port: 'ward.example:8750' -> 'ward.example'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: Host check, body limit, security headers, no-store and the access log."""

    def __init__(self, app, allowed_hosts: set[str]):
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                static = scope["path"].startswith("/static/") and message["status"] == 200
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                           or static]
                headers += HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            headers = Headers(scope=scope)
            if host_name(headers.get("host", "")) not in self.allowed_hosts:
                response = PlainTextResponse("Unknown host: open the desk by the address it was started on.",
                                             status_code=400)
                return await response(scope, receive, send_with_headers)
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                response = PlainTextResponse("The request is too large.", status_code=413)
                return await response(scope, receive, send_with_headers)
            await self.app(scope, _limited(receive), send_with_headers)
        finally:
            # Method, path and status only: a query string or a body could carry patient details.
            access_log.info("%s %s %d %.0f ms", scope["method"], scope["path"], status["code"],
                            (time.perf_counter() - start) * 1000)


class BodyTooLarge(Exception):
    """A request body went past MAX_BODY while it was being read."""


def _limited(receive):
    seen = {"bytes": 0}

    async def wrapped():
        message = await receive()
        if message["type"] == "http.request":
            seen["bytes"] += len(message.get("body", b""))
            if seen["bytes"] > MAX_BODY:
                raise BodyTooLarge()
        return message
    return wrapped
