"""Users, groups, tenants, passwords and API tokens.

Every function takes the caller's SQLAlchemy session and never commits: the caller decides
the transaction.  Usernames are matched exactly (case-sensitive, as Camunda does), but a new
name that differs from an existing one only in case is refused, so "Alice" cannot pose as
"alice".

Passwords are hashed with argon2id (argon2-cffi, a maintained implementation); the stored
string names the algorithm and its cost, so the cost can be raised later: a hash made at another
cost, or in the scrypt format used before (``scrypt$n=16384,r=8,p=5$<salt>$<hash>``), still
verifies and is replaced at the next successful sign-in.  API tokens are random strings shown
once; only their SHA-256 is stored; each expires (``TOWERFLOW_API_TOKEN_DAYS``) and records when
it was last used, at most once a minute.

Every change an administrator makes here (users, groups, tenant, password, disabling, tokens) is
recorded in ``admin_events`` (engine/admin_log.py) in the same transaction, naming the ``actor``.

Sign-ins (``sign_in``) are slowed per username: after ``FREE_LOGIN_FAILURES`` failures in a
row every further attempt must wait, 1 s, then 2, 4 ... up to 15 minutes, and is refused
unchecked (``TooManyAttempts``, HTTP 429) until then. The counter is a row in the database,
so all server processes share it; a successful sign-in clears it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import threading
import weakref
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, event, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import admin_log
from engine.clock import Clock
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.models import ApiToken, LoginFailure, Tenant, User, UserGroup
from engine.principal import Principal
from engine.token_cache import TokenCache

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from engine.platform import Platform

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about the memory of the
# scrypt before it, and a server thread per sign-in rather than every core.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1

# The scrypt format used before argon2: still verified (and replaced at sign-in); ``scrypt_hash``
# makes one, for tests of that upgrade. N=2^14, r=8, p=5 was its cost.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 5
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8

# API tokens: the lifetime when the settings give none, and how stale ``last_used_at`` may get.
DEFAULT_TOKEN_DAYS = 90.0
LAST_USED_EVERY = timedelta(minutes=1)

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")  # group and tenant ids

# Sign-in throttling: free failures in a row, then a doubling wait from the first delay to the cap.
FREE_LOGIN_FAILURES = 5
FIRST_LOGIN_DELAY_SECONDS = 1.0
MAX_LOGIN_DELAY_SECONDS = 900.0
FORGET_LOGIN_FAILURES_AFTER = timedelta(days=1)  # counts of names nobody tried since are dropped

_clock = Clock()
log = logging.getLogger(__name__)


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
    """An argon2id hash (salt and cost inside), ready to store."""
    return _hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (argon2 or the older scrypt format); False for
    anything malformed."""
    if not isinstance(stored, str) or not isinstance(password, str):
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` is of an older format or cost than today's, so a sign-in should replace it."""
    if not isinstance(stored, str) or not stored.startswith("$argon2"):
        return True
    try:
        return _hasher().check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                          parallelism=ARGON2_PARALLELISM)


def scrypt_hash(password: str) -> str:
    """A hash in the scrypt format stored before argon2 (tests of the upgrade make them)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        algorithm, params, salt, expected = stored.split("$")
        cost = dict(item.split("=") for item in params.split(","))
        n, r, p = int(cost["n"]), int(cost["r"]), int(cost["p"])
        salt_bytes, expected_bytes = _unb64(salt), _unb64(expected)
    except (AttributeError, ValueError, KeyError):
        return False
    if algorithm != "scrypt":
        return False
    try:
        actual = _scrypt(password, salt_bytes, n, r, p, len(expected_bytes))
    except (ValueError, MemoryError):  # parameters scrypt refuses
        return False
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
    if _DUMMY_HASH is None or needs_rehash(_DUMMY_HASH):
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


# --------------------------------------------------------------------------------------------
# Users


def add_user(session: Session, username: str, password: str, groups: list[str],
             tenant: str | None = None, display_name: str = "", *, actor: str | None = None) -> User:
    """Create a user (and its tenant if new); refuses bad input and taken usernames. ``actor``:
    who did it, for the admin log (None: the command line or the system)."""
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
    admin_log.record(session, actor, "user.created", username,
                     {"groups": user.group_ids, "tenant": tenant, "display_name": display_name})
    return user


def get_user(session: Session, username: str) -> User:
    user = _find_user(session, username)
    if user is None:
        raise NotFound("no user named '%(username)s'", username=username)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def set_groups(session: Session, username: str, groups: list[str], *, actor: str | None = None) -> User:
    """Replace the user's groups with exactly ``groups``; a real change goes into the admin log."""
    problems = _group_problems(groups)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    before = user.group_ids
    _forget_cached_tokens(session)
    wanted = set(groups)
    user.groups = [g for g in user.groups if g.group in wanted]
    kept = {g.group for g in user.groups}
    user.groups.extend(UserGroup(group=group) for group in _unique(groups) if group not in kept)
    session.flush()
    if user.group_ids != before:
        admin_log.record(session, actor, "user.groups_changed", username,
                         {"before": before, "after": user.group_ids})
    return user


def set_tenant(session: Session, username: str, tenant: str | None, *, actor: str | None = None) -> User:
    """Move the user to ``tenant`` (created if new); None makes it staff that sees all tenants."""
    if tenant is not None:
        problems = _identifier_problems("tenant", tenant)
        if problems:
            raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    _forget_cached_tokens(session)
    if tenant is not None:
        _ensure_tenant(session, tenant)
    before = user.tenant
    user.tenant = tenant
    session.flush()
    if before != tenant:
        admin_log.record(session, actor, "user.tenant_changed", username, {"before": before, "after": tenant})
    return user


def set_password(session: Session, username: str, password: str, *, actor: str | None = None) -> User:
    problems = _password_problems(password)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    _forget_cached_tokens(session)
    user.password_hash = hash_password(password)
    admin_log.record(session, actor, "user.password_changed", username)
    return user


def set_disabled(session: Session, username: str, disabled: bool = True, *, actor: str | None = None) -> User:
    """A disabled user can neither log in nor use its tokens; its history stays."""
    user = get_user(session, username)
    _forget_cached_tokens(session)
    if bool(user.disabled) != disabled:
        admin_log.record(session, actor, "user.disabled" if disabled else "user.enabled", username)
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
    caller must commit even when the answer is None, so the failure is remembered. A success
    also replaces a password hash of an older format or cost (``needs_rehash``).
    """
    now = now or _clock.now()
    record = _login_record(session, _login_key(username))
    if record.locked_until is not None and record.locked_until > now:
        wait = max(1, math.ceil((record.locked_until - now).total_seconds()))
        raise TooManyAttempts("too many failed sign-ins for this username; try again in %(seconds)s s", wait)
    user = authenticate(session, username, password)
    if user is not None:
        session.delete(record)
        if needs_rehash(user.password_hash):  # an older format or cost: store today's
            user.password_hash = hash_password(password)
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


def create_token(session: Session, username: str, name: str = "", days: float | None = None, *,
                 max_days: float = DEFAULT_TOKEN_DAYS, actor: str | None = None,
                 now: datetime | None = None) -> str:
    """A new API token for the user, valid ``days`` (``max_days``, the settings' lifetime, when
    None; never more). It is returned once; only its SHA-256 is kept."""
    problems = _days_problems(days, max_days) + _token_name_problems(name)
    if problems:
        raise ValidationFailed("; ".join(problems), details=problems)
    user = get_user(session, username)
    now = now or _clock.now()
    lifetime = max_days if days is None else float(days)
    token = secrets.token_urlsafe(32)
    api_token = ApiToken(user_id=user.id, token_hash=_token_hash(token), name=name, created_at=now,
                         expires_at=now + timedelta(days=lifetime))
    session.add(api_token)
    session.flush()
    admin_log.record(session, actor, "token.created", username,
                     {"token_id": api_token.id, "name": name, "expires_at": api_token.expires_at.isoformat()},
                     at=now)
    return token


def _days_problems(days: object, max_days: float) -> list[str]:
    if days is None:
        return []
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= max_days:
        return [f"days must be a number above 0 and at most {max_days:g}"]
    return []


def _token_name_problems(name: object) -> list[str]:
    if not isinstance(name, str) or len(name) > 200:
        return ["a token's name must be text of at most 200 characters"]
    return []


def token_state(api_token: ApiToken, now: datetime) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if api_token.revoked_at is not None:
        return "revoked"
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return "expired"
    return "active"


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The token's user; None for an unknown, revoked or expired token or a disabled user."""
    found = _token_and_user(session, token)
    if found is None:
        return None
    api_token, user = found
    if token_state(api_token, now or _clock.now()) != "active" or user.disabled:
        return None
    return user


def _token_and_user(session: Session, token: str) -> tuple[ApiToken, User] | None:
    if not isinstance(token, str) or not token:
        return None
    found = session.execute(
        select(ApiToken, User).join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _token_hash(token))).one_or_none()
    return None if found is None else (found[0], found[1])


def revoke_token(session: Session, token_or_id: str | int, *, actor: str | None = None) -> ApiToken:
    """Revoke by the token itself or by its id; revoking twice is fine. It stops working at once
    in every server process: this one clears its token cache, the others are told (see
    ``_forget_cached_tokens``)."""
    api_token = _find_token(session, token_or_id)
    if api_token is None:
        raise NotFound("no such API token")
    if api_token.revoked_at is None:
        _forget_cached_tokens(session)
        api_token.revoked_at = _clock.now()
        session.flush()
        owner = session.get(User, api_token.user_id)
        admin_log.record(session, actor, "token.revoked", owner.username if owner else "",
                         {"token_id": api_token.id, "name": api_token.name}, at=api_token.revoked_at)
    return api_token


def list_tokens(session: Session, username: str) -> list[ApiToken]:
    """The user's tokens (names and dates, never the secrets), newest first."""
    user = get_user(session, username)
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def list_all_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    """Every user's tokens with their owner's username, newest first (for admins)."""
    rows = session.execute(select(ApiToken, User.username).join(User, ApiToken.user_id == User.id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    return [(api_token, username) for api_token, username in rows]


def token_with_owner(session: Session, token_id: int) -> tuple[ApiToken, str]:
    """The token with this id and its owner's username; NotFound otherwise."""
    found = session.execute(select(ApiToken, User.username).join(User, ApiToken.user_id == User.id)
                            .where(ApiToken.id == token_id)).one_or_none() \
        if isinstance(token_id, int) and not isinstance(token_id, bool) else None
    if found is None:
        raise NotFound("no such API token")
    return found[0], found[1]


def find_token(session: Session, token_or_id: str | int) -> ApiToken | None:
    """The token's row, by the token itself or its id; None when there is none."""
    return _find_token(session, token_or_id)


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
# The token cache: one per platform (per database engine), cleared by every change above, in this
# process at once and in the others through the database (PostgreSQL: NOTIFY) or a file beside
# it (SQLite)


IDENTITY_CHANNEL = "towerflow_identity"

_token_caches: weakref.WeakKeyDictionary[Engine, TokenCache] = weakref.WeakKeyDictionary()


def token_cache(platform: Platform) -> TokenCache:
    """The platform's token cache (``TOWERFLOW_TOKEN_CACHE_SECONDS``), made on first use."""
    cache = _token_caches.get(platform.engine)
    if cache is None:
        cache = TokenCache(platform.settings.token_cache_seconds, platform.clock)
        for engine in (platform.engine, platform.read_engine):
            _token_caches.setdefault(engine, cache)
        if cache.enabled and platform.is_postgres:
            _listener_for(platform.engine).watch(cache)
    return cache


def principal_for_token(platform: Platform, token: str) -> Principal | None:
    """Who ``token`` belongs to, like ``user_for_token``, answered from the cache when fresh.

    A miss reads the primary (a replica may not have seen a revocation yet); it also stamps
    ``last_used_at`` when that is older than a minute, so a busy token costs one UPDATE a minute.
    """
    if not isinstance(token, str) or not token:
        return None
    cache = token_cache(platform)
    _obey_other_processes(platform, cache)
    key = _token_hash(token)
    cached = cache.get(key)
    if cached is not None:
        return cached
    generation = cache.generation
    now = platform.clock.now()
    reader = platform.WriteSession if platform.is_postgres else platform.Session
    with reader() as session:
        found = _token_and_user(session, token)
        if found is None:
            return None
        api_token, user = found
        if token_state(api_token, now) != "active" or user.disabled:
            return None
        principal = principal_for(user)
        token_id, last_used, expires = api_token.id, api_token.last_used_at, api_token.expires_at
    if last_used is None or last_used <= now - LAST_USED_EVERY:
        _stamp_last_used(platform, token_id, now)
    if expires is None or expires - now > cache.ttl:  # never serve a token from the cache past its expiry
        cache.put(key, principal, generation)
    return principal


def _stamp_last_used(platform: Platform, token_id: int, now: datetime) -> None:
    """One conditional UPDATE: of several processes that saw the token stale, one writes."""
    stale = now - LAST_USED_EVERY
    try:
        with platform.transaction() as session:
            session.execute(update(ApiToken).where(
                ApiToken.id == token_id, or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale))
                .values(last_used_at=now))
    except Exception:  # noqa: BLE001  a stamp must never cost the request its answer
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


def _forget_cached_tokens(session: Session) -> None:
    """Clear this process's caches now and again at commit, so a request that read the old rows
    in between cannot keep them; tell the other processes at commit (nothing if it rolls back)."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    if engine.dialect.name == "postgresql":
        # delivered to every listener at commit; the payload names this process, which clears its
        # own caches itself (below) and so skips its own notice
        session.execute(text("SELECT pg_notify(:channel, :sender)"),
                        {"channel": IDENTITY_CHANNEL, "sender": str(os.getpid())})
    else:
        marker = _sqlite_marker(engine)
        if marker is not None:
            event.listen(session, "after_commit", lambda _session: _touch(marker), once=True)
    _clear_local_caches()
    event.listen(session, "after_commit", lambda _session: _clear_local_caches(), once=True)


def _clear_local_caches() -> None:
    """Every token cache of this process (each platform has one): an identity may be cached by any."""
    for cache in {id(cache): cache for cache in list(_token_caches.values())}.values():
        if cache.enabled:
            cache.clear()


def _obey_other_processes(platform: Platform, cache: TokenCache) -> None:
    """Clear the cache when another process changed an identity since this one last looked."""
    if not cache.enabled:
        return
    if platform.is_postgres:
        if not _listener_for(platform.engine).listening:
            cache.clear()  # not told of changes right now: trust nothing cached
        return
    marker = _sqlite_marker(platform.engine)
    if marker is None:
        return
    seen = _marker_signature(marker)
    if _markers_seen.get(cache) != seen:
        cache.clear()
        _markers_seen[cache] = seen


# SQLite: processes share the machine, so a file beside the database says "an identity changed".
# A change replaces it (a new inode); a lookup compares its stat with the last one seen: one stat().
_markers_seen: weakref.WeakKeyDictionary[TokenCache, tuple | None] = weakref.WeakKeyDictionary()


def _sqlite_marker(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-identity")


def _marker_signature(marker: Path) -> tuple | None:
    try:
        stat = marker.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _touch(marker: Path) -> None:
    try:
        scratch = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(secrets.token_hex(8))
        os.replace(scratch, marker)
    except OSError:
        log.warning("could not tell other processes of an identity change (%s)", marker, exc_info=True)


class _Listener:
    """PostgreSQL: one connection per process and database that LISTENs on ``IDENTITY_CHANNEL`` and
    clears the caches it watches at each notification. While it is not connected, ``listening`` is
    False and the caches are not trusted. It ends when no cache is left to watch."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()
        self.listening = False
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def watch(self, cache: TokenCache) -> None:
        with self.lock:
            self.caches.add(cache)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="towerflow-identity-listener", daemon=True)
                self.thread.start()
        self.ready.wait(timeout=5)  # the first lookups may use the cache only once it is told of changes

    def _clear_all(self) -> None:
        for cache in list(self.caches):
            cache.clear()

    def _run(self) -> None:
        import psycopg

        failing = False
        while True:
            with self.lock:
                if not self.caches:
                    self.thread = None
                    return
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {IDENTITY_CHANNEL}")
                    self._clear_all()  # changes made while not listening
                    self.listening = True
                    self.ready.set()
                    if failing:
                        log.info("identity listener connected again")
                        failing = False
                    me = str(os.getpid())
                    while self.caches:
                        for notice in conn.notifies(timeout=1.0):
                            if notice.payload != me:  # this process cleared its caches at commit
                                self._clear_all()
            except Exception as exc:  # noqa: BLE001  the database went away: distrust the caches, try again
                if not failing:  # once per outage, not every second of it
                    log.warning("identity listener lost its connection (%s); API tokens are read from the "
                                "database until it is back", exc)
                failing = True
                self.listening = False
                self._clear_all()
                self.ready.set()
                threading.Event().wait(1.0)
                continue
            finally:
                self.listening = False


_listeners: dict[str, _Listener] = {}
_listeners_lock = threading.Lock()


def _listener_for(engine: Engine) -> _Listener:
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _listeners_lock:
        listener = _listeners.get(conninfo)
        if listener is None:
            listener = _listeners[conninfo] = _Listener(conninfo)
        return listener
