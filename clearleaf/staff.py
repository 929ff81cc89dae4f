"""Staff logins for the desk: user names with argon2 password hashes, one `name:hash` a line.

The file (desk.users_file in leaflets/org.yaml, by default records/desk-users.txt) holds no
passwords, only argon2id hashes, and is written atomically, readable only by its owner.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import ClearleafError, Problem, os_reason
from .pdf import write_atomic

USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MIN_PASSWORD = 12
_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy() -> str:
    # Verifying against this when the user does not exist takes as long as a real check, so the
    # time of a failed login does not tell whether the name exists. Made on first use: each
    # argon2 hash briefly takes 64 MiB.
    return _HASHER.hash("clearleaf-no-such-user")


class StaffError(ClearleafError):
    """A staff user or the users file is wrong."""


def _problem(where: str, line: int | None, message: str, fix: str) -> StaffError:
    return StaffError([Problem(where, line, message, fix)])


def read_users(path: Path) -> dict[str, str]:
    """Return user name -> argon2 hash; an absent file means no users. Raise StaffError on a bad line."""
    if not path.is_file():
        return {}
    users: dict[str, str] = {}
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(str(path), None, f"cannot read the desk users file ({exc})",
                       "check its permissions, or remove it and add the users again") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not USER_RE.match(name) or not hashed.startswith("$argon2"):
            raise _problem(str(path), n, "this line is not 'name:argon2 hash'",
                           "manage the file with `build.py desk-user`, never by hand")
        users[name] = hashed
    return users


def check_name(name: str) -> str:
    """Return name if it is a valid staff user name, else raise StaffError."""
    if not USER_RE.match(name or ""):
        raise _problem("user name", None, f"'{name}' is not a valid user name",
                       "use lowercase letters, digits, '.', '_' or '-' (at most 40), e.g. a.patel")
    return name


def check_password(password: str) -> None:
    """Refuse a password shorter than MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise _problem("password", None, f"the password is shorter than {MIN_PASSWORD} characters",
                       f"use at least {MIN_PASSWORD} characters; a few unrelated words are easy to type")


def set_user(path: Path, name: str, password: str) -> bool:
    """Add a user or change their password; return True when the user is new."""
    check_name(name)
    check_password(password)
    users = read_users(path)
    new = name not in users
    users[name] = _HASHER.hash(password)
    _write(path, users)
    return new


def remove_user(path: Path, name: str) -> None:
    """Remove a user; raise StaffError when there is no such user."""
    users = read_users(path)
    if name not in users:
        raise _problem(str(path), None, f"there is no user '{name}'", "`build.py desk-user list` shows the users")
    del users[name]
    _write(path, users)


def verify(users: dict[str, str], name: str, password: str) -> bool:
    """Return True when password is the user's; take as long whether or not the user exists."""
    hashed = users[name] if name in users else _dummy()
    try:
        return _HASHER.verify(hashed, password) and name in users
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _write(path: Path, users: dict[str, str]) -> None:
    text = "# Clearleaf desk staff: name:argon2id hash. Manage with `build.py desk-user`.\n" + \
        "".join(f"{name}:{hashed}\n" for name, hashed in sorted(users.items()))
    try:
        write_atomic(path, text.encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise _problem(str(path), None, f"cannot write the desk users file: {os_reason(exc)}",
                       "set desk.users_file in leaflets/org.yaml to a writable place") from None
