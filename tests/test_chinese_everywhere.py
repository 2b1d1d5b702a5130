"""Chinese everywhere (issue 13): every error code's message and every page of every role, rendered in zh-CN, has
no English sentence and no raw key.

The page test builds a demo province (``seed-demo``), adds what the demo lacks (an approved case, its traces, an
upload with bad rows), then signs in as each role and crawls: the navigation, every link of every page reached
(one page per URL shape, so 300 outlets are not 300 pages), and the error pages (403/404). It reads what a person
reads — the text and the attributes people see (title, placeholder, aria-label, alt, button values) — and
fails, naming the page, on:

- an English phrase: two or more English words in a row, or one word that is not a code (``SF``, ``CSV``, a
  waybill ``SF1234567890``, a number);
- a raw key: ``snake_case`` words (``days_below_threshold``) or an enum's value (``sorting_centre``, ``ok``).

Text inside ``<code>`` is meant for machines (the column keys of the upload page) and is not read, nor is text
marked as a code (``class="code"``: a username beside the person's name).
"""
from __future__ import annotations

import html
import re
import tempfile
from pathlib import Path
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from sqlalchemy import select

from greenshield.errors import MESSAGES, message
from models import User

# Words that may appear in Chinese text: file formats, standards, units, brands and codes as people write them.
ALLOWED_WORDS = {
    "csv", "xlsx", "xls", "json", "jsonl", "lines", "utf", "gbk", "gb18030", "iso", "gb", "t", "pdf", "png", "jpeg",
    "jpg", "tiff", "zip", "gzip", "bzip", "xlsb", "office", "opendocument", "excel", "wps", "x", "id", "api", "url", "https", "http", "sha", "hmac", "mib", "kb", "mb",
    "roc", "auc", "tip", "ai", "ok", "pm", "am", "hh", "mm", "ss", "yyyy", "dd", "ems", "sf", "zto", "yto", "sto",
    "yd", "jd", "jt", "bearer", "token", "true", "false", "y", "n", "h", "m", "s",
    "cron", "english", "manifest",  # manifest.csv: the file an X-ray import names its images in  # a format name; the language switch names the language in itself
    "nuctech", "rapiscan", "smiths", "heimann", "detection",  # X-ray machine makers in model names
}
CODE_LIKE = re.compile(r"\b[A-Za-z]+[-:][0-9][\w.\-]*")  # versions and codes: procedural-1, v2-3
HEX = re.compile(r"\b[0-9a-f]{8,}\b|[0-9a-f]{4,}…|…[0-9a-f]{4,}")  # hashes and their shortened forms
WORD = re.compile(r"[A-Za-z][A-Za-z']*")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
PHRASE = re.compile(r"[A-Za-z]{2,}(?:[ ,'\-]+[A-Za-z]{2,})+")
SKIP_TAGS = {"script", "style", "code", "noscript"}
VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col", "area", "base", "embed", "param", "track"}
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}


