"""Registers every feature's API blueprint on the flask-smorest Api (and so in the OpenAPI document)."""
from __future__ import annotations

from flask_smorest import Api


def register(api: Api) -> None:
    from greenshield.auth.api import blp as accounts
    from greenshield.audits.api import blp as audits
    from greenshield.compliance.api import blp as compliance
    from greenshield.incidents.api import blp as incidents
    from greenshield.ingest.api import blp as ingest
    from greenshield.penalties.api import blp as penalties
    from greenshield.registry.api import blp as registry
    from greenshield.trace.api import blp as trace
    from greenshield.work.api import blp as work
    from greenshield.xray.api import blp as xray

    for blueprint in (accounts, registry, ingest, compliance, audits, penalties, incidents, xray, trace,
                      work):
        api.register_blueprint(blueprint)
