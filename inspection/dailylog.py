"""Daily collection logs (收寄日志): read CSV, XLSX and JSON Lines files and validate their rows.

Streaming and database-free: ``open_daily_log`` looks at the file (format by content, text encoding, header
row) and raises ``InvalidLogFile`` for what makes the whole file unusable; ``DailyLogReader.rows`` then yields
one raw row at a time and ``validate_row`` turns it into a ``LogRecord`` or the list of everything wrong with
it. A file of a million rows never sits in memory at once.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from operator import itemgetter
from time import time as time_now
from typing import TextIO

from inspection.identity import InvalidIdentity, normalise_phone, normalise_text, parse_id_type, validate_id_no

__all__ = [
    "COLUMNS",
    "ROW_ERROR_KEY",
    "Column",
    "DailyLogReader",
    "InvalidLogFile",
    "LogRecord",
    "RowError",
    "column_for_header",
    "open_daily_log",
    "sniff_format",
    "validate_row",
    "write_errors_csv",
]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the daily log (PRODUCT.md): English key, Chinese alias, whether a file must have it."""

    key: str
    alias_zh: str
    required: bool = False
    max_length: int | None = None


COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("waybill_no", "运单号", True, 32),
        Column("collected_at", "收寄时间", True),
        Column("outlet_code", "网点编码", False, 32),
        Column("sender_name", "寄件人姓名", False, 64),
        Column("sender_id_type", "证件类型"),
        Column("sender_id_no", "证件号码"),
        Column("sender_phone", "寄件人电话"),
        Column("item_name", "物品名称", True, 128),
        Column("item_category", "物品类别", False, 64),
        Column("quantity", "数量"),
        Column("real_name_verified", "是否实名"),
        Column("inspected", "是否验视"),
        Column("xray_screened", "是否过机"),
        Column("courier_id", "收寄人员", False, 32),
        Column("contract_customer_code", "协议客户编号", False, 32),
    )
}

ROW_ERROR_KEY = "__error__"
"""Key of the raw row ``rows()`` yields for a line it could not read (a JSON Lines line that is not an
object); ``validate_row`` reports its value as the row's error."""


