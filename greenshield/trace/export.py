"""Evidence export: a case's parcel chains as CSV and JSON (for machines) and as an XLSX workbook (for people:
Chinese headers, China time, 是/否, ID types by name), X-ray images and heat maps, the case's access-log entries
(JSON and XLSX), and a manifest of SHA-256 sums of every one of these files (signed with the access log's
checkpoint key), in one zip file."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greenshield.trace.accesslog import hashed_fields
from inspection.columns import COLUMNS

FORMAT = "greenshield-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_IDENTITY = ("waybill_no", "version", "is_current", "outlet_code")
CSV_COLUMNS = (*_IDENTITY, *(key for key in COLUMNS if key not in _IDENTITY), "real_name_compliant",
               "batch_id", "row", "stored_at", "xray_event_ids")
"""records.csv: which version of which item, every column of the daily log, then what the system added."""
LOG_FIELDS = ("seq", "at", "user_id", "username", "role", "agency", "action", "case_no", "query_type", "subject_hash",
              "result_count", "outcome", "client_addr", "request_id", "prev_hash", "entry_hash")


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, default=_json_default).encode()


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (``'`` in front, as the daily-log error CSV does)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def records_csv(chains: list[dict]) -> bytes:
    """Every version of every item, one row each, for Excel (UTF-8 with BOM)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for chain in chains:
        events = ";".join(str(e["id"]) for e in chain["xray_events"])
        for version in chain["versions"]:
            row = {**version, "batch_id": version["source"]["batch_id"], "row": version["source"]["row"],
                   "xray_event_ids": events}
            writer.writerow([safe_cell(row.get(column)) for column in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def _records_sheet(chains: list[dict]) -> tuple[list[str], list[list]]:
    from flask_babel import gettext as _

    from greenshield.web.labels import column_label
    from inspection.identity import ID_TYPES

    extra = {"version": _("Version"), "is_current": _("Current version"), "real_name_compliant": _("Real-name compliant"),
             "batch_id": _("Upload batch"), "row": _("Row in the file"), "stored_at": _("Stored at"),
             "xray_event_ids": _("X-ray events")}
    header = [extra.get(c) or column_label(c) for c in CSV_COLUMNS]
    rows = []
    for chain in chains:
        events = "、".join(str(e["id"]) for e in chain["xray_events"])
        for version in chain["versions"]:
            row = {**version, "batch_id": version["source"]["batch_id"], "row": version["source"]["row"],
                   "xray_event_ids": events}
            id_type = ID_TYPES.get(row.get("sender_id_type") or "")
            if id_type is not None:
                row["sender_id_type"] = id_type.name_zh
            rows.append([_when(row.get(c)) for c in CSV_COLUMNS])
    return header, rows


def _when(value):
    """An ISO 8601 text time (as JSON has it) as a datetime, so that the sheet shows it in China time."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def records_xlsx(chains: list[dict]) -> bytes:
    """The records of ``records.csv`` for people: headers in the reader's language, China time, 是/否."""
    from flask_babel import gettext as _

    from greenshield.spreadsheets import xlsx_bytes

    header, rows = _records_sheet(chains)
    return xlsx_bytes(header, rows, title=_("Records"))


def access_log_xlsx(entries: list[dict]) -> bytes:
    """The case's access-log entries for people (``access_log.json`` stays the one to re-check hashes with)."""
    from flask_babel import gettext as _

    from greenshield.spreadsheets import xlsx_bytes
    from greenshield.web.labels import ACTION_LABELS, QUERY_TYPE_LABELS, label, outcome_label
    from greenshield.web.navigation import role_label

    header = [_("Seq"), _("Time"), _("User"), _("Role"), _("Agency"), _("Action"), _("Case no."), _("Query"),
              _("Results"), _("Outcome"), _("Client"), _("Entry hash")]
    rows = [[e["seq"], _when(e["at"]), e["username"], role_label(e["role"]), e["agency"],
             label(ACTION_LABELS, e["action"]), e["case_no"], label(QUERY_TYPE_LABELS, e["query_type"]),
             e["result_count"], outcome_label(e["outcome"]), e["client_addr"], e["entry_hash"]] for e in entries]
    return xlsx_bytes(header, rows, title=_("Access log"))


def log_entries(entries: Iterable) -> list[dict]:
    """Access-log entries with everything needed to re-check each one's hash."""
    return [{**hashed_fields(e), "prev_hash": e.prev_hash, "entry_hash": e.entry_hash} for e in entries]


def write_export(stream: BinaryIO, *, case: dict, chains: list[dict], entries: list[dict],
                 media: Iterable[tuple[str, bytes]], generated_by: str, key: Ed25519PrivateKey,
                 unavailable: list[str]) -> dict:
    """Write the zip to ``stream`` and return its manifest.

    Files: ``records.csv``, ``records.json``, ``records.xlsx``, ``xray/*`` (images and heat maps that still
    exist), ``access_log.json``, ``access_log.xlsx``, then ``manifest.json`` (name, size and SHA-256 of every
    other file) and ``manifest.sig`` (Ed25519 signature of the manifest's bytes, base64: it covers the manifest,
    which covers everything else).
    """
    files: list[dict] = []
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            archive.writestr(name, data)
            files.append({"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})

        add("records.csv", records_csv(chains))
        add("records.json", to_json({"case": case, "count": len(chains), "results": chains}))
        add("records.xlsx", records_xlsx(chains))
        for name, data in media:
            add(name, data)
        add("access_log.json", to_json(entries))
        add("access_log.xlsx", access_log_xlsx(entries))
        manifest = {"format": FORMAT, "case": case, "generated_at": dt.datetime.now(dt.timezone.utc),
                    "generated_by": generated_by, "results": len(chains),
                    "access_log_entry": entries[-1] if entries else None, "unavailable": unavailable,
                    "files": files}
        body = to_json(manifest)
        archive.writestr(MANIFEST, body)
        archive.writestr(SIGNATURE, base64.b64encode(key.sign(body)) + b"\n")
    return manifest


def verify_export(path: str | Path, public_key: Ed25519PublicKey | None = None) -> list[str]:
    """What is wrong with an export zip: files missing, changed or added against the manifest, and, with
    ``public_key``, a manifest whose signature does not hold. An empty list means it is intact."""
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return [f"{MANIFEST} is missing"]
        body = archive.read(MANIFEST)
        manifest = json.loads(body)
        listed = {f["name"]: f for f in manifest.get("files", [])}
        for name, entry in listed.items():
            if name not in names:
                problems.append(f"{name} is listed in the manifest but missing")
            elif hashlib.sha256(archive.read(name)).hexdigest() != entry["sha256"]:
                problems.append(f"{name} does not match its SHA-256 in the manifest")
        for name in sorted(names - set(listed) - {MANIFEST, SIGNATURE}):
            problems.append(f"{name} is not in the manifest")
        if public_key is not None:
            try:
                public_key.verify(base64.b64decode(archive.read(SIGNATURE)), body)
            except KeyError:
                problems.append(f"{SIGNATURE} is missing")
            except (InvalidSignature, ValueError):
                problems.append(f"{SIGNATURE} does not match {MANIFEST}")
    return problems
