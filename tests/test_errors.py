"""One error vocabulary: every code the code raises has one entry (status and message) in greenshield.errors, every
message exists in Simplified Chinese and English, and the API answers in the caller's language with a stable code."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from greenshield import errors
from greenshield.errors import MESSAGES, message, status_of
from models.errors import DomainError, NotFound

REPO = Path(__file__).resolve().parents[1]
RAISERS = {"DomainError", "NotFound", "Conflict", "Invalid", "Forbidden", "Unauthenticated", "DrawImpossible",
           "InvalidLogFile", "InvalidIdentity", "StorageUnavailable"}
PLACEHOLDER = re.compile(r"%\((\w+)\)")
CJK = re.compile(r"[\u4e00-\u9fff]")


def raised_codes() -> tuple[set[str], set[str]]:
    """The literal codes passed to the domain's errors in the source, and the prefixes of f-string codes."""
    codes, prefixes = set(), set()
    for package in ("greenshield", "audits", "inspection"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name not in RAISERS:
                    continue
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    codes.add(first.value)
                elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                    prefixes.add(first.values[0].value)
    return codes, prefixes


def test_every_raised_code_has_an_entry():
    codes, prefixes = raised_codes()
    assert codes, "the scan found no raise at all"
    assert sorted(code for code in codes if code not in MESSAGES) == []
    assert sorted(p for p in prefixes if not any(key.startswith(p) for key in MESSAGES)) == []


def test_the_scan_sees_a_code_missing_from_the_table(tmp_path, monkeypatch):
    (tmp_path / "greenshield").mkdir()
    (tmp_path / "greenshield" / "x.py").write_text('raise NotFound("not_found.nothing_like_this")\n')
    for package in ("audits", "inspection"):
        (tmp_path / package).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert raised_codes()[0] == {"not_found.nothing_like_this"}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_message_reads_in_chinese_and_english(app, code):
    params = {name: 7 for name in PLACEHOLDER.findall(str(MESSAGES[code].message._args[0]))}
    with app.app_context():
        zh, en = message(code, params, locale="zh"), message(code, params, locale="en")
    assert "%(" not in zh and "%(" not in en
    if not re.fullmatch(r"%\(\w+\)s", MESSAGES[code].message._args[0]):  # a stored sentence, shown as it is
        assert CJK.search(zh) and zh != en, f"{code} has no Chinese translation: {zh}"
    assert 400 <= status_of(code) < 600


def test_api_code_is_the_code_up_to_its_first_dot():
    assert NotFound("not_found.outlet", code="X").api_code == "not_found"
    assert DomainError("missing_columns").api_code == "missing_columns"
    assert status_of("not_found.outlet") == 404 and status_of("case_pending") == 403
    assert status_of("unsupported_format.image") == 422 and status_of("unsupported_format.log_file") == 415


def test_api_answers_in_the_callers_language_with_a_stable_code(client, make_user, bearer):
    headers = bearer(make_user("admin"))
    chinese = client.get("/api/v1/outlets/NOPE-404", headers=headers).get_json()["error"]
    english = client.get("/api/v1/outlets/NOPE-404", headers={**headers, "Accept-Language": "en"}).get_json()["error"]
    assert chinese["code"] == english["code"] == "not_found"
    assert chinese["message"] == "没有编码为 NOPE-404 的网点。"
    assert english["message"] == "There is no outlet NOPE-404."


def test_field_errors_are_shown_beside_their_field(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert errors.form_errors(errors.Invalid("validation_error.too_long", field="sender_name", max=64)) == {
            "sender_name": ['"Sender name" is longer than 64 characters.']}
        assert errors.form_errors(errors.Conflict("conflict.order_closed")) == {
            "_": ["This rectification order is closed."]}


def test_an_unknown_code_falls_back_to_its_api_codes_message_and_is_logged(app, caplog):
    with app.app_context():
        assert message("not_found.something_new", locale="en") == "Nothing was found at this address."
    assert "not_found.something_new" in caplog.text
