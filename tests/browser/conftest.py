"""A real server (``greenshield serve``) on its own demo database, and a real browser (Debian's Chromium
driven by Playwright) to use it as people do."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GREENSHIELD = str(Path(sys.executable).parent / "greenshield")
PASSWORDS = {"admin": "Demo-admin-2026", "inspector": "Demo-inspector-2026", "inspector2": "Demo-inspector-2026",
             "inspector_bt": "Demo-inspector-2026", "manager": "Demo-manager-2026",
             "investigator": "Demo-investigator-2026", "auditor": "Demo-auditor-2026"}
SCREENSHOTS = Path(os.environ.get("GREENSHIELD_SCREENSHOTS") or Path(tempfile.gettempdir()) / "greenshield-screenshots")
"""Where journeys keep screenshots; `GREENSHIELD_SCREENSHOTS=docs/screenshots make test` refreshes the README's."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("GREENSHIELD_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and GREENSHIELD_REQUIRE_BROWSER is set")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, chromium_path):
    """``greenshield serve`` with two workers on a demo province (a few days of logs), on SQLite or PostgreSQL."""
    from sqlalchemy import create_engine, text

    from greenshield.db import normalise_url

    folder = tmp_path_factory.mktemp("live")
    base = os.environ.get("TEST_DATABASE_URL")
    scratch = None
    if base:
        scratch = f"gs_live_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = base.rsplit("/", 1)[0] + "/" + scratch
    else:
        url = f"sqlite:///{folder / 'live.db'}"
    env = {**os.environ, "GREENSHIELD_INSTANCE": str(folder / "instance"), "DATABASE_URL": url}
    for args in (["init-db"], ["seed-demo", "--days", "4"]):
        done = subprocess.run([GREENSHIELD, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    port = _free_port()
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([GREENSHIELD, "serve", "--plain-http", "--port", str(port), "--workers", "2"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    url_base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url_base + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                log.close()
                raise RuntimeError((folder / "server.log").read_text()[-3000:]) from None
            time.sleep(0.3)
    yield {"url": url_base, "env": env}
    server.terminate()
    server.wait(timeout=30)
    log.close()
    if scratch:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def sign_in(browser, live_server):
    """``sign_in(username)`` -> a page signed in as that demo user (Chinese UI, laptop-sized window)."""
    contexts = []

    def open_as(username: str, *, locale: str = "zh-CN"):
        context = browser.new_context(viewport={"width": 1366, "height": 860}, locale=locale, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(live_server["url"] + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORDS[username])
        page.click("#sign-in")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, page.content()[:500]
        return page

    yield open_as
    for context in contexts:
        context.close()


def shoot(page, name: str) -> None:
    """Keep a screenshot of a key page for the README (docs/screenshots, or GREENSHIELD_SCREENSHOTS)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def cli(live_server, *args: str) -> str:
    done = subprocess.run([GREENSHIELD, *args], env=live_server["env"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
