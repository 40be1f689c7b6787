"""Passwords, sign-in throttling, sessions and role checks (with an injected clock, no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qa.auth import (
    Actor,
    Sessions,
    Throttle,
    can_read_evaluation,
    hash_password,
    require,
    verify_password,
)
from qa.errors import PermissionDenied, QAError


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def test_password_hash_is_salted_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("$argon2id$")
    assert verify_password(first, "correct horse")
    assert not verify_password(first, "wrong horse")
    assert not verify_password("not a hash", "correct horse")


def test_short_password_refused():
    with pytest.raises(QAError, match="at least 8"):
        hash_password("short")


def test_throttle_slows_down_repeated_failures():
    clock = Clock()
    throttle = Throttle(free=3, base_seconds=2, clock=clock)
    for _ in range(3):
        assert throttle.wait_seconds("Alice") == 0
        throttle.failed("alice")
    assert throttle.wait_seconds("alice") == pytest.approx(2)
    throttle.failed("alice")
    assert throttle.wait_seconds("ALICE") == pytest.approx(4)  # doubling, case-insensitive
    clock.advance(seconds=4)
    assert throttle.wait_seconds("alice") == 0
    throttle.succeeded("alice")
    throttle.failed("alice")
    assert throttle.wait_seconds("alice") == 0


def test_sessions_expire_when_idle_and_absolutely():
    clock = Clock()
    sessions = Sessions(idle=timedelta(minutes=30), absolute=timedelta(hours=2), clock=clock)
    token = sessions.start(Actor("alice", "shopper"))
    clock.advance(minutes=29)
    assert sessions.actor(token) == Actor("alice", "shopper")
    clock.advance(minutes=29)
    assert sessions.actor(token) is not None  # each use refreshes the idle timer
    clock.advance(minutes=31)
    assert sessions.actor(token) is None
    token = sessions.start(Actor("bob", "qa_lead"))
    for _ in range(4):
        clock.advance(minutes=25)
        assert sessions.actor(token) is not None
    clock.advance(minutes=25)  # 125 minutes after sign-in: past the absolute limit of 2 h
    assert sessions.actor(token) is None
    assert sessions.actor("forged") is None and sessions.actor(None) is None


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("shopper", ["evaluate", "view_own"], ["view_all", "review", "sample", "publish", "manage_users"]),
        ("qa_lead", ["evaluate", "view_all", "review", "sample", "calibrate", "publish"], ["manage_users"]),
        ("admin", ["manage_users", "review"], []),
    ],
)
def test_roles(role, allowed, refused):
    actor = Actor("someone", role)
    for permission in allowed:
        require(actor, permission)
    for permission in refused:
        with pytest.raises(PermissionDenied, match=permission.replace("_", " ")):
            require(actor, permission)


def test_a_shopper_reads_only_their_own_evaluations():
    assert can_read_evaluation(Actor("alice", "shopper"), "alice")
    assert not can_read_evaluation(Actor("alice", "shopper"), "bob")
    assert can_read_evaluation(Actor("lea", "qa_lead"), "bob")
    assert not can_read_evaluation(Actor("eve", "unknown-role"), "eve")


def test_create_user_and_sign_in_against_a_real_store(tmp_path):
    from qa.auth import SignInError, authenticate, create_user
    from qa.store import Store

    store = Store.open(tmp_path)
    try:
        user, password = create_user(store, "alice", "shopper")
        assert password and user.password_hash != password  # only the hash is stored
        assert store.get_user("alice").password_hash.startswith("$argon2id$")
        with pytest.raises(QAError, match="already exists"):
            create_user(store, "alice", "qa_lead")
        with pytest.raises(QAError, match="unknown role"):
            create_user(store, "bob", "boss")
        clock = Clock()
        throttle = Throttle(free=2, clock=clock)
        assert authenticate(store, "alice", password, throttle) == Actor("alice", "shopper")
        for _ in range(2):
            with pytest.raises(SignInError, match="wrong name or password"):
                authenticate(store, "alice", "not the password", throttle)
        with pytest.raises(SignInError, match="too many failed attempts"):
            authenticate(store, "alice", password, throttle)  # even the right password waits
        clock.advance(seconds=3)
        assert authenticate(store, "alice", password, throttle).role == "shopper"
        with pytest.raises(SignInError, match="wrong name or password"):
            authenticate(store, "nobody", password, throttle)
    finally:
        store.close()


# -- user management --------------------------------------------------------------------------------


@pytest.fixture
def users_store(tmp_path):
    """A real store with one admin (root) and one QA lead (lea)."""
    from qa.auth import create_user
    from qa.store import Store

    store = Store.open(tmp_path / "data")
    create_user(store, "root", "admin")
    create_user(store, "lea", "qa_lead")
    yield store
    store.close()


ROOT = Actor("root", "admin")


def test_a_qa_lead_cannot_manage_users_even_through_a_crafted_call(users_store):
    from qa import auth

    lea = Actor("lea", "qa_lead")
    calls = [
        lambda: auth.list_users(users_store, lea),
        lambda: auth.add_user(users_store, lea, "mallory", "admin"),
        lambda: auth.set_role(users_store, lea, "lea", "admin"),
        lambda: auth.set_active(users_store, lea, "root", False),
        lambda: auth.reset_password(users_store, lea, "root"),
        lambda: auth.user_changes(users_store, lea),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert [(u.name, u.role, u.active) for u in users_store.list_users()] == [
        ("lea", "qa_lead", True),
        ("root", "admin", True),
    ]


def test_an_admin_adds_changes_deactivates_and_resets_users_and_each_change_is_logged(users_store):
    from qa import auth

    clock = Clock()
    password = auth.add_user(users_store, ROOT, " nina ", "shopper", "Nina Roy", clock=clock)
    throttle = Throttle()
    assert auth.authenticate(users_store, "nina", password, throttle) == Actor("nina", "shopper")
    assert users_store.get_user("nina").display_name == "Nina Roy"

    auth.set_role(users_store, ROOT, "nina", "qa_lead", clock=clock)
    assert auth.still_valid(users_store, Actor("nina", "shopper")) == Actor("nina", "qa_lead")

    auth.set_active(users_store, ROOT, "nina", False, clock=clock)
    assert users_store.get_user("nina").active is False  # deactivated, never deleted
    assert auth.still_valid(users_store, Actor("nina", "qa_lead")) is None  # an open session ends
    with pytest.raises(auth.SignInError):
        auth.authenticate(users_store, "nina", password, throttle)
    auth.set_active(users_store, ROOT, "nina", True, clock=clock)

    new = auth.reset_password(users_store, ROOT, "nina", clock=clock)
    assert new != password
    with pytest.raises(auth.SignInError):
        auth.authenticate(users_store, "nina", password, throttle)
    assert auth.authenticate(users_store, "nina", new, throttle).role == "qa_lead"

    log = auth.user_changes(users_store, ROOT)
    assert [(c.action, c.user, c.by, c.details) for c in log] == [
        ("password_reset", "nina", "root", {}),
        ("reactivated", "nina", "root", {}),
        ("deactivated", "nina", "root", {}),
        ("role_changed", "nina", "root", {"from": "shopper", "to": "qa_lead"}),
        ("added", "nina", "root", {"role": "shopper"}),
    ]
    raw = repr([c.model_dump() for c in log])
    assert password not in raw and new not in raw and "argon2" not in raw  # never a password or hash
    # A change and its log line are one write: a log line the store refuses leaves the user as it was.
    from qa.errors import InvalidRecord

    with pytest.raises(InvalidRecord, match="action"):
        users_store.update_user("nina", {"role": "admin"}, change=auth.change(clock(), "root", "promoted", "nina"))
    assert users_store.get_user("nina").role == "qa_lead" and len(auth.user_changes(users_store, ROOT)) == 5


def test_an_admin_cannot_lock_the_users_out(users_store):
    from qa import auth

    with pytest.raises(auth.UserAdminError) as refused:
        auth.set_active(users_store, ROOT, "root", False)
    assert refused.value.code == "self"
    with pytest.raises(auth.UserAdminError) as refused:
        auth.set_role(users_store, ROOT, "root", "qa_lead")
    assert refused.value.code == "own_role"
    # Another active admin may change root; a deactivated one (an old session) may not.
    auth.add_user(users_store, ROOT, "ada", "admin")
    ada = Actor("ada", "admin")
    auth.set_active(users_store, ROOT, "ada", False)
    for call in (lambda: auth.set_role(users_store, ada, "root", "shopper"),
                 lambda: auth.set_active(users_store, ada, "root", False)):  # fmt: skip
        with pytest.raises(PermissionDenied, match="no longer an active admin"):
            call()
    assert users_store.get_user("root").role == "admin" and users_store.get_user("root").active
    auth.set_active(users_store, ROOT, "ada", True)
    auth.set_role(users_store, ada, "root", "qa_lead")  # two active admins: root may stop being one
    with pytest.raises(auth.UserAdminError) as refused:
        auth.set_active(users_store, ada, "ada", False)
    assert refused.value.code == "self"
    assert [u.name for u in users_store.list_users() if u.role == "admin" and u.active] == ["ada"]


def test_bad_user_changes_are_refused_with_a_reason(users_store):
    from qa import auth

    for name, role, code in (("lea", "shopper", "exists"), ("two words", "shopper", "name"), ("", "shopper", "name"),
                             ("zoe", "boss", "role")):  # fmt: skip
        with pytest.raises(auth.UserAdminError) as refused:
            auth.add_user(users_store, ROOT, name, role)
        assert refused.value.code == code
    with pytest.raises(auth.UserAdminError) as refused:
        auth.reset_password(users_store, ROOT, "nobody")
    assert refused.value.code == "unknown"
    assert [u.name for u in users_store.list_users()] == ["lea", "root"]
    assert auth.user_changes(users_store, ROOT) == []
