"""A real SMTP server on loopback for the mail tests: aiosmtpd with STARTTLS or implicit TLS, AUTH,
and a throwaway self-signed certificate, recording everything it accepts."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
USER = "ir-handouts"
PASSWORD = "Tuatara-Lantern-8841"
# The handler refuses these, so tests can see how refusals are reported.
REJECTED_RECIPIENT = "nobody@refused.example"
REJECTED_SENDER = "blocked@refused.example"
# And these it refuses for now (4xx): a full mailbox, greylisting. The sender should try again later.
BUSY_RECIPIENT = "busy@later.example"            # 451 to the message (DATA)
GREYLISTED_RECIPIENT = "greylisted@later.example"  # 450 to the recipient (RCPT)


@dataclass
class Delivered:
    """One message the server accepted, and how it arrived."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class Recorder:
    """aiosmtpd handler: refuses the rejected sender and recipient, keeps every accepted message."""

    delivered: list[Delivered] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.lower() == REJECTED_SENDER:
            return f"553 5.7.1 <{address}>: sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() == REJECTED_RECIPIENT:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address.lower() == GREYLISTED_RECIPIENT:
            return f"450 4.2.0 <{address}>: greylisted, try again in 5 minutes"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # After STARTTLS and with implicit TLS alike, the transport then carries an SSL object.
        tls = server.transport.get_extra_info("ssl_object") is not None
        if BUSY_RECIPIENT in envelope.rcpt_tos:
            return "451 4.3.0 Mail server temporarily busy, try again later"
        self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                        or envelope.content, tls, bool(session.authenticated)))
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class Authenticator:
    """Accept exactly one user name and password."""

    recorder: Recorder
    user: str = USER
    password: str = PASSWORD

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user.encode()
              and auth_data.password == self.password.encode())
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
        self.recorder.logins.append((login, ok))
        return AuthResult(success=ok, handled=False)


@dataclass
class Certificate:
    cert: Path
    key: Path


def make_certificate(folder: Path) -> Certificate:
    """Write a self-signed certificate for 127.0.0.1 and localhost, and its key, into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    # P-256 rather than RSA: key generation is instant.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clearleaf test mail server")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        # Its own authority, so the client can trust it directly as ca_file (also under strict X.509 checks).
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return paths


def server_context(cert: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context


def free_port() -> int:
    """Return a loopback port nothing listens on (a connection to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running test server: where it listens and what it received."""

    port: int
    recorder: Recorder
    controller: Controller
    host: str = HOST

    @property
    def delivered(self) -> list[Delivered]:
        return self.recorder.delivered

    def stop(self) -> None:
        self.controller.stop()


def start(mode: str, cert: Certificate | None = None, password: str = PASSWORD) -> Server:
    """Start a server on a free loopback port.

    mode is 'starttls' (STARTTLS required, then AUTH required), 'tls' (implicit TLS, AUTH) or
    'plain' (no TLS, no AUTH: the server that does not offer STARTTLS). password is the one
    USER must log in with.
    """
    recorder = Recorder()
    options: dict = {"server_hostname": "mail.clearleaf.test", "ready_timeout": 5.0}
    if mode == "starttls":
        options.update(tls_context=server_context(cert), require_starttls=True, auth_required=True,
                       auth_require_tls=True, authenticator=Authenticator(recorder, password=password))
    elif mode == "tls":
        # aiosmtpd only counts STARTTLS as "TLS" for auth_require_tls, so with implicit TLS it would
        # refuse AUTH (538) although the whole connection is encrypted: switch that check off.
        options.update(ssl_context=server_context(cert), auth_require_tls=False,
                       authenticator=Authenticator(recorder, password=password))
    elif mode != "plain":
        raise ValueError(mode)
    # Controller 1.4 cannot listen on port 0, so pick a free port; retry if another process took it.
    for attempt in range(5):
        controller = Controller(recorder, hostname=HOST, port=free_port(), **options)
        try:
            controller.start()
        except OSError:
            if attempt == 4:
                raise
            continue
        return Server(controller.port, recorder, controller)
    raise AssertionError("unreachable")


class SilentServer:
    """A socket that accepts connections but never says a word: for timeouts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class _RawServer:
    """A hand-written SMTP server on loopback, one connection at a time, for misbehaviour aiosmtpd
    will not produce. serve(conn, reader) speaks for it."""

    def __init__(self):
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.host = HOST
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                try:
                    self.serve(conn, reader)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


class TricklingServer(_RawServer):
    """Sends its greeting one byte every `interval` seconds, as a tarpit or a dying server does:
    each read gets a byte long before any per-read timeout. Counts the bytes the client took."""

    def __init__(self, interval: float = 0.25, length: int = 400):
        self.interval, self.greeting, self.sent = interval, b"220 " + b"s" * length + b"\r\n", 0
        super().__init__()

    def serve(self, conn, reader):
        for byte in self.greeting:
            conn.sendall(bytes([byte]))
            self.sent += 1
            time.sleep(self.interval)


class EchoingAuthServer(_RawServer):
    """Offers AUTH PLAIN and LOGIN, and refuses every login by echoing what the client sent."""

    def __init__(self):
        self.seen: list[bytes] = []
        super().__init__()

    def serve(self, conn, reader):
        conn.sendall(b"220 echo.test ESMTP\r\n")
        while line := reader.readline():
            self.seen.append(line)
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-echo.test\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH" and line.split()[1:2] == [b"LOGIN"] and len(line.split()) == 3:
                conn.sendall(b"334 UGFzc3dvcmQ6\r\n")  # "Password:"
                answer = reader.readline()
                conn.sendall(b"535 5.7.8 Bad credentials: " + line.strip() + b" " + answer.strip() + b"\r\n")
            elif verb == b"AUTH":
                conn.sendall(b"535 5.7.8 Authentication failed for " + line.strip() + b"\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 not here\r\n")
