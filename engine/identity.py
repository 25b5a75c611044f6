"""Users, groups, tenants, passwords and API tokens.

Every function takes the caller's SQLAlchemy session and never commits: the caller decides
the transaction.  Usernames are matched exactly (case-sensitive, as Camunda does), but a new
name that differs from an existing one only in case is refused, so "Alice" cannot pose as
"alice".

Passwords are hashed with scrypt (standard library) and a random salt; the stored string
names the algorithm and its parameters (``scrypt$n=16384,r=8,p=5$<salt>$<hash>``), so the
cost can be raised later without breaking stored hashes.  API tokens are random strings shown
once; only their SHA-256 is stored.

Sign-ins (``sign_in``) are slowed per username: after ``FREE_LOGIN_FAILURES`` failures in a
row every further attempt must wait, 1 s, then 2, 4 ... up to 15 minutes, and is refused
unchecked (``TooManyAttempts``, HTTP 429) until then. The counter is a row in the database,
so all server processes share it; a successful sign-in clears it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, event, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.models import ApiToken, LoginFailure, Tenant, User, UserGroup
from engine.principal import Principal
from engine.token_cache import TokenCache

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from engine.platform import Platform

# scrypt cost: N=2^14, r=8, p=5 is one of OWASP's recommended equivalents (16 MiB, ~0.2 s).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 5
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")  # group and tenant ids

# Sign-in throttling: free failures in a row, then a doubling wait from the first delay to the cap.
FREE_LOGIN_FAILURES = 5
FIRST_LOGIN_DELAY_SECONDS = 1.0
MAX_LOGIN_DELAY_SECONDS = 900.0
FORGET_LOGIN_FAILURES_AFTER = timedelta(days=1)  # counts of names nobody tried since are dropped

_clock = Clock()


class TooManyAttempts(EngineError):
    """Too many failed sign-ins for this username: wait ``retry_after`` seconds."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retry_after_seconds": retry_after}, seconds=retry_after)
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------
# Passwords


def hash_password(password: str) -> str:
    """A salted scrypt hash, with its parameters, ready to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for anything malformed."""
    try:
        algorithm, params, salt, expected = stored.split("$")
        cost = dict(item.split("=") for item in params.split(","))
        n, r, p = int(cost["n"]), int(cost["r"]), int(cost["p"])
        salt_bytes, expected_bytes = _unb64(salt), _unb64(expected)
    except (AttributeError, ValueError, KeyError):
        return False
    if algorithm != "scrypt":
        return False
    actual = _scrypt(password, salt_bytes, n, r, p, len(expected_bytes))
    return hmac.compare_digest(actual, expected_bytes)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = HASH_BYTES) -> bytes:
    memory = 128 * r * n * 2  # scrypt needs 128*r*n bytes; leave room for the rest
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=memory, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so a miss costs as long as a hit."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


# --------------------------------------------------------------------------------------------
# Users


def add_user(session: Session, username: str, password: str, groups: list[str],
             tenant: str | None = None, display_name: str = "") -> User:
    """Create a user (and its tenant if new); refuses bad input and taken usernames."""
    problems = _username_problems(username) + _password_problems(password) + _group_problems(groups)
    if tenant is not None:
        problems += _identifier_problems("tenant", tenant)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    _refuse_taken_username(session, username)
    if tenant is not None:
        _ensure_tenant(session, tenant)
    user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                tenant=tenant, disabled=False, created_at=_clock.now(),
                groups=[UserGroup(group=group) for group in _unique(groups)])
    _flush_new(session, user)
    return user


def get_user(session: Session, username: str) -> User:
    user = _find_user(session, username)
    if user is None:
        raise NotFound("no user named '%(username)s'", username=username)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def set_groups(session: Session, username: str, groups: list[str]) -> User:
    """Replace the user's groups with exactly ``groups``."""
    problems = _group_problems(groups)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    _forget_cached_tokens(session)
    wanted = set(groups)
    user.groups = [g for g in user.groups if g.group in wanted]
    kept = {g.group for g in user.groups}
    user.groups.extend(UserGroup(group=group) for group in _unique(groups) if group not in kept)
    session.flush()
    return user


