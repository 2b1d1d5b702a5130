"""Browser sign-in and sign-out, changing one's password, and the language switch."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session as cookie, url_for
from flask_babel import gettext as _

from greenshield import db
from greenshield.auth import services
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, public
from greenshield.context import actor, settings
from greenshield.errors import DomainError, form_errors, message
from greenshield.extensions import limiter

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """``target`` as a same-origin relative path (path and query), or None when it is anything else: another
    host (``//host``, ``/\\host``, a scheme), control characters or backslashes anywhere, not starting with ``/``."""
    if not target or not isinstance(target, str) or len(target) > 2048:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, ""))


def _next_or_home(target: str | None) -> str:
    return safe_next(target) or url_for("web.home")


def _begin(user) -> None:
    """A fresh cookie and a new server-side session for ``user`` (the language choice is kept)."""
    sid = services.start_session(db.session(), user, request.remote_addr)
    lang = cookie.get("lang")
    cookie.clear()
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    cookie.update(sid=sid, auth=now, seen=now)
    if lang:
        cookie["lang"] = lang
    cookie.permanent = False


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: settings().login_rate_limit, methods=["POST"])
@public
def login():
    if request.method == "GET":
        return render_template("auth/login.html", next=safe_next(request.args.get("next")) or "")
    username = request.form.get("username", "").strip()[:256]
    password = request.form.get("password", "")[:1024]
    session = db.session()
    try:
        user = services.sign_in(session, settings(), username, password, client_addr=request.remote_addr)
    except services.SignInRefused as exc:
        session.commit()  # keep the failure count even though the response is an error
        if exc.reason == "throttled":
            text = message("too_many_requests.sign_in", {"seconds": exc.retry_after})
            status, headers = 429, {"Retry-After": str(exc.retry_after)}
        else:
            text, status, headers = message("unauthenticated.sign_in"), 401, {}
        return render_template("auth/login.html", error=text, next=safe_next(request.form.get("next")) or "",
                               username=username), status, headers
    _begin(user)
    if user.must_change_password:
        return redirect(url_for("auth.change_password", next=safe_next(request.form.get("next"))))
    return redirect(_next_or_home(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@allow(Capability.SIGN_IN)
def logout():
    """End this browser's session on the server, not only in the cookie."""
    if isinstance(cookie.get("sid"), str):
        services.end_session(db.session(), cookie["sid"])
    lang = cookie.get("lang")
    cookie.clear()
    if lang:
        cookie["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@allow(Capability.SIGN_IN)
def change_password():
    """Change one's own password (required after an administrator reset it): every other session and every API
    token of the user ends; this browser continues in a new session."""
    user = current_user()
    target = safe_next(request.values.get("next")) or ""
    if request.method == "GET":
        return render_template("auth/password.html", next=target, forced=user.must_change_password, errors={})
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    if new != again:
        return render_template("auth/password.html", next=target, forced=user.must_change_password,
                               errors={"new_password_again": [message("validation_error.passwords_differ")]}), 422
    session = db.session()
    try:
        services.change_own_password(session, user, request.form.get("current_password", ""), new)
    except DomainError as exc:
        return render_template("auth/password.html", next=target, forced=user.must_change_password,
                               errors=form_errors(exc)), 422
    from greenshield.admin.services import record

    record(session, actor(), "password_changed", user)
    _begin(user)
    flash(_("Your password has been changed; your other sessions and API tokens have ended."))
    return redirect(_next_or_home(target))


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code):
    if code in current_app.config["LANGUAGES"]:
        cookie["lang"] = code
    target = safe_next(request.form.get("next"))
    if target is None and request.referrer:
        try:
            referrer = urlsplit(request.referrer)
        except ValueError:
            referrer = None
        if referrer is not None and referrer.netloc == request.host and referrer.scheme in ("http", "https"):
            target = safe_next(urlunsplit(("", "", referrer.path, referrer.query, "")))
    return redirect(target or url_for("web.home"))
