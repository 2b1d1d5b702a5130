"""Health, OpenAPI, error shapes and the UI languages."""
from __future__ import annotations


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_openapi_document_lists_routes_and_the_error_shape(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/outlets" in spec["paths"] and "post" in spec["paths"]["/api/v1/outlets"]
    assert "error" in spec["components"]["schemas"]["Error"]["properties"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_unknown_api_route_gets_the_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    wrong_method = client.put("/api/v1/outlets")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["code"] == "method_not_allowed"


def test_ui_is_chinese_by_default_and_english_on_request(client, make_user, login):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page
    client.post("/lang/en", data={"next": "/login"})
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    english_browser = client.application.test_client()
    assert "Sign in" in english_browser.get("/login", headers={"Accept-Language": "en-GB,en"}).get_data(as_text=True)


def test_navigation_follows_the_role(client, make_user, login):
    login(client, make_user("admin"))
    assert "/registry/outlets" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    login(client, make_user("investigator"))
    assert "/registry/outlets" not in client.get("/").get_data(as_text=True)


def test_html_error_page_for_browsers(client, make_user, login):
    login(client, make_user("investigator"))
    response = client.get("/registry/outlets", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "<html" in response.get_data(as_text=True)


def test_every_ui_string_has_a_chinese_translation():
    from pathlib import Path

    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1] / "greenshield"
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    used = {message for _, _, message, _, _ in extract_from_dir(str(root), method_map, keywords=keywords)}
    used = {m if isinstance(m, str) else m[0] for m in used}
    with open(root / "translations" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as f:
        translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string if isinstance(m.string, str) else
                      all(m.string) for m in read_po(f) if m.id}
    missing = sorted(m for m in used if not translated.get(m))
    assert missing == [], "run `make i18n` and translate these in the zh catalog"
