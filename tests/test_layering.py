"""The arrows point one way: greenshield -> audits, inspection -> models."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "models": {"greenshield", "inspection", "audits", "flask"},
    "inspection": {"greenshield", "audits", "flask", "flask_babel", "flask_smorest", "flask_wtf", "flask_limiter"},
    "audits": {"greenshield", "flask", "flask_babel", "flask_smorest", "flask_wtf", "flask_limiter"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downward(package):
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (REPO / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from flask import g\nimport greenshield.db\n")
    assert imported_roots(bad) & FORBIDDEN["inspection"] == {"flask", "greenshield"}


def test_importing_the_app_package_has_no_side_effects():
    import subprocess
    import sys

    code = ("import sys, greenshield, greenshield.cli; "
            "bad = [m for m in ('apscheduler.schedulers.background', 'sklearn', 'cv2', 'psycopg') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


# The shell: views, API modules, the CLI, the app factory and the modules that read the request for them.
SHELL = {"__init__.py", "views.py", "api.py", "cli.py", "web.py", "context.py", "extensions.py", "errors.py",
         "db.py", "observability.py", "policy.py", "navigation.py"}
REQUEST_GLOBALS = {"request", "g", "current_app", "session", "has_request_context", "test_request_context"}


def request_globals_used(path: Path) -> set[str]:
    """Names of the request and app globals a module imports from Flask or calls (``test_request_context``)."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask.globals"):
            used |= {alias.name for alias in node.names} & REQUEST_GLOBALS
        elif isinstance(node, ast.Attribute) and node.attr == "test_request_context":
            used.add("test_request_context")
    return used


def test_services_queries_and_jobs_take_their_context_as_arguments():
    offenders = {
        str(path.relative_to(REPO)): sorted(used)
        for path in (REPO / "greenshield").rglob("*.py")
        if path.name not in SHELL and (used := request_globals_used(path))
    }
    assert offenders == {}


def test_the_request_check_catches_a_service_that_reads_the_request(tmp_path):
    bad = tmp_path / "services.py"
    bad.write_text("from flask import current_app, g\n\ndef f(app):\n    with app.test_request_context():\n        pass\n")
    assert request_globals_used(bad) == {"current_app", "g", "test_request_context"}
