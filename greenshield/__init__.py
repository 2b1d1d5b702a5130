"""GreenShield: the Flask application (factory, configuration, web and API, CLI, services)."""
from __future__ import annotations

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, environment and instance config, then ``config``; extensions; blueprints.

    Importing this package starts nothing: no scheduler, no model loading, no database connection.
    """
    from greenshield.config import instance_path_from_env, load_config

    app = Flask(__name__, instance_path=(config or {}).get("INSTANCE_PATH") or instance_path_from_env(),
                instance_relative_config=True)
    load_config(app, config)

    from greenshield import api_v1, cli, context, db, errors, extensions, jsonprovider, observability, web
    from greenshield.auth import policy

    app.json = jsonprovider.FastJSONProvider(app)

    context.init_app(app)
    observability.init_app(app)
    db.init_app(app)
    api_v1.register(extensions.init_app(app))
    errors.init_app(app)
    app.before_request(policy.enforce)
    app.after_request(observability.remember_user)  # runs before the session is committed and closed
    web.init_app(app)
    cli.register(app)
    return app
