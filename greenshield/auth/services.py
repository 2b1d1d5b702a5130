"""Password hashing, sign-in with throttling, server-side browser sessions, password changes and bearer tokens."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from greenshield.auth.permissions import GRANTS, SCOPES, Capability, Scope, can
from greenshield.errors import Conflict, Invalid, NotFound
from greenshield.settings import Settings
from models import ApiToken, LoginThrottle, Notification, Outlet, Region, Role, User, UserSession, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "gs_"
MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps a sign-in for an unknown user as slow as one for a known user."""
    return _hasher.hash("greenshield-timing-equaliser")


def can_role(role: Role, capability: Capability) -> bool:
    return role in GRANTS[capability]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; raises Invalid when it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("validation_error.password_too_short", field="password", min=MIN_PASSWORD_LENGTH)
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash(), password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


class SignInRefused(Exception):
    """Wrong credentials or an inactive account (``reason`` 'invalid'), or too many recent failures under this
    account name or client address (``reason`` 'throttled', ``retry_after`` seconds). The answer is the same for
    unknown and known usernames."""

    def __init__(self, reason: str, retry_after: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Throttle:
    """One throttle key's rule: ``free`` failures, then waits doubling from one second up to ``ceiling``."""

    key: str
    free: int
    ceiling: int


def throttles(settings: Settings, username: str, client_addr: str | None) -> list[Throttle]:
    """The keys a sign-in attempt counts under. The account and the address together slow a guesser down to
    the long ceiling; the address alone slows one guessing many accounts; the account alone (from anywhere) is
    capped at a short wait, so that an attacker can delay but never lock out the real user."""
    name = username.strip().lower()[:64]
    addr = (client_addr or "-")[:64]
    return [Throttle(f"pair:{name}|{addr}", settings.login_free_failures, settings.login_backoff_max_seconds),
            Throttle(f"addr:{addr}", settings.login_address_free_failures, settings.login_backoff_max_seconds),
            Throttle(f"account:{name}", settings.login_account_free_failures, settings.login_account_max_seconds)]


def _wait(failures: int, rule: Throttle) -> int:
    over = failures - rule.free
    return 0 if over < 0 else min(rule.ceiling, 2 ** min(over, 30))


def sign_in(session: Session, settings: Settings, username: str, password: str, *,
            client_addr: str | None = None) -> User:
    """The user whose credentials these are, counting failures by account and by client address.

    Raises SignInRefused('throttled') while a key waits (the password is not even checked) and
    SignInRefused('invalid') for wrong credentials or an inactive account. Notifies the administrators when an
    account reaches ``login_alert_failures``. The caller commits in every outcome.
    """
    now = utcnow()
    rules = throttles(settings, username, client_addr)
    rows = {row.key: row for row in session.scalars(select(LoginThrottle).where(
        LoginThrottle.key.in_([r.key for r in rules])))}
    waits = [(rows[r.key].blocked_until - now).total_seconds() for r in rules
             if r.key in rows and rows[r.key].blocked_until is not None and rows[r.key].blocked_until > now]
    if waits:
        raise SignInRefused("throttled", retry_after=max(1, int(max(waits) + 0.999)))
    user = session.scalar(select(User).where(User.username == username))
    if not verify_password(user, password) or not user.active:
        for rule in rules:
            row = rows.get(rule.key)
            if row is None:
                row = LoginThrottle(key=rule.key, failures=0)
                session.add(row)
            row.failures += 1
            row.last_failure_at = now
            wait = _wait(row.failures, rule)
            row.blocked_until = now + dt.timedelta(seconds=wait) if wait else None
            if rule.key.startswith("account:") and row.failures == settings.login_alert_failures:
                _alert_admins(session, username, row.failures, client_addr)
        session.flush()
        raise SignInRefused("invalid")
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_([rules[0].key, rules[2].key])))
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _alert_admins(session: Session, username: str, failures: int, client_addr: str | None) -> None:
    """An in-app notification to every active administrator: an account is under a guessing attack."""
    admins = session.scalars(select(User.id).where(User.active.is_(True), User.role.in_(
        [role for role in Role if can_role(role, Capability.MANAGE_USERS)])))
    for admin_id in admins:
        session.add(Notification(user_id=admin_id, kind="login_failures",
                                 message=f"{failures} failed sign-ins for {username[:64]}",
                                 data={"username": username[:64], "failures": failures, "client_addr": client_addr}))


def throttled(session: Session, username: str) -> bool:
    """Whether sign-ins to ``username`` wait now (from some address or from anywhere)."""
    name = username.lower()
    return session.scalar(select(LoginThrottle.key).where(
        or_(LoginThrottle.key == f"account:{name}", LoginThrottle.key.like(f"pair:{name}|%")),
        LoginThrottle.blocked_until > utcnow()).limit(1)) is not None


def unlock(session: Session, username: str) -> int:
    """Clear the throttling of ``username`` (from every address); returns how many keys were cleared."""
    name = username.lower()
    return session.execute(delete(LoginThrottle).where(
        or_(LoginThrottle.key == f"account:{name}", LoginThrottle.key.like(f"pair:{name}|%")))).rowcount


# --- browser sessions ----------------------------------------------------------------------------------------