class InvalidLogFile(Exception):
    """The file as a whole cannot be read as a daily log (nothing in it should be stored).

    ``code`` is a short snake_case reason (``empty_file``, ``too_large``, ``unsupported_format``,
    ``undecodable_text``, ``malformed_csv``, ``no_header``, ``encrypted_xlsx``, ``corrupt_xlsx``,
    ``zip_bomb``), ``message`` an English sentence for the person who uploaded it, ``details`` extra data.
    """

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell: row number as the user sees it, column by English key ('' = whole row)."""

    row: int
    column: str
    message: str


@dataclass(slots=True)
class LogRecord:
    """A validated collection record, normalised: upper-case waybill, UTC time, normalised ID and phone."""

    row: int
    waybill_no: str
    collected_at: datetime
    outlet_code: str | None
    sender_name: str | None
    sender_id_type: str | None
    sender_id_no: str | None
    sender_phone: str | None
    item_name: str
    item_category: str | None
    quantity: int
    real_name_verified: bool
    inspected: bool
    xray_screened: bool
    courier_id: str | None
    contract_customer_code: str | None


# --- headers ------------------------------------------------------------------------------------------------

_HEADER_SEPARATORS = re.compile(r"[\s_\-]+")
_HEADER_MARKS = re.compile(r"^\*+|(?:\*|\((?:必填|必须|必需|选填|可选)\))+$")


def _header_token(text: str) -> str:
    token = _HEADER_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    return _HEADER_MARKS.sub("", token).lower()


_HEADER_LOOKUP: dict[str, str] = {}
for _column in COLUMNS.values():
    _HEADER_LOOKUP[_header_token(_column.key)] = _column.key
    _HEADER_LOOKUP[_header_token(_column.alias_zh)] = _column.key
del _column


def column_for_header(text: str) -> str | None:
    """The English key a header cell (or JSON key) names, or ``None``.

    Accepts the keys in any case with spaces, ``_`` or ``-`` between words, and the Chinese aliases after NFKC,
    with a required-field marker (``*``, ``(必填)``) around them.
    """
    return _HEADER_LOOKUP.get(_header_token(text)) if text else None


_HEADER_SCAN_NON_BLANK = 6
_HEADER_SCAN_ROWS = 50


def _find_header(rows: Iterable[tuple[int, list[str]]]) -> tuple[int, list[str]] | None:
    """First of the leading non-blank rows with at least two known columns (else the first with one)."""
    fallback = None
    non_blank = 0
    for row_no, cells in rows:
        if row_no > _HEADER_SCAN_ROWS:
            break
        if not any(cell.strip() for cell in cells):
            continue
        known = sum(1 for cell in cells if column_for_header(cell))
        if known >= 2:
            return row_no, cells
        if known and fallback is None:
            fallback = (row_no, cells)
        non_blank += 1
        if non_blank >= _HEADER_SCAN_NON_BLANK:
            break
    return fallback


def _shown(text: str) -> str:
    text = normalise_text(text)
    return text if len(text) <= 40 else text[:39] + "…"


# --- format and encoding ------------------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_BINARY_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"{\\rtf", "an RTF document"),
    (b"\xff\xfe\x00\x00", "UTF-32 text"),
    (b"\x00\x00\xfe\xff", "UTF-32 text"),
)
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_ACCEPTED = "Upload the daily log as CSV, XLSX (Excel workbook) or JSON Lines."


def _unsupported(what: str) -> InvalidLogFile:
    return InvalidLogFile("unsupported_format", f"The file is {what}, not a daily log. {_ACCEPTED}")


def sniff_format(head: bytes) -> str:
    """Tell a daily log's format from the first bytes of the file (never from its name).

    Returns ``'xlsx'`` (a ZIP container), ``'jsonl'`` (text starting with ``{``) or ``'csv'`` (other text).
    Raises ``InvalidLogFile``: ``empty_file`` for no content, ``encrypted_xlsx`` for an OLE2 compound file (a
    password-protected workbook or a legacy .xls), ``unsupported_format`` for PDFs, images, archives, HTML or
    other binary data.
    """
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE2):
        raise InvalidLogFile(
            "encrypted_xlsx",
            "The file is a password-protected workbook or a legacy Excel 97-2003 (.xls) file. Remove the "
            "password and save it as an Excel workbook (.xlsx) or CSV.",
        )
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise _unsupported(what)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head[:4096])
    else:
        text_bytes = head.removeprefix(codecs.BOM_UTF8)
        if b"\x00" in text_bytes or len(text_bytes.translate(None, _CONTROL_BYTES)) < len(text_bytes) * 0.99:
            raise _unsupported("binary data")
        text = text_bytes[:4096].decode("latin-1")
    text = text.lstrip(" \t\r\n\ufeff")
    if not text:
        raise InvalidLogFile("empty_file", "The file is empty.")
    if text[0] == "{":
        return "jsonl"
    if text[0] == "[" and text[1:].lstrip()[:1] in ("{", "]", ""):
        raise _unsupported("a JSON array (write one JSON object per line instead)")
    if text[0] == "<":
        raise _unsupported(
            "an HTML or XML page (some systems save these with an .xls name; open it in Excel and save as .xlsx)"
        )
    return "csv"


_SAMPLE_BYTES = 64 * 1024
_SCAN_CHUNK = 1024 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030 (GBK)", "utf-16": "UTF-16"}


def _detect_encoding(fh: io.BufferedReader) -> str:
    """UTF-8 (with or without BOM), else GB18030, judged on the first non-ASCII bytes of the file."""
    fh.seek(0)
    head = fh.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    lines_before = 0
    chunk = head
    while (match := _NON_ASCII.search(chunk)) is None:
        lines_before += chunk.count(b"\n")
        chunk = fh.read(_SCAN_CHUNK)
        if not chunk:
            return "utf-8"
    start = match.start()
    lines_before += chunk.count(b"\n", 0, start)
    window = chunk[start : start + _SAMPLE_BYTES]
    if len(window) < _SAMPLE_BYTES:
        window += fh.read(_SAMPLE_BYTES - len(window))
    at_eof = len(window) < _SAMPLE_BYTES
    failure = 0
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(window, final=at_eof)
            return encoding
        except UnicodeDecodeError as exc:
            failure = max(failure, exc.start)
    line = lines_before + window.count(b"\n", 0, failure) + 1
    raise InvalidLogFile(
        "undecodable_text",
        f"Line {line} of the file is neither UTF-8 nor GB18030 (GBK) text. Save the file again as CSV UTF-8.",
        {"line": line},
    )


def _undecodable_line(path: str, encoding: str) -> int | None:
    """Line number of the first line that does not decode (b'\\n' never occurs inside a UTF-8/GB18030 char)."""
    if encoding == "utf-16":
        return None
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as fh:
        for line_no, line in enumerate(fh, 1):
            try:
                line.decode(codec)
            except UnicodeDecodeError:
                return line_no
    return None


def _undecodable(path: str, encoding: str) -> InvalidLogFile:
    line = _undecodable_line(path, encoding)
    where = f"Line {line}" if line else "Part"
    return InvalidLogFile(
        "undecodable_text",
        f"{where} of the file is not {_ENCODING_NAMES[encoding]} text like the lines before it: the file mixes "
        "character encodings. Save it again as CSV UTF-8.",
        {"line": line, "encoding": encoding},
    )


def _head_text(fh: io.BufferedReader, encoding: str) -> str:
    """The first complete lines of the file (up to about 64 KiB), decoded."""
    fh.seek(0)
    head = fh.read(_SAMPLE_BYTES)
    at_eof = len(head) < _SAMPLE_BYTES
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=at_eof)
    except UnicodeDecodeError:
        raise InvalidLogFile(
            "undecodable_text",
            f"The start of the file is not {_ENCODING_NAMES[encoding]} text. Save it again as CSV UTF-8.",
        ) from None
    if not at_eof and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


# --- cell values --------------------------------------------------------------------------------------------


def _float_str(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def _datetime_str(value: datetime) -> str:
    if value.microsecond:
        # Excel stores times as fractions of a day; 09:15:00 may come back as 09:14:59.999999.
        value = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
    return f"{value:%Y-%m-%d %H:%M:%S}"


def _value_str(value: object) -> str:
    """A spreadsheet or JSON value as the text a person would have typed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_str(value)
    if isinstance(value, datetime):
        return _datetime_str(value)
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, time):
        return f"{value:%H:%M:%S}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- readers ------------------------------------------------------------------------------------------------


