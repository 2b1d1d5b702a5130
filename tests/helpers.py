"""Helpers shared by the test modules: daily-log rows and uploads, X-ray scans, real HTTP requests, cases and
traces. (Shared fixtures live in tests/conftest.py.)"""
from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import socket

import cv2
import numpy as np

from inspection import synth
from inspection.identity import gb11643_check_char
from models.base import CHINA, china_today as today

TRUE_WORDS = ("是", "y", "yes", "true", "1")

# --- daily logs ---------------------------------------------------------------------------------------------

DAY = dt.date(2025, 3, 10)


def resident_id(seq: int, *, area: str = "150102", birth: str = "19900307") -> str:
    """A valid GB 11643 resident ID with sequence code ``seq`` (1-999)."""
    body = f"{area}{birth}{seq:03d}"
    return body + gb11643_check_char(body)


def log_row(waybill: str, *, day: dt.date = DAY, at: str = "10:00:00", **values: str) -> dict[str, str]:
    """One valid, compliant daily-log row; keyword arguments override columns."""
    row = {"waybill_no": waybill, "collected_at": f"{day} {at}", "sender_name": "张伟",
           "sender_id_type": "RESIDENT_ID", "sender_id_no": resident_id(1), "sender_phone": "13812345678",
           "item_name": "羊绒衫", "quantity": "1", "real_name_verified": "是", "inspected": "是",
           "xray_screened": "是"}
    row.update(values)
    return row


def csv_bytes(rows: list[dict[str, str]], *, encoding: str = "utf-8", headers: str = "en") -> bytes:
    """Rows as a CSV file, header from the first row's keys (English keys or Chinese aliases)."""
    keys = list(rows[0])
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([synth.ZH_ALIASES[k] if headers == "zh" else k for k in keys])
    for row in rows:
        writer.writerow([row.get(k, "") for k in keys])
    return text.getvalue().encode(encoding)


def upload(client, headers: dict, code: str, data: bytes, *, filename: str = "log.csv", strict: bool | None = None):
    form = {"file": (io.BytesIO(data), filename)}
    if strict is not None:
        form["strict"] = "true" if strict else "false"
    return client.post(f"/api/v1/outlets/{code}/daily-logs", data=form, headers=headers,
                       content_type="multipart/form-data")


def upload_rows(client, headers: dict, code: str, rows: list[dict[str, str]], **kwargs) -> dict:
    """Upload rows as CSV and return the batch body (asserting it was stored as a new batch)."""
    response = upload(client, headers, code, csv_bytes(rows), **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def truthy(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def local_day(collected_at: str) -> dt.date:
    """The collection day of a synth timestamp ('YYYY-MM-DD HH:MM:SS' or 'YYYY/MM/DD HH:MM', local time)."""
    return dt.date.fromisoformat(collected_at[:10].replace("/", "-"))


# --- X-ray scans --------------------------------------------------------------------------------------------

def png(image: np.ndarray, depth: int = 8) -> bytes:
    scale = 255 if depth == 8 else 65535
    array = np.round(np.clip(image, 0, 1) * scale).astype(np.uint8 if depth == 8 else np.uint16)
    return cv2.imencode(".png", array)[1].tobytes()


def send(client, headers, data: bytes, *, waybill="SF1234567890", at=None, name="scan.png", machine="XR-OUT-01-X1"):
    at = at or dt.datetime(2026, 11, 28, 9, 15, tzinfo=CHINA)
    return client.post("/api/v1/xray-events", headers=headers, data={
        "image": (io.BytesIO(data), name), "machine_code": machine, "waybill_no": waybill,
        "scanned_at": at.isoformat(), "operator_id": "OP-7"})


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature and header chunk: all a photo check reads (it never decodes the pixels)."""
    return (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")
            + b"\x08\x02\x00\x00\x00" + b"\x00" * 4 + b"\x00" * 48)


# --- a served instance --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
            headers: dict | None = None, timeout: float = 300) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


# --- cases and traces ---------------------------------------------------------------------------------------

AGENCY = "呼和浩特市公安局"


def register(client, world, *, case_no: str = "HGA-2026-001", who: str = "investigator", days: int = 30) -> dict:
    body = {"case_no": case_no, "legal_basis": "《刑事诉讼法》第一百四十三条", "purpose": "追查涉案包裹",
            "valid_until": (today() + dt.timedelta(days=days)).isoformat()}
    response = client.post("/api/v1/cases", json=body, headers=world.h[who])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approved_case(client, world, **kwargs) -> dict:
    case = register(client, world, **kwargs)
    response = client.post(f"/api/v1/cases/{case['id']}/approve", headers=world.h["auditor"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def trace(client, world, who: str, **body):
    return client.post("/api/v1/trace", json=body, headers=world.h[who])


# --- Redis ----------------------------------------------------------------------------------------------

def redis_url() -> str:
    """The Redis the tests use (GREENSHIELD_TEST_REDIS, default the local one), or a skip naming why (CI, with
    GREENSHIELD_REQUIRE_REDIS, turns that skip into a failure)."""
    import os

    import pytest
    import redis

    url = os.environ.get("GREENSHIELD_TEST_REDIS", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("GREENSHIELD_REQUIRE_REDIS"):
            pytest.fail(f"Redis is not reachable at {url} and GREENSHIELD_REQUIRE_REDIS is set")
        pytest.skip(f"Redis is not reachable at {url}")
    return url
