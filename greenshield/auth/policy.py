"""Every route declares who may call it; a request is refused before the view runs otherwise.

``@allow(Capability.REVIEW_XRAY, ...)`` (any of them will do) or ``@public`` on the view function; an endpoint
with neither is refused (deny by default). Which roles hold a capability, and which outlets each role sees, is
``greenshield.auth.permissions``; scope (region / outlets) is checked by the helpers below inside the view.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, redirect, request, session as cookie, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Select, select

from greenshield import db
from greenshield.auth.permissions import Capability, Scope, can, roles_with, scope_of
from greenshield.auth.services import session_user, user_for_token
from greenshield.context import settings
from greenshield.errors import Forbidden, NotFound, Unauthenticated
from models import Outlet, Region, User
from models.registry import prefix_of

F = TypeVar("F", bound=Callable)
PUBLIC = frozenset({"public"})
csrf = CSRFProtect()

# flask-smorest's own endpoints (the OpenAPI document) are public.
PUBLIC_ENDPOINT_PREFIXES = ("api-docs.", "static")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def allow(*capabilities: Capability) -> Callable[[F], F]:
    """Let only users holding any of ``capabilities`` call this view (scope is still the view's business)."""
    if not capabilities or not all(isinstance(c, Capability) for c in capabilities):
        raise TypeError("allow() takes one or more Capability members")

    def mark(fn: F) -> F:
        fn.__gs_capabilities__ = frozenset(capabilities)
        return fn
    return mark


def public(fn: F) -> F:
    """Let anyone call this view, signed in or not."""
    fn.__gs_capabilities__ = PUBLIC
    return fn


def capabilities_of(view: Callable) -> frozenset | None:
    """The capabilities a view declares, PUBLIC, or None when it declares nothing (and is refused)."""
    return getattr(view, "__gs_capabilities__", None)


def roles_of(view: Callable) -> frozenset | None:
    """The roles that may call a view (those holding any of its capabilities), PUBLIC, or None when it declares
    nothing."""
    capabilities = capabilities_of(view)
    if capabilities is None or capabilities is PUBLIC:
        return capabilities
    return roles_with(capabilities)


def current_user() -> User | None:
    return g.get("user")


def _clear_cookie() -> None:
    lang = cookie.get("lang")
    cookie.clear()
    if lang:
        cookie["lang"] = lang


def _user_from_cookie() -> User | None:
    """The user of the cookie's server-side session while it lives: not ended (sign-out, password change,
    deactivation, "sign out everywhere"), not idle too long, not older than the absolute limit."""
    sid = cookie.get("sid")
    if sid is None:
        if "uid" in cookie:
            _clear_cookie()  # a cookie of before server-side sessions
        return None
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    idle = settings().session_idle_minutes * 60
    absolute = settings().session_absolute_hours * 3600
    if now - cookie.get("seen", 0) > idle or now - cookie.get("auth", 0) > absolute or not isinstance(sid, str):
        _clear_cookie()
        return None
    user = session_user(db.session(), sid)
    if user is None:
        _clear_cookie()
        return None
    cookie["seen"] = now
    return user


# Pages a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password", "auth.logout", "auth.set_language", "static"})


def enforce() -> object | None:
    """``before_request``: resolve the caller and apply the endpoint's declared roles."""
    if request.method not in SAFE_METHODS:
        db.mark_write()
    endpoint = request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if view is None:
        return None  # 404 / 405 follow from routing
    roles = roles_of(view)
    if roles is None and endpoint.startswith(PUBLIC_ENDPOINT_PREFIXES):
        roles = PUBLIC
    header = request.headers.get("Authorization", "")
    user = None
    if header.startswith("Bearer "):
        user = user_for_token(db.session(), header[7:].strip(), touch=request.method not in SAFE_METHODS)
        if user is None:
            raise Unauthenticated("unauthenticated.bad_token")
        g.auth_method = "token"
        g.token_plain = header[7:].strip()
    else:
        user = _user_from_cookie()
        g.auth_method = "session" if user else None
        # Cookies ride along with forged requests; bearer tokens do not, so only cookie callers need CSRF.
        if (request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True)
                and (user is not None or not request.path.startswith("/api/"))):
            csrf.protect()
    g.user = user
    if roles is None:
        raise Forbidden("forbidden.no_policy")
    if roles is PUBLIC:
        return None
    if user is None:
        if request.path.startswith("/api/"):
            raise Unauthenticated()
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if user.must_change_password and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        if request.path.startswith("/api/"):
            raise Forbidden("forbidden.password_change_required")
        return redirect(url_for("auth.change_password", next=request.full_path.rstrip("?")))
    if not can(user, *capabilities_of(view)):
        raise Forbidden("forbidden.role")
    return None


def region_prefix(user: User) -> str | None:
    """The region prefix a region-scoped user (an inspector) is limited to, or None when not region-scoped."""
    if scope_of(user) is Scope.REGION and user.region_code:
        return prefix_of(user.region_code)
    return None


def outlet_in_scope(user: User, outlet: Outlet) -> bool:
    """Whether ``user`` may see ``outlet``, by the scope of their role (``permissions.SCOPES``): everything,
    their region, their own outlets, or none."""
    scope = scope_of(user)
    if scope is Scope.EVERYTHING:
        return True
    if scope is Scope.REGION:
        return outlet.region_code.startswith(region_prefix(user) or "")
    if scope is Scope.OUTLETS:
        return any(o.id == outlet.id for o in user.outlets)
    return False


def scope_outlets(stmt: Select, user: User) -> Select:
    """Restrict a statement that selects from (or joins) ``Outlet`` to the outlets ``user`` may see."""
    scope = scope_of(user)
    if scope is Scope.EVERYTHING:
        return stmt
    if scope is Scope.REGION:
        return stmt.where(Outlet.region_code.startswith(region_prefix(user) or ""))
    if scope is Scope.OUTLETS:
        return stmt.where(Outlet.id.in_([o.id for o in user.outlets]))
    return stmt.where(False)


def outlet_for(user: User, code: str) -> Outlet:
    """The outlet ``code`` if ``user`` may see it. Raises NotFound, or OutOfScope for another's outlet."""
    outlet = db.session().scalar(select(Outlet).where(Outlet.code == code.upper()))
    if outlet is None:
        raise NotFound("not_found.outlet", code=code)
    if not outlet_in_scope(user, outlet):
        raise Forbidden("forbidden.outlet_scope", code=outlet.code)
    return outlet


def region_in_scope(user: User, region: Region) -> bool:
    """Whether ``region`` lies inside the region ``user`` is limited to (always, when not region-scoped)."""
    prefix = region_prefix(user)
    return prefix is None or region.code.startswith(prefix)
