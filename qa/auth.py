"""Users, password hashes, sign-in throttling, sessions, roles and permission checks.

Permission checks live here, in the domain, so that a crafted call from any page or script is
refused just like a hidden button: every read or change of an evaluation goes through `require`
or `can_read_evaluation`.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from qa.errors import PermissionDenied, QAError

Role = Literal["shopper", "qa_lead", "admin"]
ROLES: tuple[Role, ...] = ("shopper", "qa_lead", "admin")

# What each role may do. qa_lead: everything but users; admin: users as well.
QA_LEAD_PERMISSIONS = frozenset(
    {
        "evaluate",
        "view_own",
        "view_all",
        "review",
        "sample",
        "dashboard",
        "calibrate",
        "publish",
        "scorecards",
        "disputes",
    }
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "shopper": frozenset({"evaluate", "view_own"}),
    "qa_lead": QA_LEAD_PERMISSIONS,
    "admin": QA_LEAD_PERMISSIONS | {"manage_users"},
}

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class SignInError(QAError):
    """Wrong name or password, or too many attempts: the message says which, never which part was wrong."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: the signed-in user's name and role, passed to every domain call that checks rights."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise QAError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A random password to print once (about 100 bits)."""
    return secrets.token_urlsafe(12)


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {permission.replace('_', ' ')}")


def can_read_evaluation(actor: Actor, evaluator: str) -> bool:
    """A shopper sees only their own evaluations; QA leads and admins see all."""
    return actor.can("view_all") or (actor.can("view_own") and evaluator == actor.name)


@dataclass
class Throttle:
    """Slows down repeated failed sign-ins per user name: after `free` failures, a doubling wait."""

    free: int = 3
    base_seconds: float = 2.0
    max_seconds: float = 300.0
    clock: Clock = utcnow
    _failures: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_seconds(self, name: str) -> float:
        with self._lock:
            count, last = self._failures.get(name.casefold(), (0, self.clock()))
        if count < self.free:
            return 0.0
        delay = min(self.max_seconds, self.base_seconds * 2 ** (count - self.free))
        remaining = (last + timedelta(seconds=delay) - self.clock()).total_seconds()
        return max(0.0, remaining)

    def failed(self, name: str) -> None:
        with self._lock:
            count, _ = self._failures.get(name.casefold(), (0, self.clock()))
            self._failures[name.casefold()] = (count + 1, self.clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.casefold(), None)


@dataclass
class Session:
    token: str
    actor: Actor
    started: datetime
    last_seen: datetime


@dataclass
class Sessions:
    """Signed-in sessions of this process, expiring after idle time and after an absolute limit."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    clock: Clock = utcnow
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, actor: Actor) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._sessions[token] = Session(token, actor, now, now)
        return token

    def actor(self, token: str | None) -> Actor | None:
        """The actor of a live session (refreshing its idle timer), or None when unknown or expired."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle or now - session.started > self.absolute:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session.actor

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


def find_user(store, name: str):
    """The user named `name`, or None (the store raises NotFound for an unknown name)."""
    from qa.errors import NotFound

    try:
        return store.get_user(name)
    except NotFound:
        return None


def create_user(
    store,
    name: str,
    role: str,
    display_name: str | None = None,
    password: str | None = None,
    clock: Clock = utcnow,
    *,
    logged_by: str | None = None,
) -> tuple[object, str]:
    """Add a user with a salted argon2 hash; returns the user and the password (random when not
    given). With `logged_by`, the addition goes to the users' log in the same write."""
    from qa.models import User

    if role not in ROLES:
        raise QAError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    if find_user(store, name) is not None:
        raise QAError(f"a user named {name!r} already exists")
    password = password or new_password()
    user = User(
        name=name,
        display_name=display_name or name,
        role=role,
        password_hash=hash_password(password),
        created_at=clock(),
    )
    log = None if logged_by is None else change(user.created_at, logged_by, "added", name, {"role": role})
    store.add_user(user, change=log)
    return user, password


def authenticate(store, name: str, password: str, throttle: Throttle) -> Actor:
    """The actor for a correct name and password; slowed down after repeated failures."""
    wait = throttle.wait_seconds(name)
    if wait > 0:
        raise SignInError(f"too many failed attempts: try again in {int(wait) + 1} s")
    user = find_user(store, name)
    # Verify against a dummy hash for unknown names so timing does not reveal who exists.
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not ok or user is None or not user.active:
        throttle.failed(name)
        raise SignInError("wrong name or password")
    throttle.succeeded(name)
    return Actor(user.name, user.role)


@functools.cache
def _dummy_hash() -> str:
    """Computed on first use, not at import: an argon2 hash costs ~0.3 s, and every CLI run imports this."""
    return _hasher.hash("not a real password, for constant-time failures")