class DailyLogReader:
    """An opened daily log: what ``open_daily_log`` found out about it, and its rows.

    ``format`` is ``csv``, ``xlsx`` or ``jsonl``; ``encoding`` the text encoding (``None`` for XLSX);
    ``columns`` maps each recognised key to its header as written; ``missing`` lists required keys the file
    lacks; ``warnings`` lists unrecognised and duplicate columns; ``header_row`` is the header's row number
    (0 for JSON Lines). Close it, or use it as a context manager.
    """

    format: str = ""

    def __init__(self, path: str) -> None:
        self.path = path
        self.encoding: str | None = None
        self.columns: dict[str, str] = {}
        self.missing: list[str] = []
        self.warnings: list[str] = []
        self.header_row = 0
        self._generators: list[Generator] = []

    def rows(self) -> Generator[tuple[int, dict[str, str]], None, None]:
        """Yield ``(row number, raw values by English key)`` for every non-blank data row, from the start.

        Row numbers are those of the spreadsheet (header row = 1 when it is the first row) or the line
        number for JSON Lines. Values are unvalidated strings; a key whose cell is empty maps to ``''``.
        Raises ``InvalidLogFile`` when the file turns out unreadable part-way (``undecodable_text``,
        ``malformed_csv``, ``corrupt_xlsx``): the caller must then discard what it took from this file.
        """
        generator = self._rows()
        self._generators.append(generator)
        return generator

    def _rows(self) -> Generator[tuple[int, dict[str, str]], None, None]:
        raise NotImplementedError

    def _set_header(self, header_row: int, cells: list[str]) -> list[tuple[int, str]]:
        """Map header cells to keys, note unknown and duplicate ones; return ``(cell index, key)`` pairs."""
        self.header_row = header_row
        positions = []
        for index, cell in enumerate(cells):
            if not cell.strip():
                continue
            key = column_for_header(cell)
            if key is None:
                self.warnings.append(f'unrecognised column "{_shown(cell)}" ignored')
            elif key in self.columns:
                self.warnings.append(f'duplicate column "{_shown(cell)}" ignored: the first {key} column is used')
            else:
                self.columns[key] = cell.strip()
                positions.append((index, key))
        self.missing = [key for key, column in COLUMNS.items() if column.required and key not in self.columns]
        return positions

    def close(self) -> None:
        """Stop any row iteration in progress and release the file."""
        for generator in self._generators:
            generator.close()
        self._generators.clear()

    def __enter__(self) -> DailyLogReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _no_header(what: str) -> InvalidLogFile:
    names = ", ".join(f"{c.alias_zh} ({c.key})" for c in COLUMNS.values() if c.required)
    return InvalidLogFile(
        "no_header",
        f"No header row found: none of the first rows of the {what} names a daily-log column such as {names}.",
    )


