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
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, make_dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from operator import itemgetter
from time import time as time_now
from typing import TextIO

from inspection.columns import COLUMNS, PYTHON_TYPES, Column, Type
from inspection.identity import normalise_phone, normalise_text, parse_id_type, validate_id_no
from inspection.regions import region_code
from models.base import CHINA
from models.errors import DomainError

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
    "RepeatedWaybills",
    "CLOCK_SKEW",
    "safe_cell",
    "warning",
]

ROW_ERROR_KEY = "__error__"
"""Key of the raw row ``rows()`` yields for a line it could not read (a JSON Lines line that is not an
object); its value is the row error's code, which ``validate_row`` reports for the whole row."""


class InvalidLogFile(DomainError):
    """The file as a whole cannot be read as a daily log (nothing in it should be stored).

    ``code`` is ``<reason>[.<detail>]``: ``empty_file``, ``too_large``, ``unsupported_format.pdf`` (and the
    other formats), ``undecodable_text``, ``malformed_csv``, ``no_header.file``, ``encrypted_xlsx``,
    ``corrupt_xlsx``, ``zip_bomb``, ``missing_columns``, ``no_rows``; ``params`` fill its message. ``details``
    (structured data for programs) are the params unless given.
    """

    code = "invalid_file"

    def __init__(self, code: str, /, *, details: dict | None = None, **params: object) -> None:
        super().__init__(code, details=params if details is None else details, **params)


def warning(code: str, **params: object) -> dict:
    """A reader's warning as stored with the batch (JSON): ``{"code": ..., "params": {...}}``."""
    return {"code": code, "params": params}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell: row number as the user sees it, column by English key ('' = whole row), and
    what is wrong as a code (``validation_error.too_long``) with the parameters of its message (``max``).
    Parameters never hold a cell's value: it may be an ID or phone number."""

    row: int
    column: str
    code: str
    params: dict = field(default_factory=dict)


def _field_type(column: Column) -> object:
    kind = PYTHON_TYPES.get(column.type, str)
    return kind if column.required or column.default is not None else kind | None


LogRecord = make_dataclass(
    "LogRecord",
    [("row", int), *((c.key, _field_type(c)) for c in COLUMNS.values())],
    slots=True,
)
LogRecord.__module__ = __name__
LogRecord.__doc__ = """A validated collection record: the row number, then one field per column of ``COLUMNS``,
normalised (upper-case waybill, aware UTC time, normalised ID and phone numbers, defaults for empty cells)."""


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
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!", "rar"),
    (b"{\\rtf", "rtf"),
    (b"\xff\xfe\x00\x00", "utf32"),
    (b"\x00\x00\xfe\xff", "utf32"),
)
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def _unsupported(what: str) -> InvalidLogFile:
    return InvalidLogFile(f"unsupported_format.{what}")


def sniff_format(head: bytes) -> str:
    """Tell a daily log's format from the first bytes of the file (never from its name).

    Returns ``'xlsx'`` (a ZIP container), ``'jsonl'`` (text starting with ``{``) or ``'csv'`` (other text).
    Raises ``InvalidLogFile``: ``empty_file`` for no content, ``encrypted_xlsx`` for an OLE2 compound file (a
    password-protected workbook or a legacy .xls), ``unsupported_format.<what>`` for PDFs (``.pdf``), images,
    archives, HTML or other binary data.
    """
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE2):
        raise InvalidLogFile("encrypted_xlsx")
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise _unsupported(what)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head[:4096])
    else:
        text_bytes = head.removeprefix(codecs.BOM_UTF8)
        if b"\x00" in text_bytes or len(text_bytes.translate(None, _CONTROL_BYTES)) < len(text_bytes) * 0.99:
            raise _unsupported("binary")
        text = text_bytes[:4096].decode("latin-1")
    text = text.lstrip(" \t\r\n\ufeff")
    if not text:
        raise InvalidLogFile("empty_file")
    if text[0] == "{":
        return "jsonl"
    if text[0] == "[" and text[1:].lstrip()[:1] in ("{", "]", ""):
        raise _unsupported("json_array")
    if text[0] == "<":
        raise _unsupported("html")
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
    raise InvalidLogFile("undecodable_text", line=line)


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
    details = {"line": line, "encoding": encoding}
    if line is None:
        return InvalidLogFile("undecodable_text.mixed_part", details=details, encoding=_ENCODING_NAMES[encoding])
    return InvalidLogFile("undecodable_text.mixed", details=details, line=line, encoding=_ENCODING_NAMES[encoding])


