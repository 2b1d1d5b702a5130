"""The browser side: page blueprints, template helpers and the health check."""
from __future__ import annotations

from flask import Flask, g
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from greenshield.auth.permissions import can


def init_app(app: Flask) -> None:
    from greenshield.audits.views import bp as audit_pages
    from greenshield.auth.views import bp as auth
    from greenshield.compliance.views import bp as dashboard
    from greenshield.ingest.views import bp as ingest
    from greenshield.penalties.views import bp as penalty_pages
    from greenshield.registry.views import bp as registry
    from greenshield.trace.views import bp as trace_pages
    from greenshield.web import labels
    from greenshield.web.navigation import nav_items, role_label
    from greenshield.web.views import bp as web
    from greenshield.xray.views import bp as xray_pages

    for blueprint in (web, auth, dashboard, ingest, audit_pages, penalty_pages, xray_pages, trace_pages, registry):
        app.register_blueprint(blueprint)
    labels.register(app)

    @app.context_processor
    def _template_globals():
        user = g.get("user")
        return {"current_user": user, "csrf_token": generate_csrf, "can": lambda *caps: can(user, *caps),
                "locale": str(get_locale() or "zh"),
                "nav_items": nav_items, "role_label": role_label}