class _CsvReader(DailyLogReader):
    format = "csv"

    def __init__(self, path: str, fh: io.BufferedReader) -> None:
        super().__init__(path)
        self.encoding = self._text_encoding = _detect_encoding(fh)
        text = _head_text(fh, self._text_encoding)
        best = None
        for delimiter in (",", "\t", ";", "|"):
            found = _find_header(_sample_records(text, delimiter))
            if found and (best is None or _known(found[1]) > _known(best[1][1])):
                best = (delimiter, found)
        if best is None:
            raise _no_header("file")
        self.delimiter, (header_row, cells) = best
        self._positions = self._set_header(header_row, cells)

    def _rows(self) -> Generator[tuple[int, dict[str, str]], None, None]:
        indices = [index for index, _ in self._positions]
        keys = [key for _, key in self._positions]
        width = max(indices) + 1
        padding = [""] * width
        pick = itemgetter(*indices) if len(indices) > 1 else (lambda cells: (cells[indices[0]],))
        header_row = self.header_row
        encoding = self._text_encoding
        with open(self.path, encoding=encoding, errors="strict", newline="") as text:
            records = csv.reader(text, delimiter=self.delimiter)
            row_no = 0
            try:
                for cells in records:
                    row_no += 1
                    if row_no <= header_row or not any(cells):
                        continue
                    if not cells[0].strip() and not "".join(cells).strip():
                        continue
                    if len(cells) < width:
                        cells += padding[len(cells) :]
                    yield row_no, dict(zip(keys, pick(cells)))
            except UnicodeDecodeError:
                raise _undecodable(self.path, encoding) from None
            except csv.Error as exc:
                raise InvalidLogFile(
                    "malformed_csv",
                    f"The CSV file is malformed near line {records.line_num} ({exc}); check for an unclosed "
                    'quote (").',
                    {"line": records.line_num},
                ) from None


def _sample_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from enumerate(records, 1)
    except csv.Error:
        return  # an unterminated quote cut at the sample end


def _known(cells: list[str]) -> int:
    return sum(1 for cell in cells if column_for_header(cell))


class _JsonlReader(DailyLogReader):
    format = "jsonl"
    _SAMPLE_LINES = 1000

    def __init__(self, path: str, fh: io.BufferedReader) -> None:
        super().__init__(path)
        self.encoding = self._text_encoding = _detect_encoding(fh)
        self._keymap: dict[str, str | None] = {}
        seen = False
        for line in _head_text(fh, self._text_encoding).split("\n")[: self._SAMPLE_LINES]:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict):
                for name in obj:
                    seen = self._key(name) is not None or seen
        if not seen:
            raise _no_header("JSON Lines file (no object has a known key)")
        self.missing = [key for key, column in COLUMNS.items() if column.required and key not in self.columns]

    def _key(self, name: str) -> str | None:
        try:
            return self._keymap[name]
        except KeyError:
            pass
        key = column_for_header(name)
        self._keymap[name] = key
        if key is None:
            self.warnings.append(f'unrecognised key "{_shown(name)}" ignored')
        elif key not in self.columns:
            self.columns[key] = name
        return key

    def _rows(self) -> Generator[tuple[int, dict[str, str]], None, None]:
        key_for = self._key
        loads = json.loads
        encoding = self._text_encoding
        with open(self.path, encoding=encoding, errors="strict") as text:
            try:
                for line_no, line in enumerate(text, 1):
                    if not line or line.isspace():
                        continue
                    try:
                        obj = loads(line)
                    except (ValueError, RecursionError):
                        yield line_no, {ROW_ERROR_KEY: "row is not a JSON object (invalid JSON)"}
                        continue
                    if type(obj) is not dict:
                        yield line_no, {ROW_ERROR_KEY: "row is not a JSON object"}
                        continue
                    raw: dict[str, str] = {}
                    for name, value in obj.items():
                        key = key_for(name)
                        if key is not None and key not in raw:
                            raw[key] = value if type(value) is str else _value_str(value)
                    yield line_no, raw
            except UnicodeDecodeError:
                raise _undecodable(self.path, encoding) from None


