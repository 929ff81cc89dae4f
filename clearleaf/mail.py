"""E-mail a handout: compose the message, optionally encrypt the PDF, send it over SMTP.

The subject and body come from templates/email_subject.txt and templates/email_body.txt and
name only the organisation and the leaflet: a subject line or a mailbox preview is seen by
others, so patient details travel only inside the attached PDF.
"""

from __future__ import annotations

import base64
import hmac
import io
import ipaddress
import re
import secrets
import smtplib
import socket
import ssl
import textwrap
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import pikepdf
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from . import i18n
from .config import ORG_FILE, Org, Project, public_org
from .errors import ClearleafError, Problem, os_reason
from .pdf import write_atomic
from .render import install_filters

SUBJECT_TEMPLATE = "email_subject.txt"
BODY_TEMPLATE = "email_body.txt"
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
MIN_PASSWORD = 8
# A plain address only: a display name could be the patient's name, and a comma or a newline
# would add recipients or headers. The domain needs a dot, which catches "name@gmailcom".
ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# The caller builds the file name from the record reference; it must stay a bare file name.
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,150}\.pdf$")
MAX_REPLY = 120
WRAP = 76  # characters a line in the plain-text body
TIMEOUT = 30   # seconds to wait for any one reply
DEADLINE = 60  # seconds for the whole conversation, however slowly the server trickles its replies
TIMEOUT_FIX = "check smtp.host, smtp.port and the network; a firewall may be blocking the port"


class MailError(ClearleafError):
    """A message could not be composed, encrypted, sent or saved."""


class MaybeSent(MailError):
    """The server took the whole message, then hung up or fell silent before confirming it."""


def _error(where: str, problem: str, fix: str, line: int | None = None, field: str | None = None) -> MailError:
    return MailError([Problem(where, line, problem, fix, field)])


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: the mail server, its security, the login and the From address."""

    host: str
    port: int
    security: str  # starttls | tls | none
    user: str | None
    sender: str
    ca_file: Path | None = None

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp {host}:{self.port}"


def _smtp_section(org: Mapping) -> tuple[Mapping, Mapping]:
    """Return org.yaml's smtp section and the line of each key (none for a plain dict).

    Problems config.check_org found in the section are raised here, with their lines, so that
    code that dropped them (or never ran the build) cannot send with a half-read section.
    """
    problems = org.problems_under("smtp") if isinstance(org, Org) else []
    if problems:
        raise MailError(problems)
    lines = org.lines if isinstance(org, Org) else {}
    return org.get("smtp") or {}, lines


def smtp_settings(org: Mapping, host: str | None = None, port: int | None = None,
                  ca_file: Path | None = None) -> SmtpSettings:
    """Return the SMTP settings from org.yaml's smtp section, with command-line values winning.

    Every problem names leaflets/org.yaml and, for an Org from config.check_org, the line.
    """
    shown = f"leaflets/{ORG_FILE}"
    smtp, lines = _smtp_section(org)
    host = host or smtp.get("host")
    if not host:
        if "smtp" in org:
            raise _error(shown, "smtp.host is missing",
                         "add host: with the mail server's name under smtp:, e.g. host: smtp.example.org, "
                         "or pass --smtp-host", lines.get("smtp"))
        raise _error(shown, "no mail server is set",
                     "add smtp: with host, port, security, user and from to leaflets/org.yaml, "
                     "or pass --smtp-host")
    # The parsed config defaults security to starttls, so 'none' only ever comes from someone
    # writing it: plain text is never a fallback.
    security = smtp.get("security", "starttls")
    if security not in DEFAULT_PORTS:
        raise _error(shown, f"smtp.security '{security}' is not allowed", "use starttls, tls or none",
                     lines.get("smtp.security"))
    if security == "none" and not is_loopback(host):
        raise _error(shown, f"smtp.security is none but the mail server {host} is not on this machine",
                     "use starttls or tls; none (no encryption) is only for a mail relay on this machine",
                     lines.get("smtp.security"))
    sender = _sender(smtp, lines, shown)
    from_config = not port and smtp.get("port")
    port = int(port or smtp.get("port") or DEFAULT_PORTS[security])
    if not 0 < port < 65536:
        raise _error(shown, f"smtp port {port} is out of range", "use e.g. 587 (starttls) or 465 (tls)",
                     lines.get("smtp.port") if from_config else None)
    return SmtpSettings(host, port, security, smtp.get("user") or None, sender,
                        Path(ca_file) if ca_file else None)


def sender_address(org: Mapping) -> str:
    """Return the From address for a message that is saved, not sent (it needs no mail server)."""
    smtp, lines = _smtp_section(org)
    return _sender(smtp, lines, f"leaflets/{ORG_FILE}")


def _sender(smtp: Mapping, lines: Mapping, shown: str) -> str:
    sender = smtp.get("from")
    if not sender:
        raise _error(shown, "smtp.from is missing",
                     "add the From address under smtp:, e.g. from: Riverside IR <ir-handouts@riverside.example>",
                     lines.get("smtp"))
    _check_header(sender, shown, "smtp.from", lines.get("smtp.from"))
    if "@" not in parseaddr(sender)[1]:
        raise _error(shown, f"smtp.from '{_printable(sender)}' is not an e-mail address",
                     "write it as Name <address@example.org> or just the address", lines.get("smtp.from"))
    return sender


def is_loopback(host: str) -> bool:
    """Return True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_header(value: str, where: str, what: str, line: int | None = None) -> None:
    # A newline in a header value would let it start another header.
    if any(ch in value for ch in "\r\n\0"):
        raise _error(where, f"{what} contains a line break", f"write {what} on one line", line)


