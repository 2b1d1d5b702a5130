"""What the shell (views, API modules, the CLI) hands to services: the settings, the storage, the caller.

Services take these as arguments and never read ``flask.request``, ``g`` or ``current_app`` themselves
(``tests/test_layering.py`` holds them to it); this module is where the request and the app are read instead.
"""
from __future__ import annotations

import re
import uuid

from flask import Flask, current_app, g, request

from greenshield import storage as storages
from greenshield.settings import Settings
from greenshield.trace.accesslog import Actor, Checkpointer

SETTINGS = "greenshield.settings"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def init_app(app: Flask) -> None:
    """Build the settings once, from the app's configuration."""
    app.extensions[SETTINGS] = Settings.from_config(app.config)


def settings_of(app: Flask) -> Settings:
    return app.extensions[SETTINGS]


def settings() -> Settings:
    """The running app's settings."""
    return current_app.extensions[SETTINGS]


def storage() -> storages.Storage:
    """The running app's file storage."""
    return storages.of(settings())


def actor() -> Actor:
    """The caller of this request, as the access log records them (one per request)."""
    if "actor" not in g:
        g.actor = Actor(user=g.get("user"), client_addr=request.remote_addr, request_id=request_id(),
                        checkpointer=Checkpointer.of(settings()))
    return g.actor


def request_id() -> str:
    """The caller's ``X-Request-ID`` when it is a sane token (1-64 of ``[A-Za-z0-9._-]``), else a new one.

    Kept in ``g.request_id`` for the rest of the request; echoed in the response's ``X-Request-ID``.
    """
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id