def _corrupt(detail: str = "") -> InvalidLogFile:
    return InvalidLogFile(
        "corrupt_xlsx",
        "The Excel workbook is damaged or incomplete" + (f" ({detail})" if detail else "")
        + ". Open it in Excel or WPS, save it again as .xlsx and upload that.",
    )


# What openpyxl and zipfile raise on damaged workbooks (ElementTree and lxml parse errors are SyntaxErrors).
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
    EOFError,
    OSError,
    NotImplementedError,
)
_RATIO_FLOOR = 1024 * 1024


class _XlsxReader(DailyLogReader):
    format = "xlsx"

    def __init__(self, path: str, fh: io.BufferedReader, max_uncompressed: int, max_ratio: int) -> None:
        super().__init__(path)
        self._fh = fh
        self._book = None
        try:
            _check_zip(fh, max_uncompressed, max_ratio)
            self._open_sheet()
        except BaseException:
            self.close()
            raise

    def _open_sheet(self) -> None:
        import openpyxl  # deferred: importing this module stays cheap
        from openpyxl.utils.exceptions import InvalidFileException

        self._fh.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "no default style", unsupported extensions: harmless here
                self._book = openpyxl.load_workbook(self._fh, read_only=True, data_only=True)
                sheets = self._book.worksheets
                visible = [sheet for sheet in sheets if sheet.sheet_state == "visible"]
                self._sheet = (visible or sheets)[0]
                self._sheet.reset_dimensions()  # many exporters write a wrong <dimension>
        except (InvalidFileException, *_XLSX_ERRORS) as exc:
            raise _corrupt() from exc
        rows = self._numbered_rows()
        try:
            found = _find_header((row_no, [_value_str(v) for v in row]) for row_no, row in rows)
        finally:
            rows.close()
        if found is None:
            raise _no_header("first worksheet")
        self._positions = self._set_header(*found)

    def _numbered_rows(self) -> Iterator[tuple[int, tuple]]:
        rows = self._sheet.iter_rows(values_only=True)
        row_no = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except _XLSX_ERRORS as exc:
                raise _corrupt(f"worksheet unreadable after row {row_no}") from exc
            row_no += 1
            yield row_no, row

    def _rows(self) -> Generator[tuple[int, dict[str, str]], None, None]:
        indices = [index for index, _ in self._positions]
        keys = [key for _, key in self._positions]
        width = max(indices) + 1
        header_row = self.header_row
        value_str = _value_str
        for row_no, row in self._numbered_rows():
            if row_no <= header_row:
                continue
            for value in row:
                if value is not None and (type(value) is not str or value.strip()):
                    break
            else:
                continue
            if len(row) < width:
                row = row + (None,) * (width - len(row))
            yield row_no, {key: value_str(row[index]) for index, key in zip(indices, keys)}

    def close(self) -> None:
        super().close()
        if self._book is not None:
            self._book.close()
        self._fh.close()


# Uncompressed size limits of each part of a workbook, whatever the ratio: openpyxl holds the shared strings in
# memory as Python strings (several times their XML size), and every byte of a sheet is parsed.
_MAX_SHARED_STRINGS = 96 * 2**20
_MAX_SHEET = 384 * 2**20
_MAX_OTHER_PART = 16 * 2**20


def _check_zip(fh: io.BufferedReader, max_uncompressed: int, max_ratio: int) -> None:
    """Refuse archives that are not workbooks, are damaged, encrypted or would expand beyond the limits: the
    whole (``max_uncompressed``), each part (shared strings, each sheet, anything else) and each part's ratio.
    The sizes are the ones the archive declares; zipfile never inflates a member beyond its declared size."""
    try:
        with zipfile.ZipFile(fh) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _corrupt("not a complete ZIP container") from exc
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise InvalidLogFile(
                "encrypted_xlsx",
                "The workbook is encrypted. Remove the password, save it as .xlsx and upload it again.",
            )
        total += member.file_size
        ratio_exceeded = member.file_size > _RATIO_FLOOR and member.file_size > max_ratio * max(member.compress_size, 1)
        name = member.filename
        limit = (_MAX_SHARED_STRINGS if name == "xl/sharedStrings.xml" else
                 _MAX_SHEET if name.startswith("xl/worksheets/") and name.endswith(".xml") else _MAX_OTHER_PART)
        if total > max_uncompressed or ratio_exceeded or member.file_size > limit:
            raise InvalidLogFile(
                "zip_bomb",
                "The workbook expands to far more data than a daily log holds; it was not opened.",
                {"uncompressed_bytes": total, "member": member.filename},
            )
    names = {member.filename for member in members}
    if "xl/workbook.bin" in names:
        raise _unsupported("an Excel binary workbook (.xlsb); save it as .xlsx")
    if "[Content_Types].xml" not in names:
        what = "an OpenDocument file" if "mimetype" in names else "a ZIP archive"
        raise _unsupported(what)
    if not any(name.startswith("xl/") for name in names):
        raise _unsupported("an Office document that is not a workbook")