def set_tenant(session: Session, username: str, tenant: str | None) -> User:
    """Move the user to ``tenant`` (created if new); None makes it staff that sees all tenants."""
    if tenant is not None:
        problems = _identifier_problems("tenant", tenant)
        if problems:
            raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    _forget_cached_tokens(session)
    if tenant is not None:
        _ensure_tenant(session, tenant)
    user.tenant = tenant
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    problems = _password_problems(password)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    _forget_cached_tokens(session)
    user.password_hash = hash_password(password)
    return user


def set_disabled(session: Session, username: str, disabled: bool = True) -> User:
    """A disabled user can neither log in nor use its tokens; its history stays."""
    user = get_user(session, username)
    _forget_cached_tokens(session)
    user.disabled = disabled
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user when the password is right and the account enabled, else None.

    Unknown users cost the same hashing time, so response times do not reveal which
    usernames exist.
    """
    user = _find_user(session, username) if isinstance(username, str) else None
    stored = user.password_hash if user is not None else _dummy_hash()
    password_ok = verify_password(password, stored) if isinstance(password, str) else False
    if user is None or not password_ok or user.disabled:
        return None
    return user


def sign_in(session: Session, username: str, password: str, now: datetime | None = None) -> User | None:
    """``authenticate``, slowed per username after repeated failures.

    Raises ``TooManyAttempts`` without checking the password while the username waits; else
    records the outcome (a failure counts, a success clears the count) in ``session``, which the
    caller must commit even when the answer is None, so the failure is remembered.
    """
    now = now or _clock.now()
    record = _login_record(session, _login_key(username))
    if record.locked_until is not None and record.locked_until > now:
        wait = max(1, math.ceil((record.locked_until - now).total_seconds()))
        raise TooManyAttempts("too many failed sign-ins for this username; try again in %(seconds)s s", wait)
    user = authenticate(session, username, password)
    if user is not None:
        session.delete(record)
    else:
        record.failures += 1
        record.last_failed_at = now
        if record.failures >= FREE_LOGIN_FAILURES:
            record.locked_until = now + login_delay(record.failures)
        _forget_old_login_failures(session, now)
    session.flush()
    return user


def login_delay(failures: int) -> timedelta:
    """How long a username waits after its ``failures``-th failure in a row (doubling, capped)."""
    extra = max(0, failures - FREE_LOGIN_FAILURES)
    seconds = FIRST_LOGIN_DELAY_SECONDS * (2 ** min(extra, 30))
    return timedelta(seconds=min(MAX_LOGIN_DELAY_SECONDS, seconds))


def _forget_old_login_failures(session: Session, now: datetime) -> None:
    """Names sprayed by an attacker must not fill the table: drop counts idle for a day and unlocked."""
    idle = now - FORGET_LOGIN_FAILURES_AFTER
    session.execute(delete(LoginFailure).where(
        LoginFailure.last_failed_at < idle,
        or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until < now)))


def _login_key(username: object) -> str:
    return (username if isinstance(username, str) else "").strip().lower()[:200]


def _login_record(session: Session, key: str) -> LoginFailure:
    """The username's counter row, created if missing and locked (PostgreSQL: ``FOR UPDATE``), so
    concurrent attempts from several processes count one after the other."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = (pg_insert if postgres else sqlite_insert)(LoginFailure.__table__)
    session.execute(insert.values(key=key, failures=0).on_conflict_do_nothing(index_elements=["key"]))
    stmt = select(LoginFailure).where(LoginFailure.key == key).execution_options(populate_existing=True)
    if postgres:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one()


def principal_for(user: User) -> Principal:
    return Principal(username=user.username, groups=frozenset(user.group_ids), tenant=user.tenant)


def _find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def _refuse_taken_username(session: Session, username: str) -> None:
    taken = session.scalars(
        select(User.username).where(func.lower(User.username) == username.lower())).first()
    if taken is not None:
        if taken == username:
            raise Conflict("username '%(username)s' is already taken", username=username)
        raise Conflict("username '%(username)s' is too close to the existing user '%(taken)s'",
                       username=username, taken=taken)


def _flush_new(session: Session, user: User) -> None:
    """Insert now, turning a concurrent insert of the same name into a Conflict."""
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as err:
        raise Conflict("username '%(username)s' is already taken", username=user.username) from err


