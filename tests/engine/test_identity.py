"""Users, groups, tenants, passwords and API tokens, on SQLite and (when configured) PostgreSQL."""

import os
import uuid

import pytest
from sqlalchemy import select, text

from engine import identity
from engine.db import create_schema, make_engine, make_session_factory
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity import (
    add_user,
    authenticate,
    create_token,
    get_user,
    hash_password,
    list_tokens,
    list_users,
    principal_for,
    revoke_token,
    set_disabled,
    set_groups,
    set_password,
    set_tenant,
    user_for_token,
    verify_password,
)
from engine.models import ApiToken, Tenant, User, UserGroup

POSTGRES_URL = os.environ.get("TOWERFLOW_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Real argon2 (and scrypt for older hashes), smaller cost: each hash records its cost."""
    monkeypatch.setattr(identity, "SCRYPT_N", 2**10)
    monkeypatch.setattr(identity, "SCRYPT_P", 1)
    monkeypatch.setattr(identity, "ARGON2_TIME_COST", 1)
    monkeypatch.setattr(identity, "ARGON2_MEMORY_KIB", 64)


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    if request.param == "sqlite":
        db_engine = make_engine(f"sqlite:///{tmp_path / 'identity.db'}")
        create_schema(db_engine)
        yield db_engine
        db_engine.dispose()
    else:
        yield from _postgres_engine()


def _postgres_engine():
    """A fresh schema of our own, so suites running at the same time do not collide."""
    schema = f"test_identity_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    db_engine = make_engine(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    create_schema(db_engine)
    try:
        yield db_engine
    finally:
        db_engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)


@pytest.fixture
def session(sessions):
    with sessions() as db_session:
        yield db_session


# --------------------------------------------------------------------------------------------
# Passwords


def test_password_is_stored_hashed_and_verifies(session):
    user = add_user(session, "alice", "correct horse", ["field"])
    session.commit()
    stored = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    assert "correct horse" not in stored
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert authenticate(session, "alice", "correct horse") is user
    assert authenticate(session, "alice", "wrong password") is None


def test_same_password_hashes_differently():
    assert hash_password("same password") != hash_password("same password")


def test_default_cost_is_strong_and_recorded_in_the_hash(monkeypatch):
    monkeypatch.undo()
    # OWASP's minimum for argon2id: 19 MiB, 2 passes
    assert identity.ARGON2_MEMORY_KIB >= 19 * 1024 and identity.ARGON2_TIME_COST >= 2
    stored = hash_password("a long password")
    assert stored.startswith(f"$argon2id$v=19$m={identity.ARGON2_MEMORY_KIB},t={identity.ARGON2_TIME_COST},"
                             f"p={identity.ARGON2_PARALLELISM}$")
    assert verify_password("a long password", stored)
    assert not identity.needs_rehash(stored)


def test_hashes_of_the_older_scrypt_format_still_verify():
    stored = identity.scrypt_hash("an old password")
    assert stored.startswith("scrypt$n=1024,r=8,p=1$")
    assert verify_password("an old password", stored)
    assert not verify_password("an old passworD", stored)
    assert identity.needs_rehash(stored)


def test_a_hash_at_a_lower_cost_than_todays_needs_rehash(monkeypatch):
    cheap = hash_password("some password")
    monkeypatch.setattr(identity, "ARGON2_TIME_COST", 2)
    assert verify_password("some password", cheap)
    assert identity.needs_rehash(cheap)
    assert not identity.needs_rehash(hash_password("some password"))


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$n=1,r=8$x$y", "md5$n=1024,r=8,p=1$AA==$AA==",
                                    "scrypt$n=1024,r=8,p=1$not base64!$AA==", "scrypt$n=3,r=8,p=1$AA==$AA==",
                                    "$argon2id$v=19$m=64,t=1,p=1$bad", "$argon2id$"])
def test_malformed_stored_hash_never_verifies(stored):
    assert verify_password("anything", stored) is False


def test_unknown_user_costs_a_hash_too(session, monkeypatch):
    add_user(session, "alice", "correct horse", [])
    calls = []
    real_verify = identity.verify_password

    def counting_verify(password, stored):
        calls.append(stored)
        return real_verify(password, stored)

    monkeypatch.setattr(identity, "verify_password", counting_verify)
    assert authenticate(session, "nobody", "correct horse") is None
    assert authenticate(session, "alice", "correct horse") is not None
    assert len(calls) == 2 and calls[0].startswith("$argon2id$")


def test_disabled_user_cannot_log_in(session):
    add_user(session, "bob", "long enough", [])
    set_disabled(session, "bob")
    assert authenticate(session, "bob", "long enough") is None
    set_disabled(session, "bob", False)
    assert authenticate(session, "bob", "long enough") is not None


def test_set_password(session):
    add_user(session, "carol", "first password", [])
    set_password(session, "carol", "second password")
    session.commit()
    assert authenticate(session, "carol", "first password") is None
    assert authenticate(session, "carol", "second password") is not None
    with pytest.raises(ValidationFailed, match="at least 8"):
        set_password(session, "carol", "short")


# --------------------------------------------------------------------------------------------
# Users, groups, tenants


def test_duplicate_username_conflicts(session):
    add_user(session, "dave", "long enough", [])
    session.commit()
    with pytest.raises(Conflict, match="already taken"):
        add_user(session, "dave", "other password", [])
    with pytest.raises(Conflict, match="too close"):
        add_user(session, "Dave", "other password", [])


