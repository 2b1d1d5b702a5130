"""User administration pages (administrators) and the administrators' action log (auditors and administrators)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from greenshield import db
from greenshield.admin import services
from greenshield.auth import services as auth
from greenshield.auth.permissions import SCOPES, Capability, Scope
from greenshield.auth.policy import allow
from greenshield.context import actor
from greenshield.errors import DomainError, Invalid, exception_message, form_errors, status_of
from greenshield.web.navigation import ROLE_LABELS
from models import Outlet, Region, Role, User

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")
PAGE_SIZE = 50

ACTIONS = {
    "create": _l("Account created"), "change": _l("Role, scope or name changed"),
    "deactivate": _l("Deactivated"), "reactivate": _l("Reactivated"), "unlock": _l("Sign-in throttling cleared"),
    "reset_password": _l("Password reset"), "password_changed": _l("Password changed by the user"),
    "sign_out_everywhere": _l("Signed out everywhere"), "revoke_token": _l("API token revoked"),
}
DETAIL_KEYS = {"role": _l("Role"), "region": _l("Region"), "outlets": _l("Outlets"), "display_name": _l("Name"),
               "agency": _l("Agency"), "cleared": _l("Throttles cleared"), "sessions": _l("Sessions ended"),
               "token": _l("Token")}


def scope_text(user: User) -> str:
    """The account's scope by name: everything, its region's name, its outlets' names, or nothing."""
    scope = SCOPES[user.role]
    if scope is Scope.EVERYTHING:
        return _("Everything")
    if scope is Scope.REGION:
        return user.region.name if user.region else "—"
    if scope is Scope.OUTLETS:
        return "、".join(o.name for o in sorted(user.outlets, key=lambda o: o.code)) or "—"
    return "—"


def _choices() -> dict:
    session = db.session()
    return {"roles": [(r.value, str(ROLE_LABELS[r])) for r in Role],
            "regions": session.scalars(select(Region).order_by(Region.code)).all(),
            "outlets": session.scalars(select(Outlet).where(Outlet.active.is_(True)).order_by(Outlet.code)).all()}


def _user(username: str) -> User:
    return services.user_named(db.session(), username)


def _form() -> dict:
    form = request.form
    return {"username": form.get("username", "").strip(), "display_name": form.get("display_name", ""),
            "role": form.get("role", ""), "region_code": form.get("region_code") or None,
            "outlet_codes": [c for c in form.getlist("outlet_codes") if c], "agency": form.get("agency", "")}


@bp.route("/users")
@allow(Capability.MANAGE_USERS)
def users():
    """Accounts, searchable by username or name, by role and by status."""
    q, role, status = request.args.get("q", "")[:64], request.args.get("role", ""), request.args.get("status", "")
    role = role if role in {r.value for r in Role} else ""
    active = {"active": True, "inactive": False}.get(status)
    page = max(1, min(request.args.get("page", 1, type=int), 10**6))
    session = db.session()
    rows = session.scalars(services.search_users(q, role or None, active).limit(PAGE_SIZE + 1)
                           .offset((page - 1) * PAGE_SIZE)).all()
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/users.html", users=rows[:PAGE_SIZE], q=q, role=role, status=status,
                           scope_text=scope_text, throttled=lambda u: auth.throttled(session, u.username),
                           roles=_choices()["roles"],
                           newer_url=url_for(".users", page=page - 1, **kept) if page > 1 else None,
                           older_url=url_for(".users", page=page + 1, **kept) if len(rows) > PAGE_SIZE else None)


@bp.route("/users/new", methods=["GET", "POST"])
@allow(Capability.MANAGE_USERS)
def new_user():
    """Create an account with a role, its scope and a first password the user must change."""
    if request.method == "GET":
        return render_template("admin/user_new.html", values={"role": Role.INSPECTOR.value}, errors={},
                               **_choices())
    values = _form()
    session = db.session()
    password, again = request.form.get("password", ""), request.form.get("password_again", "")
    try:
        if password != again:
            raise Invalid("validation_error.passwords_differ", field="password_again")
        user = services.create(session, actor(), username=values["username"], password=password,
                               role=values["role"], display_name=values["display_name"],
                               region_code=values["region_code"], outlet_codes=values["outlet_codes"],
                               agency=values["agency"])
    except DomainError as exc:
        session.rollback()
        return render_template("admin/user_new.html", values=values, errors=form_errors(exc),
                               **_choices()), status_of(exc.code)
    flash(_("Account %(username)s created; the user must choose a new password at the first sign-in.",
            username=user.username))
    return redirect(url_for(".user", username=user.username))


def _user_page(user: User, errors: dict | None = None, values: dict | None = None, status: int = 200):
    session = db.session()
    values = values or {"display_name": user.display_name, "role": user.role.value, "region_code": user.region_code,
                        "outlet_codes": [o.code for o in user.outlets], "agency": user.agency or ""}
    history = session.scalars(services.actions(target=user.username).limit(20)).all()
    return render_template("admin/user.html", user=user, values=values, errors=errors or {},
                           tokens=services.tokens_of(session, user), history=history,
                           throttled=auth.throttled(session, user.username), scope_text=scope_text,
                           action_label=lambda a: str(ACTIONS.get(a, a)),
                           detail_text=lambda d, names=scope_names(history): detail_text(d, names),
                           **_choices()), status


