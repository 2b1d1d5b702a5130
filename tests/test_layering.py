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