def test_concurrent_duplicate_turns_into_conflict(sessions):
    with sessions() as first, sessions() as second:
        add_user(first, "erin", "long enough", [])
        first.commit()
        # as if the second request had checked before the first one committed: the unique key decides
        with pytest.raises(Conflict):
            identity._flush_new(second, User(username="erin", password_hash="x", disabled=False,
                                             created_at=identity._clock.now()))
        assert get_user(second, "erin").username == "erin"


@pytest.mark.parametrize(
    ("username", "password", "groups", "message"),
    [
        ("", "long enough", [], "username must not be empty"),
        ("x" * 101, "long enough", [], "at most 100 characters"),
        ("bad name", "long enough", [], "only letters, digits"),
        ("semi;colon", "long enough", [], "only letters, digits"),
        ("frank", "short", [], "at least 8 characters"),
        ("frank", "long enough", ["has space"], "group id 'has space'"),
        ("frank", "long enough", ["1starts-with-digit"], "must start with a letter"),
        ("frank", "long enough", "admin", "groups must be a list"),
    ],
)
def test_bad_input_is_refused(session, username, password, groups, message):
    with pytest.raises(ValidationFailed, match=message) as refused:
        add_user(session, username, password, groups)
    assert refused.value.details
    assert list_users(session) == []


def test_all_problems_are_reported_together(session):
    with pytest.raises(ValidationFailed) as refused:
        add_user(session, "", "short", ["bad group"], tenant="bad tenant")
    assert len(refused.value.details) == 4


def test_user_with_tenant_creates_the_tenant_once(session):
    add_user(session, "op1", "long enough", ["operator"], tenant="chinamobile")
    add_user(session, "op2", "long enough", ["operator"], tenant="chinamobile")
    session.commit()
    assert [t.id for t in session.scalars(select(Tenant))] == ["chinamobile"]
    assert get_user(session, "op1").tenant == "chinamobile"


def test_principal_carries_groups_and_tenant(session):
    user = add_user(session, "grace", "long enough", ["dispatch", "admin", "dispatch"],
                    tenant="unicom", display_name="Grace H.")
    session.commit()
    principal = principal_for(user)
    assert principal.username == "grace"
    assert principal.groups == frozenset({"dispatch", "admin"})
    assert principal.tenant == "unicom"
    assert principal.is_admin
    assert user.display_name == "Grace H."


def test_set_groups_replaces_them(session):
    add_user(session, "heidi", "long enough", ["a", "b"])
    session.commit()
    set_groups(session, "heidi", ["b", "c"])
    session.commit()
    session.expire_all()
    assert get_user(session, "heidi").group_ids == ["b", "c"]
    assert sorted(session.scalars(select(UserGroup.group))) == ["b", "c"]
    with pytest.raises(ValidationFailed):
        set_groups(session, "heidi", ["no spaces allowed"])


def test_set_tenant_moves_and_clears(session):
    add_user(session, "ivan", "long enough", [])
    set_tenant(session, "ivan", "telecom")
    session.commit()
    assert principal_for(get_user(session, "ivan")).tenant == "telecom"
    assert session.get(Tenant, "telecom") is not None
    set_tenant(session, "ivan", None)
    session.commit()
    assert principal_for(get_user(session, "ivan")).tenant is None


def test_get_and_list_users(session):
    add_user(session, "zed", "long enough", [])
    add_user(session, "amy", "long enough", [])
    assert [u.username for u in list_users(session)] == ["amy", "zed"]
    with pytest.raises(NotFound):
        get_user(session, "nobody")
    with pytest.raises(NotFound):
        set_groups(session, "nobody", [])


def test_changes_are_left_for_the_caller_to_commit(sessions):
    with sessions() as db_session:
        add_user(db_session, "judy", "long enough", [])
        db_session.rollback()
    with sessions() as db_session:
        assert list_users(db_session) == []


# --------------------------------------------------------------------------------------------
# API tokens


def test_token_works_until_revoked(session):
    add_user(session, "kate", "long enough", ["api"])
    token = create_token(session, "kate", name="pms integration")
    session.commit()
    assert len(token) >= 40
    stored = session.scalars(select(ApiToken)).one()
    assert stored.token_hash != token and token not in stored.token_hash
    assert stored.name == "pms integration"
    assert user_for_token(session, token).username == "kate"
    assert user_for_token(session, token + "x") is None
    assert user_for_token(session, "") is None

    revoke_token(session, token)
    session.commit()
    assert user_for_token(session, token) is None
    revoke_token(session, token)  # twice is fine


def test_revoke_by_id(sessions):
    with sessions() as db_session:
        add_user(db_session, "leo", "long enough", [])
        token = create_token(db_session, "leo")
        other = create_token(db_session, "leo")
        db_session.commit()
        token_id = db_session.scalars(select(ApiToken.id).order_by(ApiToken.id)).first()
        revoke_token(db_session, token_id)
        db_session.commit()
    with sessions() as db_session:  # another session (another request) sees it at once
        assert user_for_token(db_session, token) is None
        assert user_for_token(db_session, other).username == "leo"
        assert [t.revoked_at is not None for t in list_tokens(db_session, "leo")] == [False, True]
        with pytest.raises(NotFound):
            revoke_token(db_session, 999_999)
        with pytest.raises(NotFound):
            revoke_token(db_session, "not-a-token")


def test_disabled_users_token_stops_working(session):
    add_user(session, "mia", "long enough", [])
    token = create_token(session, "mia")
    session.commit()
    set_disabled(session, "mia")
    session.commit()
    assert user_for_token(session, token) is None
    set_disabled(session, "mia", False)
    assert user_for_token(session, token).username == "mia"


def test_token_for_unknown_user(session):
    with pytest.raises(NotFound):
        create_token(session, "nobody")
