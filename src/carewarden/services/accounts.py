"""Console accounts, sessions and API tokens: the use cases behind `carewarden users` and the
web console's log-in.

Passwords are hashed with argon2id; every account has a TOTP secret (there is no password-only
log-in); repeated failures lock an account for a while. Session cookies and API tokens are
random secrets stored only as SHA-256 hashes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from carewarden.errors import CarewardenError
from carewarden.services.roles import Permission, Role, permissions
from carewarden.store import Store
from carewarden.store.store import utcnow

PASSWORD_MIN_LENGTH = 12
MAX_FAILURES = 5  # consecutive failed log-ins before a lockout
LOCKOUT = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=15)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=8)
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most this often
ISSUER = "Carewarden"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified when the account does not exist, so a wrong name takes as long as a wrong
    password. Made on first use, not at import: hashing takes 0.13 s, which every command
    of the CLI paid."""
    return _hasher.hash(secrets.token_urlsafe(16))


def prepare_logins() -> None:
    """Make the hash verified for unknown names now (the console calls this as it starts),
    so that the first log-in with an unknown name takes no longer than any other."""
    _dummy_hash()


class AccountError(CarewardenError):
    """An account cannot be created or changed (the message says why)."""


class LoginError(CarewardenError):
    """A log-in failed. The message never says which factor was wrong."""

    def __init__(self) -> None:
        super().__init__(
            "invalid user name, password or code, or the account is locked or disabled"
        )


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    role: str
    disabled: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime
    last_login: dt.datetime | None


@dataclass(frozen=True)
class Enrolment:
    """A new TOTP secret: shown once, at creation or MFA reset, never again."""

    user: ConsoleUser
    totp_secret: str
    provisioning_uri: str


