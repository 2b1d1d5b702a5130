"""Password hashing, sign-in with lockout, and bearer tokens."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.auth.permissions import SCOPES, Capability, Scope, can
from greenshield.errors import Conflict, Invalid, NotFound
from models import ApiToken, Outlet, Region, Role, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "gs_"
MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps a sign-in for an unknown user as slow as one for a known user."""
    return _hasher.hash("greenshield-timing-equaliser")


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
    """Wrong credentials, or an account that is locked or inactive; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sign_in(session: Session, username: str, password: str, *, max_failures: int, lock_minutes: int) -> User:
    """The user whose credentials these are. Counts failures and locks the account after ``max_failures``.

    Raises SignInRefused('invalid' | 'locked'). The caller commits in both outcomes.
    """
    user = session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise SignInRefused("locked")
    if not verify_password(user, password) or not user.active:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + dt.timedelta(minutes=lock_minutes)
                user.failed_logins = 0
        raise SignInRefused("invalid")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, days: int) -> tuple[ApiToken, str]:
    """A new bearer token for ``user``, valid ``days`` days. Returns the row and the token (shown once)."""
    if not 1 <= days <= 366:
        raise Invalid("validation_error.token_days", field="days", max=366)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, token_hash=_digest(plain), prefix=plain[:10],
                     expires_at=utcnow() + dt.timedelta(days=days))
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str, *, touch: bool = True) -> User | None:
    """The active user of a valid, unexpired, unrevoked token, else None. ``touch`` records its use (a write:
    read-only requests pass False, so that on SQLite they never need the write lock)."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    now = utcnow()
    if token is None or not token.usable(now):
        return None
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


def create_user(session: Session, *, username: str, password: str, role: Role, region_code: str | None = None,
                outlet_codes: list[str] = (), display_name: str = "", agency: str | None = None) -> User:
    """A new account. Inspectors need a region; outlet managers need at least one outlet.

    Raises Conflict for a taken username and Invalid for a missing or unknown scope.
    """
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("conflict.username_taken", field="username", username=username)
    region = None
    if SCOPES[role] is Scope.REGION:
        if not region_code:
            raise Invalid("validation_error.inspector_needs_region", field="region_code")
    if region_code:
        region = session.get(Region, region_code)
        if region is None:
            raise Invalid("validation_error.unknown_region", field="region_code", code=region_code)
    outlets = []
    if SCOPES[role] is Scope.OUTLETS:
        if not outlet_codes:
            raise Invalid("validation_error.manager_needs_outlets", field="outlet_codes")
        outlets = list(session.scalars(select(Outlet).where(Outlet.code.in_(outlet_codes))))
        unknown = sorted(set(outlet_codes) - {o.code for o in outlets})
        if unknown:
            raise Invalid("validation_error.unknown_outlets", field="outlet_codes", codes=unknown)
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role, region=region if SCOPES[role] is Scope.REGION else None, agency=agency, outlets=outlets)
    session.add(user)
    session.flush()
    return user
