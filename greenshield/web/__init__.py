"""The browser side: page blueprints, template helpers, the health check, and the security headers of every
response (and the trusted reverse proxies, whose forwarded client address and scheme are believed)."""
from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from greenshield.auth.permissions import can

CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """This response's script nonce: inline ``<script nonce="{{ csp_nonce() }}">`` runs, injected ones do not."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response: Response) -> Response:
    """``after_request``: no framing, no sniffing, no referrer to other sites, a script policy with a nonce, and
    nothing stored by browsers or proxies (pages and exports carry personal data) except the static files."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def trust_proxies(app: Flask, count: int) -> None:
    """Believe ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port`` as set by ``count`` reverse proxies
    in front (the rightmost ``count`` values; anything a client adds to the left is ignored)."""
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def init_app(app: Flask) -> None:
    from greenshield.admin.views import bp as admin_pages
    from greenshield.audits.views import bp as audit_pages
    from greenshield.auth.views import bp as auth
    from greenshield.compliance.views import bp as dashboard
    from greenshield.context import settings_of
    from greenshield.incidents.views import bp as incident_pages
    from greenshield.ingest.views import bp as ingest
    from greenshield.penalties.views import bp as penalty_pages
    from greenshield.registry.views import bp as registry
    from greenshield.trace.views import bp as trace_pages
    from greenshield.web import labels
    from greenshield.web.navigation import nav_items, role_label
    from greenshield.web.views import bp as web
    from greenshield.work.views import bp as work_pages
    from greenshield.xray.views import bp as xray_pages

    for blueprint in (web, auth, dashboard, ingest, audit_pages, penalty_pages, incident_pages, xray_pages, trace_pages,
                      registry, admin_pages, work_pages):
        app.register_blueprint(blueprint)
    labels.register(app)
    app.after_request(security_headers)
    trust_proxies(app, settings_of(app).trusted_proxies)

    @app.context_processor
    def _template_globals():
        user = g.get("user")
        return {"current_user": user, "csrf_token": generate_csrf, "can": lambda *caps: can(user, *caps),
                "locale": str(get_locale() or "zh"), "csp_nonce": csp_nonce,
                "nav_items": nav_items, "role_label": role_label, "person": person, "region_name": region_name,
                "back_url": back_url}


def _names(key: str, query) -> dict:
    from greenshield import db

    cached = g.get(key)
    if cached is None:
        cached = dict(db.session().execute(query).all())
        setattr(g, key, cached)
    return cached


def person(username: str | None) -> Markup | str:
    """A user shown by name, the username as secondary text (people are named, not keyed)."""
    from models import User

    if not username:
        return ""
    name = _names("_people", select(User.username, User.display_name)).get(username)
    if not name or name == username:
        return username
    return Markup('{} <span class="muted code">{}</span>').format(name, username)


def region_name(code: str | None) -> Markup | str:
    """A region shown by name, its GB/T 2260 code as secondary text."""
    from models import Region

    if not code:
        return ""
    name = _names("_regions", select(Region.code, Region.name)).get(code)
    return Markup('{} <span class="muted">{}</span>').format(name, code) if name else code


def back_url() -> str | None:
    """The page the user came from, when it is one of ours (for "back" links of error pages)."""
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url) and referrer.rstrip("/") != request.url.rstrip("/"):
        return referrer
    return None
