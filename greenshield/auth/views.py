"""Browser sign-in and sign-out, and the language switch."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, redirect, render_template, request, session as cookie, url_for
from flask_babel import gettext as _

from greenshield import db
from greenshield.context import settings
from greenshield.auth import services
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, public
from greenshield.extensions import limiter

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: settings().login_rate_limit, methods=["POST"])
@public
def login():
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    session = db.session()
    try:
        user = services.sign_in(session, username, password,
                                max_failures=settings().login_max_failures,
                                lock_minutes=settings().login_lock_minutes)
    except services.SignInRefused as exc:
        session.commit()  # keep the failure count even though the response is an error
        message = (_("This account is locked after repeated failures; try again later or ask an administrator.")
                   if exc.reason == "locked" else _("Wrong username or password."))
        return render_template("auth/login.html", error=message, next=request.form.get("next", ""),
                               username=username), 401
    lang = cookie.get("lang")
    cookie.clear()  # a fresh session at every sign-in
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    cookie.update(uid=user.id, auth=now, seen=now, pw=user.password_hash[-16:])
    if lang:
        cookie["lang"] = lang
    cookie.permanent = False
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@allow(Capability.SIGN_IN)
def logout():
    lang = cookie.get("lang")
    cookie.clear()
    if lang:
        cookie["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code):
    if code in current_app.config["LANGUAGES"]:
        cookie["lang"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer and
                               request.referrer.replace(request.host_url, "/", 1)))