def _head_text(fh: io.BufferedReader, encoding: str) -> str:
    """The first complete lines of the file (up to about 64 KiB), decoded."""
    fh.seek(0)
    head = fh.read(_SAMPLE_BYTES)
    at_eof = len(head) < _SAMPLE_BYTES
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=at_eof)
    except UnicodeDecodeError:
        raise InvalidLogFile("undecodable_text.start", details={}, encoding=_ENCODING_NAMES[encoding]) from None
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
    lacks; ``warnings`` lists unrecognised and duplicate columns (``warning(...)``: a code and its
    parameters, rendered in the reader's language by the web app); ``header_row`` is the header's row number
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
                self.warnings.append(warning("warning.unrecognised_column", header=_shown(cell)))
            elif key in self.columns:
                self.warnings.append(warning("warning.duplicate_column", header=_shown(cell), key=key))
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
    return InvalidLogFile(f"no_header.{what}", details={}, columns=names)


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
            except csv.Error:
                raise InvalidLogFile("malformed_csv", line=records.line_num) from None


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
            raise _no_header("jsonl")
        self.missing = [key for key, column in COLUMNS.items() if column.required and key not in self.columns]

    def _key(self, name: str) -> str | None:
        try:
            return self._keymap[name]
        except KeyError:
            pass
        key = column_for_header(name)
        self._keymap[name] = key
        if key is None:
            self.warnings.append(warning("warning.unrecognised_key", header=_shown(name)))
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
                        yield line_no, {ROW_ERROR_KEY: "validation_error.invalid_json"}
                        continue
                    if type(obj) is not dict:
                        yield line_no, {ROW_ERROR_KEY: "validation_error.not_json_object"}
                        continue
                    raw: dict[str, str] = {}
                    for name, value in obj.items():
                        key = key_for(name)
                        if key is not None and key not in raw:
                            raw[key] = value if type(value) is str else _value_str(value)
                    yield line_no, raw
            except UnicodeDecodeError:
                raise _undecodable(self.path, encoding) from None


def _corrupt(detail: str = "", **params: object) -> InvalidLogFile:
    return InvalidLogFile(f"corrupt_xlsx.{detail}" if detail else "corrupt_xlsx", **params)


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
            raise _no_header("worksheet")
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
                raise _corrupt("after_row", row=row_no) from exc
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
        raise _corrupt("not_zip") from exc
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise InvalidLogFile("encrypted_xlsx.password")
        total += member.file_size
        ratio_exceeded = member.file_size > _RATIO_FLOOR and member.file_size > max_ratio * max(member.compress_size, 1)
        name = member.filename
        limit = (_MAX_SHARED_STRINGS if name == "xl/sharedStrings.xml" else
                 _MAX_SHEET if name.startswith("xl/worksheets/") and name.endswith(".xml") else _MAX_OTHER_PART)
        if total > max_uncompressed or ratio_exceeded or member.file_size > limit:
            raise InvalidLogFile("zip_bomb", details={"uncompressed_bytes": total, "member": member.filename})
    names = {member.filename for member in members}
    if "xl/workbook.bin" in names:
        raise _unsupported("xlsb")
    if "[Content_Types].xml" not in names:
        raise _unsupported("opendocument" if "mimetype" in names else "zip")
    if not any(name.startswith("xl/") for name in names):
        raise _unsupported("office_document")


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
    ``unsupported_format.*``, ``undecodable_text*``, ``no_header.*``, ``encrypted_xlsx*``, ``corrupt_xlsx*``,
    ``zip_bomb``). Missing required columns are not raised: check ``reader.missing``.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise InvalidLogFile("empty_file")
    if max_bytes is not None and size > max_bytes:
        raise InvalidLogFile("too_large", details={"size": size, "limit": max_bytes},
                             size_mib=round(size / 2**20, 1), limit_mib=round(max_bytes / 2**20, 1))
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
CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future a collection time may be (outlet clocks run fast); later is a row error (PRODUCT.md)."""
_SKEW_MINUTES = int(CLOCK_SKEW.total_seconds() // 60)
_DATETIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s*[Tt]\s*|\s+)"
    r"(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?"
)
_DATE_ONLY = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?")
_QUANTITY = re.compile(r"\+?(\d+)(?:\.0*)?")
_fromisoformat = datetime.fromisoformat

_TRUE_WORDS = ("是", "y", "yes", "true", "t", "1", "√", "✓", "✔")
_FALSE_WORDS = ("否", "n", "no", "false", "f", "0", "×", "✗", "✘", "")
_BOOLEANS: dict[str, bool] = {}
for _words, _value in ((_TRUE_WORDS, True), (_FALSE_WORDS, False)):
    for _word in _words:
        for _variant in (_word, _word.upper(), _word.title()):
            _BOOLEANS[_variant] = _value
del _words, _value, _word, _variant


class _Invalid(DomainError):
    """A cell's problem, raised inside the per-type parsers."""

    code = "validation_error"