def check_address(to: str) -> str:
    """Return the bare e-mail address in to, or raise MailError if it is not exactly one address."""
    shown = "e-mail address"
    fix = "give one address such as name@example.org, with no name, commas or spaces"
    if not isinstance(to, str) or not to.strip():
        raise _error(shown, "no address given", fix, field="to")
    if any(ch in to for ch in "\r\n\0,;"):
        raise _error(shown, "this is not a single address (it has a comma, a semicolon or a line break)", fix,
                     field="to")
    text = to.strip()
    if len(text) > 320:  # a name and an address; never needs more
        raise _error(shown, f"the address is {len(text)} characters long", fix, field="to")
    _, address = parseaddr(text)
    if "@" not in address or not ADDRESS_RE.match(address):
        # The address is never shown: it is the patient's, and this message may be seen or logged.
        raise _error(shown, "this is not a valid e-mail address", fix, field="to")
    local_part = address.rpartition("@")[0]
    if len(local_part) > 64 or len(address) > 254:  # RFC 5321: 64 before the @, 254 in all
        raise _error(shown, "the address is too long for e-mail (at most 64 characters before the @ "
                     "and 254 in all)", fix, field="to")
    # parseaddr quietly drops what it cannot parse, e.g. a second address: accept only
    # "address" or "Name <address>", and use the address alone.
    if text != address and not re.fullmatch(r'[^<>@"]*<\s*' + re.escape(address) + r"\s*>", text):
        raise _error(shown, "this is not a single address", fix, field="to")
    return address