def _ensure_tenant(session: Session, tenant: str) -> None:
    if session.get(Tenant, tenant) is None:
        session.add(Tenant(id=tenant, name=tenant))
        session.flush()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _username_problems(username: object) -> list[str]:
    if not isinstance(username, str) or not username:
        return ["username must not be empty"]
    if len(username) > 100:
        return ["username must be at most 100 characters"]
    if not USERNAME_PATTERN.fullmatch(username):
        return ["username may contain only letters, digits, '.', '_' and '-'"]
    return []


def _password_problems(password: object) -> list[str]:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return [f"password must be at least {MIN_PASSWORD_LENGTH} characters"]
    return []


def _group_problems(groups: object) -> list[str]:
    if isinstance(groups, str) or not isinstance(groups, (list, tuple, set, frozenset)):
        return ["groups must be a list of group ids"]
    problems: list[str] = []
    for group in groups:
        problems += _identifier_problems("group id", group)
    return problems


def _identifier_problems(what: str, value: object) -> list[str]:
    if isinstance(value, str) and IDENTIFIER_PATTERN.fullmatch(value):
        return []
    return [f"{what} {value!r} must start with a letter and contain only letters, digits, "
            "'.', '_' and '-' (at most 64 characters)"]


# --------------------------------------------------------------------------------------------
# API tokens


def create_token(session: Session, username: str, name: str = "") -> str:
    """A new API token for the user. It is returned once; only its SHA-256 is kept."""
    user = get_user(session, username)
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), name=name,
                         created_at=_clock.now()))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The token's user; None for an unknown or revoked token or a disabled user."""
    if not isinstance(token, str) or not token:
        return None
    found = session.execute(
        select(ApiToken, User).join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _token_hash(token))).one_or_none()
    if found is None:
        return None
    api_token, user = found
    if api_token.revoked_at is not None or user.disabled:
        return None
    return user


def revoke_token(session: Session, token_or_id: str | int) -> ApiToken:
    """Revoke by the token itself or by its id; revoking twice is fine. It stops working at once in
    this process, and in other server processes once their token cache entry expires
    (``TOWERFLOW_TOKEN_CACHE_SECONDS``, engine/token_cache.py)."""
    api_token = _find_token(session, token_or_id)
    if api_token is None:
        raise NotFound("no such API token")
    if api_token.revoked_at is None:
        _forget_cached_tokens(session)
        api_token.revoked_at = _clock.now()
        session.flush()
    return api_token


def list_tokens(session: Session, username: str) -> list[ApiToken]:
    """The user's tokens (names and dates, never the secrets), newest first."""
    user = get_user(session, username)
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def _find_token(session: Session, token_or_id: str | int) -> ApiToken | None:
    if isinstance(token_or_id, int) and not isinstance(token_or_id, bool):
        return session.get(ApiToken, token_or_id)
    if isinstance(token_or_id, str) and token_or_id:
        return session.scalars(
            select(ApiToken).where(ApiToken.token_hash == _token_hash(token_or_id))).one_or_none()
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# The token cache: one per platform (per database engine), cleared by every change above


_token_caches: weakref.WeakKeyDictionary[Engine, TokenCache] = weakref.WeakKeyDictionary()


def token_cache(platform: Platform) -> TokenCache:
    """The platform's token cache (``TOWERFLOW_TOKEN_CACHE_SECONDS``), made on first use."""
    cache = _token_caches.get(platform.engine)
    if cache is None:
        cache = TokenCache(platform.settings.token_cache_seconds, platform.clock)
        for engine in (platform.engine, platform.read_engine):
            _token_caches.setdefault(engine, cache)
    return cache


def principal_for_token(platform: Platform, token: str) -> Principal | None:
    """Who ``token`` belongs to, like ``user_for_token``, answered from the cache when fresh."""
    if not isinstance(token, str) or not token:
        return None
    cache = token_cache(platform)
    key = _token_hash(token)
    cached = cache.get(key)
    if cached is not None:
        return cached
    generation = cache.generation
    with platform.Session() as session:
        user = user_for_token(session, token)
        if user is None:
            return None
        principal = principal_for(user)
    cache.put(key, principal, generation)
    return principal


def _forget_cached_tokens(session: Session) -> None:
    """Clear this process's cache now and again at commit, so a request that read the old rows
    in between cannot keep them. Other processes see the change when their entries expire."""
    bind = session.get_bind()
    cache = _token_caches.get(getattr(bind, "engine", bind))
    if cache is None or not cache.enabled:
        return
    cache.clear()
    event.listen(session, "after_commit", lambda _session: cache.clear(), once=True)