# Each parser takes a non-empty cell and the row's context (latest acceptable time, outlet of the upload) and
# returns the normalised value, None for a blank cell, or raises _Invalid / InvalidIdentity (a DomainError).
# _PARSERS chooses one per column from its type and limits, once.
_Context = tuple[datetime, str]
_Parser = Callable[[str, _Context], object]


def _parse_datetime(value: str, ctx: _Context) -> datetime | None:
    text = value.strip() if value.isascii() else normalise_text(value)
    if not text:
        return None
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
            moment = moment.replace(tzinfo=CHINA)
    if moment.year < 2000:
        raise _Invalid("validation_error.before_2000")
    moment = moment.astimezone(_UTC)
    if moment > ctx[0]:
        raise _Invalid("validation_error.in_future", minutes=_SKEW_MINUTES)
    return moment


def _parse_datetime_slow(text: str) -> datetime:
    match = _DATETIME.fullmatch(text)
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise _Invalid("validation_error.no_time_of_day")
        if "T" in text:
            try:
                return _fromisoformat(text)  # other ISO 8601 forms, e.g. 20261128T091500+0800
            except ValueError:
                pass
        raise _Invalid("validation_error.not_datetime")
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
        raise _Invalid("validation_error.impossible_datetime") from None


def _int_parser(column: Column) -> _Parser:
    largest = column.max_value if column.max_value is not None else 2**63 - 1
    widest = len(str(largest))

    def parse(value: str, ctx: _Context) -> int | None:
        if value.isdecimal():
            digits = value
        else:
            text = value.strip() if value.isascii() else normalise_text(value)
            if not text:
                return None
            match = _QUANTITY.fullmatch(text)
            if match is None:
                raise _Invalid("validation_error.not_positive_whole_number")
            digits = match.group(1)
        digits = digits.lstrip("0")
        if not digits:
            raise _Invalid("validation_error.not_positive_whole_number")
        if len(digits) > widest or int(digits) > largest:
            raise _Invalid("validation_error.too_large", max=largest)
        return int(digits)

    return parse


def _parse_bool(value: str, ctx: _Context) -> bool:
    flag = _BOOLEANS.get(value)
    if flag is None:
        flag = _BOOLEANS.get(normalise_text(value).lower())
        if flag is None:
            raise _Invalid("validation_error.not_yes_no")
    return flag