def _printable(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")[:80]


def compose(project: Project, org: dict, parts: list, pdf: bytes, filename: str, to: str, sender: str,
            *, encrypted: bool | None = None, lang: str = "en") -> EmailMessage:
    """Return the e-mail for a handout: subject and body from the templates, the PDF attached.

    parts is the leaflet then its inserts. encrypted says whether the PDF needs a password;
    when None it is read from the PDF itself. lang is the language of the subject and body (the
    handout's language); a language without a catalogue raises RenderError.
    """
    address = check_address(to)
    _check_header(sender, "smtp.from", "the From address")
    if not FILENAME_RE.match(filename or ""):
        raise _error("attachment", f"'{_printable(filename or '')}' is not a plain PDF file name",
                     "use letters, digits, '-', '_' and '.', ending in .pdf (e.g. the record reference)")
    if encrypted is None:
        encrypted = _is_encrypted(pdf)
    printable = public_org(org, parts[0].lang)
    context = {
        "org": printable,
        "phone": next(iter(printable.get("phones", {}).values()), None),
        "leaflet": _part(parts[0]),
        "inserts": [_part(p) for p in parts[1:]],
        "encrypted": encrypted,
    }
    env = _environment(project, lang)
    # One line, whatever the template's whitespace: a stray newline must never reach the header.
    subject = " ".join(_render(env, SUBJECT_TEMPLATE, context).split())
    if not subject:
        raise _error(f"templates/{SUBJECT_TEMPLATE}", "the subject is empty", "write a one-line subject")
    body = _render(env, BODY_TEMPLATE, context).strip() + "\n"

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    # The sender's own domain, not this machine's name, which would be leaked and may be slow to look up.
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "clearleaf.invalid")
    message.set_content(body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def _part(leaflet) -> dict:
    """Return what the e-mail templates may know about one leaflet or insert: its front matter."""
    meta = dict(leaflet.meta)
    return {"id": leaflet.id, "kind": leaflet.kind, "title": meta["title"], "meta": meta}


def _is_encrypted(pdf: bytes) -> bool:
    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            return doc.is_encrypted
    except pikepdf.PasswordError:
        return True
    except pikepdf.PdfError:
        raise _error("attachment", "the handout is not a readable PDF",
                     "build the handout again; this is a bug if it keeps happening") from None


def _environment(project: Project, lang: str = "en") -> SandboxedEnvironment:
    # Plain text, so no HTML escaping; sandboxed and strict like the HTML templates, with the
    # same i18n extension and catalogue (clearleaf/i18n.py).
    env = SandboxedEnvironment(loader=FileSystemLoader(project.templates), autoescape=False,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=False, extensions=["jinja2.ext.i18n"])
    i18n.install(env, i18n.translations(project, lang), escape_html=False)
    install_filters(env, lang)
    # Each paragraph is one line in the catalogue; wrap it for mail programs, never inside a
    # word or at a hyphen (phone numbers, "e-mail").
    env.filters["wrap"] = lambda text: textwrap.fill(str(text), WRAP, break_long_words=False,
                                                     break_on_hyphens=False)
    env.globals["rtl"] = i18n.is_rtl(lang)
    return env


def _render(env: SandboxedEnvironment, name: str, context: dict) -> str:
    shown = f"templates/{name}"
    try:
        return env.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        raise MailError([Problem(shown, exc.lineno, f"template error: {exc.message}",
                                 "fix the Jinja syntax in the template")]) from None
    except TemplateError as exc:
        fix = "e-mail templates may use only org, phone, leaflet, inserts, encrypted and rtl"
        raise MailError([Problem(shown, _template_line(exc, name), f"template error: {exc}", fix)]) from None
    except OSError as exc:
        raise _error(shown, f"cannot read the template: {exc.strerror}",
                     "restore it from the project") from None


def _template_line(exc: Exception, name: str) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check_pdf_password(password: str) -> None:
    """Refuse a PDF password shorter than MIN_PASSWORD characters, before anything is rendered."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise _error("password", f"the PDF password is shorter than {MIN_PASSWORD} characters",
                     f"use at least {MIN_PASSWORD} characters, and give it to the patient separately",
                     field="password")


def encrypt_pdf(data: bytes, password: str) -> bytes:
    """Return the PDF encrypted with AES-256: opening it needs password; printing stays allowed."""
    check_pdf_password(password)
    # The owner password is random and thrown away: nobody needs to lift the restrictions.
    permissions = pikepdf.Permissions(accessibility=True, extract=True, print_lowres=True, print_highres=True,
                                      modify_annotation=False, modify_assembly=False, modify_form=False,
                                      modify_other=False)
    out = io.BytesIO()
    try:
        with pikepdf.open(io.BytesIO(data)) as doc:
            doc.save(out, encryption=pikepdf.Encryption(user=password, owner=secrets.token_urlsafe(24), R=6,
                                                        allow=permissions))
    except pikepdf.PdfError:
        raise _error("attachment", "the handout is not a readable PDF",
                     "build the handout again; this is a bug if it keeps happening") from None
    return out.getvalue()


def send(message: EmailMessage, settings: SmtpSettings, password: str | None, timeout: float = TIMEOUT,
         deadline: float = DEADLINE) -> None:
    """Send message through the mail server, encrypted unless security is none; raise MailError.

    timeout bounds each wait for the server; deadline bounds the whole conversation, so that a
    server trickling its replies a byte at a time cannot hold the caller for longer.
    """
    where = settings.where
    if settings.user and password is None:
        raise _error(where, f"smtp.user is {settings.user} but no password was given",
                     "set SMTP_PASSWORD in the environment (it is never stored in org.yaml)")
    context = _ssl_context(settings) if settings.security != "none" else None
    watch = _Deadline(deadline)
    secrets_ = _Secrets(settings.user, password)
    try:
        _deliver(message, settings, password, timeout, context, watch)
    except MaybeSent:
        raise
    except Exception as exc:
        if watch.expired:
            raise _error(where, f"the mail server did not finish within {deadline:g} seconds; nothing was sent",
                         "try again later; if it keeps happening, " + TIMEOUT_FIX) from None
        if isinstance(exc, MailError):
            raise
        raise _failure(exc, settings, secrets_, timeout) from None
    finally:
        watch.cancel()


def _failure(exc: Exception, settings: SmtpSettings, secrets_: "_Secrets", timeout: float) -> MailError:
    """Return the one-line MailError for what went wrong while sending."""
    where = settings.where
    reply = secrets_.reply
    temporary = "nothing was sent: try again later, or print the handout instead"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(reply(code, text) for code, text in exc.recipients.values())
        if codes and all(400 <= code < 500 for code in codes):
            return _error(where, f"the server cannot take the message now ({replies}): a temporary failure",
                          temporary)
        # The address itself is never shown: it is the patient's.
        return _error(where, f"the server refused the recipient's address ({replies})",
                      "check the patient's e-mail address, or print the handout instead")
    if isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500:
        return _error(where, f"the server cannot take the message now ({reply(exc.smtp_code, exc.smtp_error)}): "
                      "a temporary failure", temporary)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _error(where, f"the server's certificate is not trusted ({exc.verify_message})",
                      "check the host name; if your organisation has its own certificate authority, "
                      "pass its certificate with --smtp-ca-file")
    if isinstance(exc, ssl.SSLError):
        return _error(where, f"the TLS handshake failed ({exc.reason or exc})",
                      "check smtp.security: port 465 is usually tls, 587 starttls")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _error(where, f"the server refused the login for {settings.user} "
                      f"({reply(exc.smtp_code, exc.smtp_error)})",
                      "check smtp.user in leaflets/org.yaml and SMTP_PASSWORD")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _error(where, f"the server refused the sender {_sender_text(exc.sender)} "
                      f"({reply(exc.smtp_code, exc.smtp_error)})",
                      "check smtp.from in leaflets/org.yaml: the server must let smtp.user use it")
    if isinstance(exc, smtplib.SMTPDataError):
        return _error(where, f"the server refused the message ({reply(exc.smtp_code, exc.smtp_error)})",
                      "the attachment may be too large for this server; ask your IT team")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _error(where, "the server does not offer a login (AUTH)",
                      "remove smtp.user from leaflets/org.yaml if this server needs none, or check smtp.security")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout into "disconnected"; the timeout is what the user can act on.
        if isinstance(exc.__context__, TimeoutError):
            return _error(where, f"no answer within {timeout:g} seconds", TIMEOUT_FIX)
        return _error(where, "the server closed the connection",
                      "check smtp.host, smtp.port and smtp.security (465 is tls, 587 starttls)")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _error(where, f"the server said {reply(exc.smtp_code, exc.smtp_error)}",
                      "try again later, or ask your IT team about this reply")
    if isinstance(exc, smtplib.SMTPException):
        return _error(where, f"sending failed ({type(exc).__name__})", "try again later, or ask your IT team")
    if isinstance(exc, socket.gaierror):
        return _error(where, "the mail server's name was not found",
                      "check smtp.host in leaflets/org.yaml or --smtp-host")
    if isinstance(exc, ConnectionRefusedError):
        return _error(where, "connection refused",
                      "check smtp.host and smtp.port (or --smtp-host/--smtp-port), and that the mail server "
                      "is running")
    if isinstance(exc, TimeoutError):
        return _error(where, f"no answer within {timeout:g} seconds", TIMEOUT_FIX)
    if isinstance(exc, OSError):
        return _error(where, f"cannot reach the mail server ({exc.strerror or type(exc).__name__})",
                      "check smtp.host, smtp.port and the network connection")
    raise exc  # a bug: keep its traceback


class _Deadline:
    """Hang up on the mail server once the whole conversation has taken `seconds`.

    A per-read timeout never fires while the server sends a byte now and then, so a timer shuts
    the socket down instead: the read that is waiting then ends at once, and so does the send.
    """

    def __init__(self, seconds: float):
        self.expired = False
        self.sockets: list[socket.socket] = []
        self.client: smtplib.SMTP | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        for sock in [getattr(self.client, "sock", None), *self.sockets]:
            if sock is not None:
                try:
                    # The plain socket's shutdown, also for a TLS socket: it ends a read in progress.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def cancel(self) -> None:
        self._timer.cancel()


class _Client(smtplib.SMTP):
    """smtplib's client, with its connection watched by a _Deadline from the moment it opens."""

    watch: _Deadline | None = None

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        if self.watch is not None:
            self.watch.sockets.append(sock)
        return sock


class _TlsClient(smtplib.SMTP_SSL, _Client):
    """Implicit TLS; its handshake, too, runs on a watched socket (SMTP_SSL wraps _Client's)."""


class _Secrets:
    """What must never be shown from a server's reply: the password (and the base64 the login
    sent it in, which a server may echo) and the patient's address."""

    BASE64_RE = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
    ADDRESS_RE = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")

    def __init__(self, user: str | None, password: str | None):
        self.hidden = [_utf8(v) for v in (password,) if v]
        self.user = _utf8(user) if user else None

    def reply(self, code: int, text) -> str:
        """Return the server's reply, short and on one line, with no password and no address."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = " ".join(str(text).split())
        for secret in self.hidden:
            text = text.replace(secret.decode("utf-8", "replace"), "***")
        text = self.BASE64_RE.sub(self._masked, text)
        text = self.ADDRESS_RE.sub("<address>", text)
        if len(text) > MAX_REPLY:
            text = text[:MAX_REPLY] + "…"
        return f"{code} {text}".strip()

    def _masked(self, found: re.Match) -> str:
        token = found.group(0)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return token
        # A login's own base64: "\0user\0password" (PLAIN), the user or the password (LOGIN).
        if b"\0" in decoded or any(s in decoded for s in self.hidden) or (self.user and self.user in decoded):
            return "***"
        return token


def _utf8(text: str) -> bytes:
    # surrogateescape: an environment variable that is not UTF-8 still gives back its own bytes.
    return text.encode("utf-8", "surrogateescape")


def _login(client: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with AUTH CRAM-MD5, PLAIN or LOGIN, sending the name and password as UTF-8.

    smtplib encodes them as ASCII, so a password with an accented letter failed with a
    traceback that showed the letter (RFC 4616 and 4954 say UTF-8).
    """
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = client.esmtp_features["auth"].upper().split()
    name, secret = _utf8(user), _utf8(password)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if "CRAM-MD5" in offered:
        code, challenge = client.docmd("AUTH", "CRAM-MD5")
        if code == 334:
            digest = hmac.HMAC(secret, base64.b64decode(challenge), "md5").hexdigest()
            code, reply = client.docmd(b64(name + b" " + digest.encode("ascii")))
        else:
            reply = challenge
    elif "PLAIN" in offered:
        code, reply = client.docmd("AUTH", "PLAIN " + b64(b"\0" + name + b"\0" + secret))
    elif "LOGIN" in offered:
        code, reply = client.docmd("AUTH", "LOGIN " + b64(name))
        if code == 334:
            code, reply = client.docmd(b64(secret))
    else:
        raise smtplib.SMTPException("No suitable authentication method found.")
    if code not in (235, 503):  # 503: already logged in
        raise smtplib.SMTPAuthenticationError(code, reply)


def _watch_for_end_of_data(client: smtplib.SMTP):
    """Return a function that tells whether the message's closing "." has gone to the server."""
    sent = [False]
    real = client.send

    def send(data) -> None:
        real(data)
        if (data if isinstance(data, bytes) else str(data).encode()).endswith(b"\r\n.\r\n"):
            sent[0] = True

    client.send = send
    return lambda: sent[0]


def _ssl_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Return a verifying TLS context, trusting ca_file when given, else the system's authorities."""
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    except FileNotFoundError:
        raise _error(str(settings.ca_file), "the CA certificate file does not exist",
                     "check the path given to --smtp-ca-file") from None
    except (ssl.SSLError, OSError):
        raise _error(str(settings.ca_file), "the CA certificate file cannot be read as PEM certificates",
                     "give --smtp-ca-file a PEM file holding your organisation's CA certificate") from None


def _deliver(message: EmailMessage, settings: SmtpSettings, password: str | None, timeout: float,
             context: ssl.SSLContext | None, watch: _Deadline) -> None:
    # Made without a host, so the deadline watches the connection from its first byte.
    client = _TlsClient(timeout=timeout, context=context) if settings.security == "tls" else _Client(timeout=timeout)
    client.watch, watch.client = watch, client
    client._host = settings.host  # what TLS checks the certificate against, as a host given to __init__ is
    try:
        code, greeting = client.connect(settings.host, settings.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, greeting)
        client.ehlo()
        if settings.security == "starttls":
            # Never carry on in plain text: the message holds patient details.
            if not client.has_extn("starttls"):
                raise _error(settings.where, "the server does not offer STARTTLS, so the message would go "
                             "unencrypted; nothing was sent",
                             "check smtp.port (587 usually offers STARTTLS), "
                             "or use security: tls with port 465")
            client.starttls(context=context)
            client.ehlo()
        if settings.user:
            _login(client, settings.user, password)
        body_sent = _watch_for_end_of_data(client)
        try:
            client.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # A reply (smtplib's errors are OSErrors too) is a clear answer: the message was refused.
            if not body_sent() or isinstance(exc, smtplib.SMTPResponseException):
                raise
            raise MaybeSent([Problem(settings.where, None, "the mail server took the whole message but did not "
                                     "confirm it: it may have been sent",
                                     "do not send it again straight away; ask the patient whether it arrived, "
                                     "or print the handout instead")]) from None
    except BaseException:
        # Just hang up: a polite QUIT to a server that timed out would wait the whole timeout again.
        client.close()
        raise
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        # The message was accepted; a failed goodbye changes nothing.
        client.close()


def _sender_text(sender) -> str:
    return sender.decode("utf-8", "replace") if isinstance(sender, bytes) else str(sender)


def write_eml(message: EmailMessage, path: Path, overwrite: bool = False) -> None:
    """Save message as a .eml file (CRLF line ends) that mail programs can open, atomically;
    an existing file is replaced only with overwrite."""
    try:
        # 0600: the attachment carries patient details.
        write_atomic(Path(path), message.as_bytes(policy=policy.SMTP), mode=0o600, overwrite=overwrite)
    except FileExistsError:
        raise _error(str(path), "the file already exists",
                     "choose another --eml, or add --overwrite to replace it") from None
    except OSError as exc:
        raise _error(str(path), f"cannot write the e-mail file: {os_reason(exc)}",
                     "choose another folder, or check its permissions and free space") from None
