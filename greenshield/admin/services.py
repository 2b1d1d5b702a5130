"""User administration use cases: each takes the session, the acting administrator (an ``accesslog.Actor``)
and the account, changes it, and records the action (who, when, what, on whom) in ``admin_actions``.

Every use case validates everything before it writes anything, so a refused form leaves nothing half-written.
"""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from greenshield.auth import services as auth
from greenshield.auth.permissions import Capability, can
from greenshield.errors import Conflict, Invalid, NotFound
from greenshield.trace.accesslog import Actor
from models import AdminAction, ApiToken, Role, User


def record(session: Session, actor: Actor, action: str, target: User, **detail) -> AdminAction:
    """One line of the administrators' action log; flushes, the caller commits."""
    who = actor.user
    row = AdminAction(actor_id=who.id if who else None, actor_username=who.username if who else "-",
                      action=action, target_id=target.id, target_username=target.username, detail=detail,
                      client_addr=actor.client_addr)
    session.add(row)
    session.flush()
    return row


def user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not_found.user", username=username)
    return user


def search_users(q: str | None = None, role: str | None = None, active: bool | None = None) -> Select:
    """Accounts whose username or display name contains ``q``, of ``role``, active or not; by username."""
    stmt = select(User)
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern)))
    if role:
        stmt = stmt.where(User.role == Role(role))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return stmt.order_by(User.username)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid("validation_error.unknown_role", field="role") from None


def create(session: Session, actor: Actor, *, username: str, password: str, role: str, display_name: str,
           region_code: str | None, outlet_codes: list[str], agency: str | None) -> User:
    """A new account whose user must choose their own password at the first sign-in."""
    user = auth.create_user(session, username=username.strip(), password=password, role=_role(role),
                            region_code=region_code or None, outlet_codes=outlet_codes,
                            display_name=display_name.strip(), agency=(agency or "").strip() or None,
                            must_change_password=True)
    record(session, actor, "create", user, role=user.role.value, region=user.region_code,
           outlets=sorted(o.code for o in user.outlets))
    return user


def change(session: Session, actor: Actor, user: User, *, role: str, display_name: str, region_code: str | None,
           outlet_codes: list[str], agency: str | None) -> User:
    """A new role, scope, display name or agency. An administrator cannot take their own administration away."""
    new_role = _role(role)
    if user.id == actor.user.id and not can_role(new_role, Capability.MANAGE_USERS):
        raise Conflict("conflict.own_account", field="role")
    region, outlets = auth.scope_for(session, new_role, region_code or None, outlet_codes)
    before = {"role": user.role.value, "region": user.region_code, "outlets": sorted(o.code for o in user.outlets),
              "display_name": user.display_name, "agency": user.agency}
    user.role, user.region, user.outlets = new_role, region, outlets
    user.display_name = display_name.strip() or user.username
    user.agency = (agency or "").strip() or None
    session.flush()
    after = {"role": user.role.value, "region": user.region_code, "outlets": sorted(o.code for o in user.outlets),
             "display_name": user.display_name, "agency": user.agency}
    changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    record(session, actor, "change", user, **changed)
    return user


def can_role(role: Role, capability: Capability) -> bool:
    return auth.can_role(role, capability)


def set_active(session: Session, actor: Actor, user: User, active: bool) -> User:
    """Deactivate (every session and token ends at once) or reactivate an account; never one's own."""
    if user.id == actor.user.id:
        raise Conflict("conflict.own_account")
    if user.active != active:
        user.active = active
        if not active:
            auth.end_sessions(session, user)
            auth.revoke_tokens(session, user)
        record(session, actor, "reactivate" if active else "deactivate", user)
    return user


def unlock(session: Session, actor: Actor, user: User) -> int:
    """Clear the sign-in throttling of the account (from every address)."""
    cleared = auth.unlock(session, user.username)
    record(session, actor, "unlock", user, cleared=cleared)
    return cleared


def reset_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """Set a temporary password: the user's sessions and tokens end, and they must change it at next sign-in."""
    try:
        auth.set_password(session, user, password, must_change=True)
    except Invalid as exc:
        exc.field = "password"
        raise
    record(session, actor, "reset_password", user)


def sign_out_everywhere(session: Session, actor: Actor, user: User) -> int:
    ended = auth.end_sessions(session, user)
    record(session, actor, "sign_out_everywhere", user, sessions=ended)
    return ended


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, actor: Actor, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("not_found.token", id=token_id)
    if token.revoked_at is None:
        auth.revoke_token(session, actor.user, token_id)
        record(session, actor, "revoke_token", user, token=token.prefix)
    return token


def actions(target: str | None = None, actor_name: str | None = None, action: str | None = None) -> Select:
    """The administrators' action log, newest first, filtered by account, administrator or action."""
    stmt = select(AdminAction)
    if target:
        stmt = stmt.where(AdminAction.target_username == target)
    if actor_name:
        stmt = stmt.where(AdminAction.actor_username == actor_name)
    if action:
        stmt = stmt.where(AdminAction.action == action)
    return stmt.order_by(AdminAction.id.desc())


def may_manage(user: User) -> bool:
    return can(user, Capability.MANAGE_USERS)