@dataclass(frozen=True)
class Session:
    username: str
    role: str
    csrf_token: str
    created_at: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    username: str
    role: str
    scopes: frozenset[Permission]
    description: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked: bool

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the token may do: its scopes, within its owner's role."""
        return self.scopes & permissions(self.role)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user(row: tuple[Any, ...]) -> ConsoleUser:
    return ConsoleUser(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


_USER_COLUMNS = "username, role, disabled, locked_until, created_at, last_login"


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")


def _enrolment(user: ConsoleUser, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return Enrolment(user, secret, uri)


def add_user(store: Store, username: str, role: str, password: str) -> Enrolment:
    """Create an account with a new TOTP secret (returned once, to be shown once)."""
    if not username or not username.replace("-", "").replace(".", "").replace("_", "").isalnum():
        raise AccountError("a user name is letters, digits, '.', '-' and '_'")
    if role not in {r.value for r in Role}:
        raise AccountError(f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})")
    check_password(password)
    if get_user(store, username) is not None:
        raise AccountError(f"user {username!r} exists")
    secret = pyotp.random_base32()
    now = utcnow()
    with store.transaction():
        store.query(
            "INSERT INTO console_user (username, role, password_hash, totp_secret, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [username, role, _hasher.hash(password), secret, now],
        )
    return _enrolment(ConsoleUser(username, role, False, None, now, None), secret)


def get_user(store: Store, username: str) -> ConsoleUser | None:
    rows = store.query(f"SELECT {_USER_COLUMNS} FROM console_user WHERE username = ?", [username])
    return _user(rows[0]) if rows else None


def list_users(store: Store) -> list[ConsoleUser]:
    return [
        _user(r) for r in store.query(f"SELECT {_USER_COLUMNS} FROM console_user ORDER BY username")
    ]


def _require(store: Store, username: str) -> ConsoleUser:
    user = get_user(store, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def set_disabled(store: Store, username: str, disabled: bool = True) -> ConsoleUser:
    """Disable (or enable) an account; disabling ends its sessions and revokes its tokens."""
    _require(store, username)
    with store.transaction():
        store.query("UPDATE console_user SET disabled = ? WHERE username = ?", [disabled, username])
        if disabled:
            store.query("DELETE FROM console_session WHERE username = ?", [username])
            store.query("UPDATE api_token SET revoked = true WHERE username = ?", [username])
    return _require(store, username)


def reset_mfa(store: Store, username: str) -> Enrolment:
    """A new TOTP secret for ``username`` (the old one stops working); ends its sessions."""
    user = _require(store, username)
    secret = pyotp.random_base32()
    with store.transaction():
        store.query(
            "UPDATE console_user SET totp_secret = ?, totp_last_step = NULL, failed_logins = 0, "
            "locked_until = NULL WHERE username = ?",
            [secret, username],
        )
        store.query("DELETE FROM console_session WHERE username = ?", [username])
    return _enrolment(user, secret)


def set_password(store: Store, username: str, password: str) -> None:
    _require(store, username)
    check_password(password)
    with store.transaction():
        store.query(
            "UPDATE console_user SET password_hash = ?, failed_logins = 0, locked_until = NULL "
            "WHERE username = ?",
            [_hasher.hash(password), username],
        )
        store.query("DELETE FROM console_session WHERE username = ?", [username])


def _totp_step(secret: str, code: str, last_step: int | None, now: dt.datetime) -> int | None:
    """The TOTP step ``code`` is valid for (this one or a neighbour), if not used before."""
    totp = pyotp.TOTP(secret)
    timestamp = int(now.replace(tzinfo=dt.UTC).timestamp())
    current = timestamp // totp.interval
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            return step
    return None


def authenticate(
    store: Store, username: str, password: str, code: str, *, now: dt.datetime | None = None
) -> ConsoleUser:
    """Check a password and a TOTP code; count failures and lock the account after
    :data:`MAX_FAILURES` in a row. Raises :class:`LoginError` on any failure."""
    now = now or utcnow()
    rows = store.query(
        "SELECT password_hash, totp_secret, totp_last_step, disabled, failed_logins, "
        "locked_until FROM console_user WHERE username = ?",
        [username],
    )
    if not rows:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        raise LoginError()
    pw_hash, secret, last_step, disabled, failures, locked_until = rows[0]
    if disabled or (locked_until is not None and locked_until > now):
        raise LoginError()
    password_ok: bool
    try:
        password_ok = _hasher.verify(pw_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        password_ok = False
    step = _totp_step(secret, code, last_step, now) if password_ok else None
    with store.transaction():
        if step is None:
            failures += 1
            locked = now + LOCKOUT if failures >= MAX_FAILURES else None
            store.query(
                "UPDATE console_user SET failed_logins = ?, locked_until = ? WHERE username = ?",
                [0 if locked else failures, locked, username],
            )
        else:
            new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(pw_hash) else pw_hash
            store.query(
                "UPDATE console_user SET failed_logins = 0, locked_until = NULL, "
                "totp_last_step = ?, last_login = ?, password_hash = ? WHERE username = ?",
                [step, now, new_hash, username],
            )
    if step is None:
        raise LoginError()
    return _require(store, username)


# -- sessions ------------------------------------------------------------------------------
def create_session(store: Store, username: str, client: str | None = None) -> tuple[str, Session]:
    """A new session for a logged-in user: (cookie value, session)."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    user = _require(store, username)
    with store.transaction():
        store.query(
            "INSERT INTO console_session VALUES (?, ?, ?, ?, ?, ?)",
            [_sha256(cookie), username, csrf, now, now, client],
        )
    return cookie, Session(username, user.role, csrf, now, now)


def load_session(store: Store, cookie: str, *, now: dt.datetime | None = None) -> Session | None:
    """The live session for a cookie value, or None (unknown, idle too long, too old, or its
    account disabled). Records activity at most every :data:`TOUCH_EVERY`."""
    now = now or utcnow()
    key = _sha256(cookie)
    rows = store.query(
        "SELECT s.username, u.role, s.csrf_token, s.created_at, s.last_seen, u.disabled "
        "FROM console_session s JOIN console_user u USING (username) WHERE s.session_hash = ?",
        [key],
    )
    if not rows:
        return None
    username, role, csrf, created, last_seen, disabled = rows[0]
    if disabled or now - last_seen > IDLE_TIMEOUT or now - created > ABSOLUTE_TIMEOUT:
        with store.transaction():
            store.query("DELETE FROM console_session WHERE session_hash = ?", [key])
        return None
    if now - last_seen > TOUCH_EVERY:
        with store.transaction():
            store.query(
                "UPDATE console_session SET last_seen = ? WHERE session_hash = ?", [now, key]
            )
        last_seen = now
    return Session(username, role, csrf, created, last_seen)


def end_session(store: Store, cookie: str) -> None:
    with store.transaction():
        store.query("DELETE FROM console_session WHERE session_hash = ?", [_sha256(cookie)])


# -- API tokens ----------------------------------------------------------------------------
TOKEN_PREFIX = "cwt"


def create_token(
    store: Store,
    username: str,
    scopes: list[str],
    *,
    days: int = 90,
    description: str | None = None,
) -> tuple[str, ApiToken]:
    """A new API token acting as ``username`` with at most ``scopes`` (each within the user's
    role), expiring after ``days``. Returns (the token, shown once; its record)."""
    user = _require(store, username)
    if user.disabled:
        raise AccountError(f"user {username!r} is disabled")
    allowed = permissions(user.role)
    try:
        wanted = frozenset(Permission(s) for s in scopes)
    except ValueError as exc:
        raise AccountError(f"unknown scope: {exc}") from None
    if not wanted:
        raise AccountError("a token needs at least one scope")
    if not wanted <= allowed:
        extra = ", ".join(sorted(p.value for p in wanted - allowed))
        raise AccountError(f"role {user.role} does not have: {extra}")
    if not 1 <= days <= 366:
        raise AccountError("a token expires after 1 to 366 days")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + dt.timedelta(days=days)
    with store.transaction():
        store.query(
            "INSERT INTO api_token VALUES (?, ?, ?, ?, ?, ?, ?, false)",
            [token_id, _sha256(secret), username, sorted(wanted), description, now, expires],
        )
    token = f"{TOKEN_PREFIX}_{token_id}_{secret}"
    return token, ApiToken(token_id, username, user.role, wanted, description, now, expires, False)


def verify_token(store: Store, token: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token for a bearer value, or None (malformed, unknown, wrong secret, expired,
    revoked, or its account disabled)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, token_id, secret = parts
    rows = store.query(
        "SELECT t.token_hash, t.username, u.role, t.scopes, t.description, t.created_at, "
        "t.expires_at, t.revoked, u.disabled FROM api_token t JOIN console_user u "
        "USING (username) WHERE t.token_id = ?",
        [token_id],
    )
    if not rows:
        return None
    token_hash, username, role, scopes, description, created, expires, revoked, disabled = rows[0]
    if not hmac.compare_digest(token_hash, _sha256(secret)):
        return None
    if revoked or disabled or expires <= (now or utcnow()):
        return None
    valid = frozenset(Permission(s) for s in scopes if s in {p.value for p in Permission})
    return ApiToken(token_id, username, role, valid, description, created, expires, revoked)


def list_tokens(store: Store) -> list[ApiToken]:
    rows = store.query(
        "SELECT t.token_id, t.username, u.role, t.scopes, t.description, t.created_at, "
        "t.expires_at, t.revoked FROM api_token t JOIN console_user u USING (username) "
        "ORDER BY t.created_at"
    )
    return [
        ApiToken(i, n, r, frozenset(Permission(s) for s in sc), d, c, e, bool(rv))
        for i, n, r, sc, d, c, e, rv in rows
    ]


def revoke_token(store: Store, token_id: str) -> None:
    with store.transaction():
        found = store.query("UPDATE api_token SET revoked = true WHERE token_id = ?", [token_id])
    if not found or not found[0][0]:
        raise AccountError(f"no token {token_id!r}")