class _Text(HTMLParser):
    """What a person reads on a page: text outside script, style and code, and the attributes they see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0
        self._skipping: list[str | None] = []  # open elements inside a skipped one (None) or skipped (tag)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in SKIP_TAGS or (tag == "span" and "code" in (attrs.get("class") or "").split()):
            self._skip += 1
            self._skipping.append(tag)
        elif self._skipping and tag not in VOID:
            self._skipping.append(None)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in READ_ATTRIBUTES:
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._skipping and tag not in VOID:
            if self._skipping.pop() is not None:
                self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data)


def english_in(text: str) -> list[str]:
    """The English phrases and raw keys in ``text`` (empty when it reads as Chinese)."""
    text = CODE_LIKE.sub(" ", HEX.sub(" ", text))
    found = [m.group(0) for m in SNAKE.finditer(text)]
    for phrase in PHRASE.finditer(text):
        words = [w for w in WORD.findall(phrase.group(0)) if not w.isupper()]  # upper case: codes (BT-YD-SC)
        if len([w for w in words if w.lower() not in ALLOWED_WORDS]) >= 2:
            found.append(phrase.group(0))
    for word in WORD.findall(text):
        if word.lower() in ALLOWED_WORDS or word.isupper() or len(word) < 3:
            continue
        if not any(word in f for f in found):
            found.append(word)
    return found


def readable(page: str) -> tuple[list[str], list[str]]:
    parser = _Text()
    parser.feed(page)
    return parser.parts, parser.links


# --- every error code ---------------------------------------------------------------------------------------

_PARAMS = {"code": "HHHT-EMS-001", "codes": ["HHHT-EMS-001", "BT-SF-002"], "username": "王芳", "value": "SF-001",
           "columns": ["运单号", "收寄时间"], "min": 8, "max": 32, "max_mib": 50,
           "size_mib": 60.5, "limit_mib": 50.0, "line": 3, "row": 7, "encoding": "UTF-8", "id": 12,
           "version": "v3", "category": 20, "item": "制度上墙", "items": ["制度上墙", "视频监控"], "available": 2,
           "wanted": 3, "audits": 3, "per_audit": 2, "needed": 6, "free": 2, "outlet": "HHHT-EMS-001",
           "case_no": "公(刑)2026-001", "fields": ["运单号", "手机号"], "max_days": 31, "reason": "403",
           "message": "—", "first_row": 2, "minutes": 10, "header": "备注", "max_pixels": "40000000",
           "waybill_no": "SF1234567890", "width": 20000, "height": 20000, "date": "2026-12-07", "today": "2026-12-06",
           "max_megapixels": 50, "seq": 41, "before": 40, "next": 43, "file": "checkpoint-000040.json", "first": 41, "last": 60, "after": 40}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_error_code_reads_in_chinese(app, code):
    if code == "legacy":
        return  # an English sentence stored before codes existed, shown as it was
    names = set(re.findall(r"%\((\w+)\)", str(MESSAGES[code].message._args[0])))
    params = {**{name: 7 for name in names}, **{k: v for k, v in _PARAMS.items() if k in names}}
    with app.test_request_context(headers={"Accept-Language": "zh-CN,zh"}):
        text = message(code, params, column="waybill_no")
        english = message(code, params, "en", column="waybill_no")
    assert "%(" not in text, f"{code}: a parameter is not filled: {text}"
    assert text != english or not english_in(english), f"{code} has no Chinese message: {text}"
    assert not english_in(text), f"{code}: English in its Chinese message: {text} -> {english_in(text)}"


def test_the_detector_sees_english_and_keys_and_allows_codes():
    assert english_in("Missing data for required field.")
    assert english_in("风险因素 days_below_threshold: 28")
    assert english_in("网点类型 sorting")
    assert english_in("应检日期 Due")
    assert not english_in("运单号 SF1234567890 在 HHHT-EMS-001 的第 7 行；文件格式 CSV、XLSX；99.80%")
    assert not english_in("2026-12-06 09:15 · EMS 中国邮政 · 第 3 页")


# --- every page of every role -------------------------------------------------------------------------------

SKIP_LINK = re.compile(r"^/(?:api/|static/|logout|lang/|login)|format=|/image|/heatmap|/photos/|/export|\.pdf\b"
                       r"|/download")
MAX_PAGES = 160
VISITED: list[str] = []  # "status path" of every page fetched, for the record (and for debugging the crawl)


def _shape(path: str) -> str:
    """A URL's shape: numbers and codes replaced, so that one outlet's page stands for all outlets'."""
    path, _, query = path.partition("?")
    path = re.sub(r"/[0-9]+(?=/|$)", "/#", path)
    path = re.sub(r"/[A-Z0-9][A-Z0-9_\-]{3,}(?=/|$)", "/@", path)
    keys = sorted(part.split("=")[0] for part in query.split("&") if part)
    if "page" in keys or "date" in keys or "from" in keys:
        keys = [k for k in keys if k not in ("page", "date", "from", "to")] + ["…"]
    return path + "?" + "&".join(keys)