def open_daily_log(
    path: str | os.PathLike,
    *,
    max_xlsx_uncompressed: int = 512 * 2**20,
    max_ratio: int = 200,
    max_bytes: int | None = None,
) -> DailyLogReader:
    """Open a daily log (CSV, XLSX or JSON Lines, told apart by content) and find its header.

    CSV and JSON Lines text is UTF-8 (with or without BOM) or GB18030/GBK, detected; CSV may be separated by
    commas, tabs, semicolons or ``|``. XLSX: the first visible worksheet; the header may sit below a few title
    rows. ``max_xlsx_uncompressed`` and ``max_ratio`` (per member over 1 MiB) guard against ZIP bombs;
    ``max_bytes`` limits the file size. Raises ``InvalidLogFile`` (``empty_file``, ``too_large``,
    ``unsupported_format``, ``undecodable_text``, ``no_header``, ``encrypted_xlsx``, ``corrupt_xlsx``,
    ``zip_bomb``). Missing required columns are not raised: check ``reader.missing``.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise InvalidLogFile("empty_file", "The file is empty.")
    if max_bytes is not None and size > max_bytes:
        raise InvalidLogFile(
            "too_large",
            f"The file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB. Split it by day.",
            {"size": size, "limit": max_bytes},
        )
    fh = open(path, "rb")  # the XLSX reader keeps it open until close()
    try:
        fmt = sniff_format(fh.read(_SAMPLE_BYTES))
        if fmt == "xlsx":
            return _XlsxReader(path, fh, max_xlsx_uncompressed, max_ratio)
        with fh:
            return _CsvReader(path, fh) if fmt == "csv" else _JsonlReader(path, fh)
    except BaseException:
        fh.close()
        raise


# --- row validation -----------------------------------------------------------------------------------------

_UTC = timezone.utc
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991; times before 2000 are refused anyway.
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_ONE_DAY = timedelta(days=1)
_WAYBILL = re.compile(r"[A-Za-z0-9-]{8,32}")
_OUTLET_CODE = re.compile(r"[A-Z0-9-]{4,32}")
_DATETIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s*[Tt]\s*|\s+)"
    r"(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?"
)
_DATE_ONLY = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?")
_QUANTITY = re.compile(r"\+?(\d+)(?:\.0*)?")
_MAX_QUANTITY = 2**31 - 1
_fromisoformat = datetime.fromisoformat

_TRUE_WORDS = ("是", "y", "yes", "true", "t", "1", "√", "✓", "✔")
_FALSE_WORDS = ("否", "n", "no", "false", "f", "0", "×", "✗", "✘", "")
_BOOLEANS: dict[str, bool] = {}
for _words, _value in ((_TRUE_WORDS, True), (_FALSE_WORDS, False)):
    for _word in _words:
        for _variant in (_word, _word.upper(), _word.title()):
            _BOOLEANS[_variant] = _value
del _words, _value, _word, _variant


_FLAG_COLUMNS = ("real_name_verified", "inspected", "xray_screened")


class _Invalid(Exception):
    """A cell's problem, raised inside the per-column parsers."""


def _parse_collected_at(value: str, horizon: datetime) -> datetime:
    text = value.strip() if value.isascii() else normalise_text(value)
    if not text:
        raise _Invalid("collection time is required")
    moment = None
    if len(text) == 19 and text[10] == " " and text[13] == ":" and text[16] == ":":
        if text[4] == "/":
            text = text.replace("/", "-")
        try:
            moment = _fromisoformat(text + "+08:00")  # the common case, and the fastest way to an aware time
        except ValueError:
            moment = None
    if moment is None:
        moment = _parse_datetime_slow(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_SHANGHAI)
    if moment.year < 2000:
        raise _Invalid("collection time is before the year 2000")
    moment = moment.astimezone(_UTC)
    if moment > horizon:
        raise _Invalid("collection time is more than a day in the future")
    return moment