@bp.route("/users/<username>", methods=["GET", "POST"])
@allow(Capability.MANAGE_USERS)
def user(username):
    """One account: change its role, scope, name or agency; the other actions are buttons on this page."""
    user = _user(username)
    if request.method == "GET":
        return _user_page(user)
    values = _form()
    session = db.session()
    try:
        services.change(session, actor(), user, role=values["role"], display_name=values["display_name"],
                        region_code=values["region_code"], outlet_codes=values["outlet_codes"],
                        agency=values["agency"])
    except DomainError as exc:
        session.rollback()
        return _user_page(_user(username), form_errors(exc), values, status_of(exc.code))
    flash(_("Changes saved."))
    return redirect(url_for(".user", username=username))


def _act(username: str, do, done: str):
    user = _user(username)
    session = db.session()
    try:
        do(session, user)
    except DomainError as exc:
        session.rollback()
        return _user_page(_user(username), {"_": [exception_message(exc)]}, status=status_of(exc.code))
    flash(done)
    return redirect(url_for(".user", username=username))


@bp.route("/users/<username>/active", methods=["POST"])
@allow(Capability.MANAGE_USERS)
def set_active(username):
    """Deactivate (every session and token ends at once) or reactivate."""
    active = request.form.get("active") == "1"
    return _act(username, lambda s, u: services.set_active(s, actor(), u, active),
                _("Account reactivated.") if active else _("Account deactivated; its sessions and tokens have ended."))


@bp.route("/users/<username>/unlock", methods=["POST"])
@allow(Capability.MANAGE_USERS)
def unlock(username):
    return _act(username, lambda s, u: services.unlock(s, actor(), u), _("Sign-in throttling cleared."))


@bp.route("/users/<username>/sign-out", methods=["POST"])
@allow(Capability.MANAGE_USERS)
def sign_out(username):
    """End every browser session of the account at once."""
    return _act(username, lambda s, u: services.sign_out_everywhere(s, actor(), u),
                _("Signed out everywhere."))


@bp.route("/users/<username>/password", methods=["POST"])
@allow(Capability.MANAGE_USERS)
def reset_password(username):
    """A temporary password: the user's sessions and tokens end and they must change it at the next sign-in."""
    user = _user(username)
    session = db.session()
    password, again = request.form.get("password", ""), request.form.get("password_again", "")
    try:
        if password != again:
            raise Invalid("validation_error.passwords_differ", field="password_again")
        services.reset_password(session, actor(), user, password)
    except DomainError as exc:
        session.rollback()
        return _user_page(_user(username), form_errors(exc), status=status_of(exc.code))
    flash(_("Password reset; the user must change it at the next sign-in. Their sessions and API tokens have ended."))
    return redirect(url_for(".user", username=username))


@bp.route("/users/<username>/tokens/<int:token_id>/revoke", methods=["POST"])
@allow(Capability.MANAGE_USERS)
def revoke_token(username, token_id):
    return _act(username, lambda s, u: services.revoke_token(s, actor(), u, token_id), _("Token revoked."))


def detail_text(detail: dict, names: dict[str, str] | None = None) -> str:
    """An action's detail for people: ``label: before → after`` or ``label: value``; roles by their label,
    regions and outlets by their names (``names``: code → name)."""
    names = names or {}
    parts = []
    for key, value in (detail or {}).items():
        label = str(DETAIL_KEYS.get(key, key))
        if key == "role":
            value = [_role_label(v) for v in value] if isinstance(value, list) else _role_label(value)
        elif key in ("region", "outlets"):
            value = _named(value, names)
        if key == "outlets" and isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, list) for v in value):
            value = f"{_shown(value[0])} → {_shown(value[1])}"
        elif key != "outlets" and isinstance(value, list) and len(value) == 2:
            value = f"{_shown(value[0])} → {_shown(value[1])}"
        parts.append(f"{label}: {_shown(value)}")
    return "; ".join(parts)


def _named(value, names: dict[str, str]):
    if isinstance(value, list):
        return [_named(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def _codes(value) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_codes(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def scope_names(rows) -> dict[str, str]:
    """Names of the regions and outlets that the details of ``rows`` (admin actions) mention, by code."""
    codes = set()
    for row in rows:
        for key in ("region", "outlets"):
            codes |= _codes((row.detail or {}).get(key))
    if not codes:
        return {}
    session = db.session()
    names = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    names.update(session.execute(select(Outlet.code, Outlet.name).where(Outlet.code.in_(codes))).all())
    return names


def _role_label(value):
    try:
        return str(ROLE_LABELS[Role(value)])
    except (ValueError, KeyError):
        return value


def _shown(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value)
    return str(value)


@bp.route("/actions")
@allow(Capability.READ_ADMIN_LOG)
def actions():
    """Who did what to which account, and when: the administrators' action log."""
    target, who = request.args.get("user", "")[:64], request.args.get("actor", "")[:64]
    action = request.args.get("action", "")
    action = action if action in ACTIONS else ""
    page = max(1, min(request.args.get("page", 1, type=int), 10**6))
    rows = db.session().scalars(services.actions(target or None, who or None, action or None)
                                .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    names = dict(db.session().execute(select(User.username, User.display_name).where(
        User.username.in_({r.actor_username for r in rows} | {r.target_username for r in rows}))).all())
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/actions.html", rows=rows[:PAGE_SIZE], names=names, actions=ACTIONS,
                           values={"user": target, "actor": who, "action": action},
                           action_label=lambda a: str(ACTIONS.get(a, a)),
                           detail_text=lambda d, names=scope_names(rows): detail_text(d, names),
                           newer_url=url_for(".actions", page=page - 1, **kept) if page > 1 else None,
                           older_url=url_for(".actions", page=page + 1, **kept) if len(rows) > PAGE_SIZE else None)
