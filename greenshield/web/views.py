"""Home page and health check."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, public

bp = Blueprint("web", __name__)


@bp.route("/")
@allow(Capability.SIGN_IN)
def home():
    return render_template("home.html")


@bp.route("/healthz")
@public
def healthz():
    """``{"status": "ok"}`` when the database answers, else 503."""
    try:
        db.session().execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the database is unreachable
        return jsonify({"status": "unavailable", "error": type(exc).__name__}), 503
    return jsonify({"status": "ok"})