def _parse_datetime_slow(text: str) -> datetime:
    match = _DATETIME.fullmatch(text)
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise _Invalid("collection time has a date but no time of day (use YYYY-MM-DD HH:MM:SS)")
        if "T" in text:
            try:
                return _fromisoformat(text)  # other ISO 8601 forms, e.g. 20261128T091500+0800
            except ValueError:
                pass
        raise _Invalid("collection time is not a date and time like YYYY-MM-DD HH:MM:SS")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        tz = None
        if zulu:
            tz = _UTC
        elif sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            tz = timezone(-offset if sign == "-" else offset)
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        raise _Invalid("collection time is not a real date and time") from None


def _parse_quantity(value: str) -> int:
    if value.isdecimal():
        digits = value
    else:
        text = value.strip() if value.isascii() else normalise_text(value)
        if not text:
            return 1
        match = _QUANTITY.fullmatch(text)
        if match is None:
            raise _Invalid("quantity must be a positive whole number")
        digits = match.group(1)
    digits = digits.lstrip("0")
    if not digits:
        raise _Invalid("quantity must be a positive whole number")
    if len(digits) > 10 or int(digits) > _MAX_QUANTITY:
        raise _Invalid("quantity is too large")
    return int(digits)


def _parse_bool(value: str, column: str) -> bool:
    flag = _BOOLEANS.get(value)
    if flag is None:
        flag = _BOOLEANS.get(normalise_text(value).lower())
        if flag is None:
            raise _Invalid(f"{column} must be yes or no: 是/否, Y/N, true/false or 1/0")
    return flag


def _code(value: str) -> str:
    return value.strip() if value.isascii() else normalise_text(value)