def _clean_text(value: str) -> str:
    """``normalise_text`` with a shortcut for text that is already clean (most names and items)."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        if value.isascii() or unicodedata.is_normalized("NFKC", value):
            return value
    return normalise_text(value)


def _text_parser(column: Column) -> _Parser:
    longest = column.max_length

    def parse(value: str, ctx: _Context) -> str | None:
        text = _clean_text(value)
        if len(text) > longest:
            raise _Invalid("validation_error.too_long", max=longest)
        return text or None

    return parse


def _code(value: str) -> str:
    return value.strip() if value.isascii() else normalise_text(value)


def _code_parser(column: Column) -> _Parser:
    longest = column.max_length

    def parse(value: str, ctx: _Context) -> str | None:
        text = value.strip() if value.isascii() else normalise_text(value)
        if len(text) > longest:
            raise _Invalid("validation_error.too_long", max=longest)
        return text or None

    return parse


def _waybill_parser(column: Column) -> _Parser:
    shortest, longest = column.min_length or 1, column.max_length
    shape = re.compile(rf"[A-Za-z0-9-]{{{shortest},{longest}}}")

    def parse(value: str, ctx: _Context) -> str | None:
        text = value.strip() if value.isascii() else normalise_text(value)
        if not text:
            return None
        if shape.fullmatch(text) is None:
            raise _Invalid("validation_error.waybill_format", min=shortest, max=longest)
        return text.upper()

    return parse


def _parse_outlet(value: str, ctx: _Context) -> str | None:
    outlet = ctx[1]
    text = _code(value).upper()
    if not text:
        return None
    if text != outlet.upper():
        # The cell is not echoed: a shifted column can put an ID or phone number here.
        raise _Invalid("validation_error.other_outlet", outlet=outlet)
    return outlet


_id_types: dict[str, str | None] = {}


def _parse_id_type(value: str, ctx: _Context) -> str | None:
    """``parse_id_type``, remembering the few spellings a file uses."""
    if value in _id_types:
        return _id_types[value]
    code = parse_id_type(value)  # raises InvalidIdentity for unknown types, which are not remembered
    if len(_id_types) < 1024:
        _id_types[value] = code
    return code


def _parse_id_no(value: str, ctx: _Context) -> str | None:
    return None if value.isspace() else value  # validated with its ID type once the row is read


_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _parse_phone(value: str, ctx: _Context) -> str | None:
    if len(value) == 11 and value.isascii() and _MOBILE.fullmatch(value):
        return value  # what normalise_phone returns for a plain mainland mobile
    if value.isspace():
        return None
    return normalise_phone(value)


def _parse_region(value: str, ctx: _Context) -> str | None:
    text = _code(value)
    if not text:
        return None
    code = region_code(text)
    if code is None:
        raise _Invalid("validation_error.unknown_destination")
    return code


_PARSERS: dict[Type, Callable[[Column], _Parser]] = {
    Type.WAYBILL: _waybill_parser,
    Type.DATETIME: lambda column: _parse_datetime,
    Type.OUTLET: lambda column: _parse_outlet,
    Type.TEXT: _text_parser,
    Type.CODE: _code_parser,
    Type.INT: _int_parser,
    Type.BOOL: lambda column: _parse_bool,
    Type.ID_TYPE: lambda column: _parse_id_type,
    Type.ID_NO: lambda column: _parse_id_no,
    Type.PHONE: lambda column: _parse_phone,
    Type.REGION: lambda column: _parse_region,
}
# (position, key, parser, required) per column in table order; the parsers are chosen once, here. Yes/no
# columns, a fifth of a row, take a shortcut: one look-up of the usual spellings before their parser.
_PLAN: tuple[tuple[int, str, _Parser, bool], ...] = tuple(
    (position, c.key, _PARSERS[c.type](c), c.required)
    for position, c in enumerate(COLUMNS.values()) if c.type is not Type.BOOL
)
_FLAGS: tuple[tuple[int, str, bool], ...] = tuple(
    (position, c.key, c.required) for position, c in enumerate(COLUMNS.values()) if c.type is Type.BOOL
)
_DEFAULTS = [c.default for c in COLUMNS.values()]  # the values of empty cells; an outlet's is the upload's
_OUTLETS = tuple(position for position, c in enumerate(COLUMNS.values()) if c.type is Type.OUTLET)
_POSITION = {key: index for index, key in enumerate(COLUMNS)}
_POSITION[""] = -1
# (position of the ID type, position and key of the ID number) of each ID number column.
_ID_PAIRS = tuple(
    (_POSITION[c.id_type_column], _POSITION[c.key], c.id_type_column, c.key)
    for c in COLUMNS.values() if c.type is Type.ID_NO
)

_clock: list = [0.0, None, None]  # [time.time() of the last refresh, horizon, today in China]


def _now_bounds(now: datetime | None) -> tuple[datetime, date]:
    """The latest acceptable collection time (now + ``CLOCK_SKEW``) and today's date in China.

    Without ``now`` they are recomputed at most once a second: ``validate_row`` runs a million times a file.
    """
    if now is not None:
        return now + CLOCK_SKEW, now.astimezone(CHINA).date()
    clock = time_now()
    if clock - _clock[0] >= 1.0:
        current = datetime.fromtimestamp(clock, CHINA)
        _clock[1:] = [(current + CLOCK_SKEW).astimezone(_UTC), current.date()]
        _clock[0] = clock
    return _clock[1], _clock[2]


def validate_row(
    row_no: int, raw: dict[str, str], *, outlet_code: str, now: datetime | None = None
) -> LogRecord | list[RowError]:
    """Check one raw row against the daily-log rules (``COLUMNS``, PRODUCT.md) and normalise it.

    ``outlet_code`` is the outlet the file is uploaded for: a row naming another outlet is an error, and the
    record carries this code. ``now`` (aware; default: the current time) bounds future timestamps. Returns
    the ``LogRecord``, or one ``RowError`` per bad column in column order — never repeating a cell's value.
    """
    if ROW_ERROR_KEY in raw:
        return [RowError(row_no, "", raw[ROW_ERROR_KEY])]
    horizon, today = _now_bounds(now)
    ctx = (horizon, outlet_code)
    get = raw.get
    values = _DEFAULTS.copy()
    for position in _OUTLETS:
        values[position] = outlet_code
    errors: list[RowError] = []
    for position, key, parse, required in _PLAN:
        text = get(key)
        if text:
            try:
                value = parse(text, ctx)
            except DomainError as exc:
                errors.append(RowError(row_no, key, exc.code, exc.params))
                continue
            if value is not None:
                values[position] = value
                continue
        if required:
            errors.append(RowError(row_no, key, "validation_error.required"))
    for position, key, required in _FLAGS:
        text = get(key)
        if text:
            flag = _BOOLEANS.get(text)
            if flag is None:
                try:
                    flag = _parse_bool(text, ctx)
                except DomainError as exc:
                    errors.append(RowError(row_no, key, exc.code, exc.params))
                    continue
            values[position] = flag
        elif required:
            errors.append(RowError(row_no, key, "validation_error.required"))
    for type_at, number_at, type_key, number_key in _ID_PAIRS:
        number = values[number_at]
        if number is not None:
            id_type = values[type_at]
            if id_type is not None:
                try:
                    values[number_at] = validate_id_no(id_type, number, today=today)
                except DomainError as exc:
                    errors.append(RowError(row_no, number_key, exc.code, exc.params))
            elif all(e.column != type_key for e in errors):
                errors.append(RowError(row_no, number_key, "validation_error.id_no_without_type"))
        elif values[type_at] is not None:
            errors.append(RowError(row_no, number_key, "validation_error.id_type_without_no"))
    if errors:
        errors.sort(key=lambda error: _POSITION[error.column])
        return errors
    return LogRecord(row_no, *values)


class RepeatedWaybills:
    """The waybills of one file so far: a waybill repeated inside one file is a row error (PRODUCT.md), naming
    the row that had it first; only the first row with a waybill is stored."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}

    def check(self, record: LogRecord) -> RowError | None:
        first = self._first.setdefault(record.waybill_no, record.row)
        if first == record.row:
            return None
        return RowError(record.row, "waybill_no", "validation_error.waybill_repeated", {"first_row": first})


# --- error report -------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a cell that would start a formula gets a ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_errors_csv(header: Iterable[str], rows: Iterable[Iterable[object]], stream: TextIO) -> None:
    """Write an error report as CSV to a text stream opened with ``newline=''``: the ``header`` cells, then
    ``rows`` of cells already in the reader's language. Text cells that a spreadsheet would run as a formula
    are prefixed with ``'``; adding a UTF-8 BOM for Excel is the caller's job."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(list(header))
    for cells in rows:
        writer.writerow([safe_cell(cell) if isinstance(cell, str) else cell for cell in cells])