def start_session(session: Session, user: User, client_addr: str | None = None) -> str:
    """A new server-side session of ``user``; returns its id for the cookie (only its SHA-256 is stored)."""
    plain = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=_digest(plain), client_addr=(client_addr or None) and
                            client_addr[:64]))
    session.flush()
    return plain


def session_user(session: Session, plain: str) -> User | None:
    """The active user of a live session, else None."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(plain),
                                                   UserSession.ended_at.is_(None)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def end_session(session: Session, plain: str) -> None:
    session.execute(update(UserSession).where(UserSession.token_hash == _digest(plain),
                                              UserSession.ended_at.is_(None)).values(ended_at=utcnow()))


def end_sessions(session: Session, user: User) -> int:
    """End every live session of ``user`` at once; returns how many."""
    return session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                           .values(ended_at=utcnow())).rowcount


def revoke_tokens(session: Session, user: User) -> int:
    """Revoke every live API token of ``user``; returns how many."""
    return session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=utcnow())).rowcount


def set_password(session: Session, user: User, password: str, *, must_change: bool = False) -> None:
    """A new password for ``user``: every session and API token of theirs ends. Raises Invalid when too short.
    ``must_change``: a password an administrator set, which the user must replace at their next sign-in."""
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    end_sessions(session, user)
    revoke_tokens(session, user)
    session.flush()


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """The user replaces their password, proving the current one. Raises Invalid for a wrong current password,
    a short new one, or the same one again."""
    if not verify_password(user, current):
        raise Invalid("validation_error.wrong_password", field="current_password")
    if verify_password(user, new):
        raise Invalid("validation_error.same_password", field="new_password")
    try:
        set_password(session, user, new)
    except Invalid as exc:
        exc.field = "new_password"
        raise


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, days: int, max_days: int = 90,
                not_after: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A new bearer token for ``user``, valid ``days`` days (at most ``max_days``, and never beyond
    ``not_after``: a token minted with a token does not outlive it). Returns the row and the token (shown once).
    Raises Invalid for a validity out of range."""
    if not 1 <= days <= max_days:
        raise Invalid("validation_error.token_days", field="days", max=max_days)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=days)
    if not_after is not None:
        expires = min(expires, not_after)
    token = ApiToken(user=user, token_hash=_digest(plain), prefix=plain[:10], expires_at=expires)
    session.add(token)
    session.flush()
    return token, plain


def token_for(session: Session, plain: str) -> ApiToken | None:
    """The valid, unexpired, unrevoked token of an active user, else None."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    return token if token is not None and token.usable(utcnow()) else None


def user_for_token(session: Session, plain: str, *, touch: bool = True) -> User | None:
    """The active user of a valid, unexpired, unrevoked token, else None. ``touch`` records its use (a write:
    read-only requests pass False, so that on SQLite they never need the write lock)."""
    token = token_for(session, plain)
    if token is None:
        return None
    now = utcnow()
    if touch and (token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5)):
        token.last_used_at = now
    return token.user


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not can(user, Capability.MANAGE_USERS)):
        raise NotFound("not_found.token", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,63}")


def scope_for(session: Session, role: Role, region_code: str | None,
              outlet_codes: list[str] | tuple[str, ...]) -> tuple[Region | None, list[Outlet]]:
    """The region and outlets an account of ``role`` is limited to, checked against its scope
    (``permissions.SCOPES``): inspectors need a region, outlet managers at least one outlet; the others none.
    Raises Invalid for a missing or unknown scope."""
    region = None
    if SCOPES[role] is Scope.REGION:
        if not region_code:
            raise Invalid("validation_error.inspector_needs_region", field="region_code")
        region = session.get(Region, region_code)
        if region is None:
            raise Invalid("validation_error.unknown_region", field="region_code", code=region_code)
    elif region_code and session.get(Region, region_code) is None:
        raise Invalid("validation_error.unknown_region", field="region_code", code=region_code)
    outlets: list[Outlet] = []
    if SCOPES[role] is Scope.OUTLETS:
        if not outlet_codes:
            raise Invalid("validation_error.manager_needs_outlets", field="outlet_codes")
        outlets = list(session.scalars(select(Outlet).where(Outlet.code.in_(outlet_codes))))
        unknown = sorted(set(outlet_codes) - {o.code for o in outlets})
        if unknown:
            raise Invalid("validation_error.unknown_outlets", field="outlet_codes", codes=unknown)
    return region, outlets


def create_user(session: Session, *, username: str, password: str, role: Role, region_code: str | None = None,
                outlet_codes: list[str] = (), display_name: str = "", agency: str | None = None,
                must_change_password: bool = False) -> User:
    """A new account. Inspectors need a region; outlet managers need at least one outlet.

    Raises Conflict for a taken username and Invalid for a malformed username or a missing or unknown scope.
    """
    if not USERNAME.fullmatch(username or ""):
        raise Invalid("validation_error.username_format", field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("conflict.username_taken", field="username", username=username)
    region, outlets = scope_for(session, role, region_code, list(outlet_codes))
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role, region=region, agency=agency, outlets=outlets,
                must_change_password=must_change_password, password_changed_at=utcnow())
    session.add(user)
    session.flush()
    return user