def _clean_text(value: str) -> str:
    """``normalise_text`` with a shortcut for text that is already clean (most names and items)."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        if value.isascii() or unicodedata.is_normalized("NFKC", value):
            return value
    return normalise_text(value)


_id_types: dict[str, str | None] = {}


def _id_type(value: str) -> str | None:
    """``parse_id_type``, remembering the few spellings a file uses."""
    if value in _id_types:
        return _id_types[value]
    code = parse_id_type(value)  # raises InvalidIdentity for unknown types, which are not remembered
    if len(_id_types) < 1024:
        _id_types[value] = code
    return code


_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _phone(value: str) -> str:
    if len(value) == 11 and value.isascii() and _MOBILE.fullmatch(value):
        return value  # what normalise_phone returns for a plain mainland mobile
    return normalise_phone(value)


_clock: list = [0.0, None, None]  # [time.time() of the last refresh, horizon, today in China]


def _now_bounds(now: datetime | None) -> tuple[datetime, date]:
    """The latest acceptable collection time (now + 1 day) and today's date in China.

    Without ``now`` they are recomputed at most once a second: ``validate_row`` runs a million times a file.
    """
    if now is not None:
        return now + _ONE_DAY, now.astimezone(_SHANGHAI).date()
    clock = time_now()
    if clock - _clock[0] >= 1.0:
        current = datetime.fromtimestamp(clock, _SHANGHAI)
        _clock[1:] = [(current + _ONE_DAY).astimezone(_UTC), current.date()]
        _clock[0] = clock
    return _clock[1], _clock[2]


def validate_row(
    row_no: int, raw: dict[str, str], *, outlet_code: str, now: datetime | None = None
) -> LogRecord | list[RowError]:
    """Check one raw row against the daily-log rules (PRODUCT.md) and normalise it.

    ``outlet_code`` is the outlet the file is uploaded for: a row naming another outlet is an error, and the
    record carries this code. ``now`` (aware; default: the current time) bounds future timestamps. Returns
    the ``LogRecord``, or one ``RowError`` per bad column — messages never repeat ID or phone numbers.
    """
    get = raw.get
    if ROW_ERROR_KEY in raw:
        return [RowError(row_no, "", raw[ROW_ERROR_KEY])]
    errors: list[RowError] = []
    horizon, today = _now_bounds(now)

    waybill = get("waybill_no") or ""
    waybill = waybill.strip() if waybill.isascii() else normalise_text(waybill)
    if not waybill:
        errors.append(RowError(row_no, "waybill_no", "waybill number is required"))
    elif _WAYBILL.fullmatch(waybill) is None:
        errors.append(RowError(row_no, "waybill_no", 'waybill number must be 8-32 letters, digits or "-"'))

    collected_at = None
    try:
        collected_at = _parse_collected_at(get("collected_at") or "", horizon)
    except _Invalid as exc:
        errors.append(RowError(row_no, "collected_at", str(exc)))

    outlet = get("outlet_code")
    if outlet:
        outlet = _code(outlet).upper()
        if outlet and outlet != outlet_code.upper():
            # The cell is not echoed: a shifted column can put an ID or phone number here.
            message = f'row names another outlet, but the file is uploaded for outlet "{outlet_code}"'
            errors.append(RowError(row_no, "outlet_code", message))

    sender_name = get("sender_name")
    if sender_name:
        sender_name = _clean_text(sender_name)
        if len(sender_name) > 64:
            errors.append(RowError(row_no, "sender_name", "sender name is longer than 64 characters"))

    id_type = id_no = None
    type_text = get("sender_id_type")
    type_ok = True
    if type_text:
        try:
            id_type = _id_type(type_text)
        except InvalidIdentity as exc:
            errors.append(RowError(row_no, "sender_id_type", str(exc)))
            type_ok = False
    number = get("sender_id_no")
    if number and not number.isspace():
        if id_type is not None:
            try:
                id_no = validate_id_no(id_type, number, today=today)
            except InvalidIdentity as exc:
                errors.append(RowError(row_no, "sender_id_no", str(exc)))
        elif type_ok:
            errors.append(RowError(row_no, "sender_id_no", "ID number given without an ID type (sender_id_type)"))
    elif id_type is not None:
        errors.append(RowError(row_no, "sender_id_no", "ID type given without an ID number"))

    phone = get("sender_phone")
    if phone and not phone.isspace():
        try:
            phone = _phone(phone)
        except InvalidIdentity as exc:
            errors.append(RowError(row_no, "sender_phone", str(exc)))
    else:
        phone = None

    item_name = _clean_text(get("item_name") or "")
    if not item_name:
        errors.append(RowError(row_no, "item_name", "item name is required"))
    elif len(item_name) > 128:
        errors.append(RowError(row_no, "item_name", "item name is longer than 128 characters"))

    item_category = get("item_category")
    if item_category:
        item_category = _clean_text(item_category)
        if len(item_category) > 64:
            errors.append(RowError(row_no, "item_category", "item category is longer than 64 characters"))

    quantity = 1
    value = get("quantity")
    if value:
        try:
            quantity = _parse_quantity(value)
        except _Invalid as exc:
            errors.append(RowError(row_no, "quantity", str(exc)))

    flags = [_BOOLEANS.get(get(column) or "") for column in _FLAG_COLUMNS]
    if None in flags:
        for index, column in enumerate(_FLAG_COLUMNS):
            if flags[index] is None:
                try:
                    flags[index] = _parse_bool(get(column) or "", column)
                except _Invalid as exc:
                    errors.append(RowError(row_no, column, str(exc)))

    codes = []
    for column in ("courier_id", "contract_customer_code"):
        value = get(column)
        if value:
            value = _code(value)
            if len(value) > 32:
                errors.append(RowError(row_no, column, f"{column} is longer than 32 characters"))
        codes.append(value or None)

    if errors or collected_at is None:
        return errors
    return LogRecord(
        row_no,
        waybill.upper(),
        collected_at,
        outlet_code,
        sender_name or None,
        id_type,
        id_no,
        phone,
        item_name,
        item_category or None,
        quantity,
        flags[0],
        flags[1],
        flags[2],
        codes[0],
        codes[1],
    )


# --- error report -------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_errors_csv(errors: Iterable[RowError], stream: TextIO) -> None:
    """Write row errors as CSV (``row,column,message``) for a spreadsheet, to a text stream opened with
    ``newline=''``. Cells that a spreadsheet would run as a formula are prefixed with ``'``; adding a UTF-8 BOM
    for Excel is the caller's job."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(("row", "column", "message"))
    for error in errors:
        writer.writerow((error.row, _safe_cell(error.column), _safe_cell(error.message)))