# -- user management (admins only) -----------------------------------------------------------------
#
# Every function checks `manage_users` itself, so a crafted call by a QA lead is refused like a
# hidden page. Users are never deleted (their names stay on the evaluations they wrote): they are
# deactivated. Each change is logged (qa.models.UserChange) in the same write as the change.


class UserAdminError(QAError):
    """A refused user change; `code` names the reason for the app's messages (ui.users.error.<code>)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _require_admin(store, actor: Actor) -> None:
    """The acting admin must hold the right now, as the users table says (not only in a session)."""
    require(actor, "manage_users")
    current = still_valid(store, actor)
    if current is None or not current.can("manage_users"):
        raise PermissionDenied(f"{actor.name} is no longer an active admin")


def change(at: datetime, by: str, action: str, user: str, details: dict[str, str] | None = None) -> dict[str, Any]:
    """A line of the users' log, for the store to write with the change (qa.models.UserChange)."""
    return {"at": at, "by": by, "action": action, "user": user, "details": details or {}}


def user_changes(store, actor: Actor) -> list:
    """The users' log (qa.models.UserChange records), the latest change first."""
    _require_admin(store, actor)
    return store.user_changes()


def list_users(store, actor: Actor) -> list:
    """Every user, active or not, by name."""
    _require_admin(store, actor)
    return store.list_users()


def _target(store, name: str):
    user = find_user(store, name)
    if user is None:
        raise UserAdminError("unknown", f"no user named {name!r}")
    return user


def _other_active_admins(store, name: str) -> int:
    return sum(1 for u in store.list_users() if u.role == "admin" and u.active and u.name != name)


def add_user(store, actor: Actor, name: str, role: str, display_name: str | None = None,
             clock: Clock = utcnow) -> str:  # fmt: skip
    """Add a user with a random password; returns the password (shown once, stored only hashed)."""
    from pydantic import ValidationError

    _require_admin(store, actor)
    name = name.strip()
    if role not in ROLES:
        raise UserAdminError("role", f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    if not name:
        raise UserAdminError("name", "a user needs a name")
    if find_user(store, name) is not None:
        raise UserAdminError("exists", f"a user named {name!r} already exists")
    try:
        _, password = create_user(
            store, name, role, display_name=(display_name or "").strip() or None, clock=clock, logged_by=actor.name
        )
    except ValidationError:
        raise UserAdminError("name", f"{name!r} is not a valid user name (letters, digits, '.', '_' or '-')") from None
    return password


def set_role(store, actor: Actor, name: str, role: str, clock: Clock = utcnow) -> None:
    """Change a user's role; nobody changes their own role, and the last admin stays an admin."""
    _require_admin(store, actor)
    if role not in ROLES:
        raise UserAdminError("role", f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    user = _target(store, name)
    if user.role == role:
        return
    if name == actor.name:
        raise UserAdminError("own_role", "you cannot change your own role")
    if user.role == "admin" and user.active and _other_active_admins(store, name) == 0:
        raise UserAdminError("last_admin", f"{name} is the last active admin")
    store.update_user(
        name, {"role": role}, change=change(clock(), actor.name, "role_changed", name, {"from": user.role, "to": role})
    )


def set_active(store, actor: Actor, name: str, active: bool, clock: Clock = utcnow) -> None:
    """Deactivate (never delete) or reactivate a user; nobody deactivates themself or the last admin."""
    _require_admin(store, actor)
    user = _target(store, name)
    if user.active == active:
        return
    if not active and name == actor.name:
        raise UserAdminError("self", "you cannot deactivate yourself")
    if not active and user.role == "admin" and _other_active_admins(store, name) == 0:
        raise UserAdminError("last_admin", f"{name} is the last active admin")
    action = "reactivated" if active else "deactivated"
    store.update_user(name, {"active": active}, change=change(clock(), actor.name, action, name))


def reset_password(store, actor: Actor, name: str, clock: Clock = utcnow) -> str:
    """A new random password for `name` (returned once, stored only hashed); the old one stops working."""
    _require_admin(store, actor)
    _target(store, name)
    password = new_password()
    store.update_user(
        name, {"password_hash": hash_password(password)}, change=change(clock(), actor.name, "password_reset", name)
    )
    return password


def still_valid(store, actor: Actor) -> Actor | None:
    """The actor as the users table has it now: None once deactivated (or gone), the current role.

    A session outlives a change made by an admin; the app checks this on every run so that a
    deactivation or a role change takes effect at the user's next tap.
    """
    user = find_user(store, actor.name)
    if user is None or not user.active:
        return None
    return actor if user.role == actor.role else Actor(user.name, user.role)