def crawl(client, start: list[str]) -> dict[str, list[str]]:
    """Follow links from ``start``; returns {path: problems} of the pages with English or raw keys."""
    queue, seen_shapes, problems, visited = list(start), set(), {}, 0
    while queue and visited < MAX_PAGES:
        path = queue.pop(0)
        shape = _shape(path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9", "Accept": "text/html"})
        visited += 1
        VISITED.append(f"{response.status_code} {path}")
        if response.status_code in (301, 302, 303):
            queue.append(urlsplit(response.headers["Location"]).path)
            continue
        if "html" not in response.mimetype:
            continue
        page = response.get_data(as_text=True)
        assert response.status_code < 500, f"{path}: {response.status_code}"
        parts, links = readable(page)
        found = sorted({e for part in parts for e in english_in(html.unescape(part))})
        if found:
            problems[path] = found
        for link in links:
            link = urldefrag(link)[0]
            if link.startswith("/") and not SKIP_LINK.search(link):
                queue.append(link)
    return problems


@pytest.fixture
def demo_province(runner, session, client, bearer):
    """The demo province, an approved case with traces (the access log, the case's pages), a batch with bad rows."""
    result = runner.invoke(args=["seed-demo", "--days", "3"])
    assert result.exit_code == 0, result.output
    users = {u.username: u for u in session.scalars(select(User))}
    investigator, auditor = bearer(users["investigator"]), bearer(users["auditor"])
    case = client.post("/api/v1/cases", json={"case_no": "公(刑)2026-013", "agency": "呼和浩特市公安局",
                                             "legal_basis": "《刑事诉讼法》第一百四十四条", "purpose": "调查",
                                             "valid_until": "2099-12-31"}, headers=investigator).get_json()
    client.post(f"/api/v1/cases/{case['id']}/approve", headers=auditor)
    client.post("/api/v1/trace", json={"case_no": "公(刑)2026-013", "sender_phone": "13812345678"},
                headers=investigator)
    manager = bearer(users["manager"])
    bad = ("运单号,收寄时间,物品名称,数量,备注\r\nSF20261206001,2026-12-01 09:00:00,衣服,0,x\r\n"
           "SF20261206001,2099-12-01 09:00:00,书,1,y\r\n").encode()
    import io

    client.post("/api/v1/outlets/HHHT-EMS-001/daily-logs", data={"file": (io.BytesIO(bad), "收寄日志.csv")},
                headers=manager, content_type="multipart/form-data")
    return users


ROLES = ["admin", "inspector", "inspector_bt", "manager", "investigator", "auditor"]
START = ["/", "/no-such-page", "/registry/users?kind=nothing", "/audits/plans/1", "/audits/plans/2",
         "/dashboard/?date=2000-01-01", "/access-log?from=yesterday"]
# Forms sent wrong, as people do: each answer (the form again with its messages) must read in Chinese too.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
FAILING_FORMS = {
    "admin": [("/registry/outlets/new", {"code": "x"}), ("/registry/staff/new", {"role": "screener"}),
              ("/registry/xray-machines/new", {"code": "HHHT-EMS-001-X9", "outlet_code": "HHHT-EMS-001",
                                               "model": "同方威视", "installed_on": "2099-01-01"}),
              ("/registry/contract-customers/new", {"code": "CC-1", "credit_code": "91150100", "filed_on": "x"}),
              ("/upload", {"outlet": "HHHT-EMS-001"}),
              ("/upload", {"outlet": "HHHT-EMS-001", "file": (PDF, "日志.csv")}),
              ("/audits/plan", {})],
    "inspector": [("/audits/plan", {"outlets": "0"}), ("/trace", {})],
    "manager": [("/upload", {"outlet": "HHHT-EMS-001", "file": (b"", "空.csv")}), ("/orders", {"order_id": "0"})],
    "investigator": [("/cases/new", {}), ("/trace", {"case_no": "无此案"})],
    "auditor": [("/cases/1/refuse", {})],
}


def _post(client, path: str, form: dict):
    import io

    data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
    return client.post(path, data=data, content_type="multipart/form-data",
                       headers={"Accept-Language": "zh-CN,zh;q=0.9", "Accept": "text/html"})


def test_every_page_of_every_role_reads_in_chinese(app, demo_province, login):
    report = {}
    for username in ROLES:
        client = app.test_client()
        login(client, demo_province[username])
        problems = crawl(client, START)
        for path in ("/registry/outlets?kind=outlets", "/xray/review", "/access-log", "/audits", "/cases"):
            response = client.get(path, headers={"Accept": "text/html"})
            if response.status_code == 403:  # the refusal page of a role, in Chinese too
                found = sorted({e for part in readable(response.get_data(as_text=True))[0] for e in english_in(part)})
                if found:
                    problems[f"403 {path}"] = found
        for path, form in FAILING_FORMS.get(username, []):
            response = _post(client, path, form)
            VISITED.append(f"{response.status_code} POST {path}")
            assert response.status_code < 500, f"POST {path}: {response.status_code}"
            found = sorted({e for part in readable(response.get_data(as_text=True))[0]
                            for e in english_in(html.unescape(part))})
            if found:
                problems[f"POST {path} {sorted(form)}"] = found
        if problems:
            report[username] = problems
    Path(tempfile.gettempdir(), "greenshield-pages-visited.txt").write_text("\n".join(VISITED))
    lines = [f"{user} {path}: {found}" for user, pages in report.items() for path, found in pages.items()]
    Path(tempfile.gettempdir(), "greenshield-english-pages.txt").write_text("\n".join(lines))
    assert not report, "\n".join(lines)
