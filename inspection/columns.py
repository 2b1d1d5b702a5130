"""The daily-log columns (收寄日志, PRODUCT.md): one table, read by everything that handles a collection record.

Each ``Column`` says how a file names it (English key, Chinese alias), what it holds (``Type``) and its limits,
whether a file must have it and what an empty cell means, whether it is personal data, and which columns of
``collection_records`` store it. Header recognition, row validation, ``LogRecord``, the bulk writer, the content
hash, synthetic logs, the record views and exports, labels and key rotation all read this table: adding a column
means a row here, the model column, a migration and its label (with translations), nothing else.
"""
from __future__ import annotations

import datetime as dt
import enum
from hashlib import sha256
from dataclasses import dataclass, field


class Type(enum.Enum):
    """What a cell holds, and so how it is parsed and normalised."""

    WAYBILL = "waybill"    # letters, digits and "-", between min_length and max_length; stored upper-case
    DATETIME = "datetime"  # a date and time; naive times are Asia/Shanghai; stored in UTC
    OUTLET = "outlet"      # an outlet code that must name the outlet the file is uploaded for
    TEXT = "text"          # free text: NFKC, whitespace collapsed, at most max_length characters
    CODE = "code"          # an identifier as written (trimmed), at most max_length characters
    INT = "int"            # a positive whole number, at most max_value
    BOOL = "bool"          # 是/否, Y/N, true/false, 1/0 ...
    ID_TYPE = "id_type"    # an identity-document type (code or Chinese name), stored as its code
    ID_NO = "id_no"        # an identity-document number, validated by the ID type column named in id_type_column
    PHONE = "phone"        # a phone number, normalised to its digits (a leading + for international numbers)
    REGION = "region"      # a GB/T 2260 division, as its code or a known name; stored as its six-digit code


class Personal(enum.Enum):
    """Whether a column is personal data, and how it is kept (PRODUCT.md "Personal data")."""

    NONE = "none"
    NAME = "name"    # stored in clear (traced by name), shown masked to roles that may not see it
    ID_NO = "id_no"  # stored only encrypted and as a blind index (keyed hash); shown masked
    PHONE = "phone"  # as ID_NO
    ADDRESS = "address"  # as ID_NO (the blind index only tells two versions apart); shown cut short

    @property
    def encrypted(self) -> bool:
        """Stored as ``(ciphertext, blind index)`` columns, never in clear."""
        return self in (Personal.ID_NO, Personal.PHONE, Personal.ADDRESS)


class Hashed(enum.Enum):
    """How a column enters a record's content hash (what makes two versions of a waybill identical).

    The digests of stored records are compared with new uploads, so the hash of an unchanged record must never
    change: the columns of the first release are joined by position (``POSITIONAL``); a column added later is
    appended with its key only when it has a value (``TAGGED``, the default), so records without it keep their
    digests. ``IDENTITY`` columns identify the record (waybill, outlet) and are not part of its content.
    """

    IDENTITY = "identity"
    POSITIONAL = "positional"
    TAGGED = "tagged"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the daily log. ``default`` is the value of an empty or absent cell (``None``: nothing
    recorded); ``stored_in`` the ``collection_records`` columns that hold it (its key when empty; ciphertext then
    blind index for encrypted personal data); ``example`` a typical cell, for synthetic logs and templates."""

    key: str
    alias_zh: str
    type: Type
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    max_value: int | None = None
    default: object = None
    personal: Personal = Personal.NONE
    stored_in: tuple[str, ...] = field(default=())
    hashed: Hashed = Hashed.TAGGED
    id_type_column: str | None = None
    example: str = ""

    def __post_init__(self) -> None:
        if not self.stored_in:
            object.__setattr__(self, "stored_in", (self.key,))


_POS = Hashed.POSITIONAL

COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("waybill_no", "运单号", Type.WAYBILL, required=True, min_length=8, max_length=32,
               hashed=Hashed.IDENTITY, example="SF1234567890"),
        Column("collected_at", "收寄时间", Type.DATETIME, required=True, hashed=_POS, example="2026-11-28 09:15:00"),
        Column("outlet_code", "网点编码", Type.OUTLET, stored_in=("outlet_id",), hashed=Hashed.IDENTITY),
        Column("sender_name", "寄件人姓名", Type.TEXT, max_length=64, default="", personal=Personal.NAME,
               hashed=_POS, example="张三"),
        Column("sender_id_type", "证件类型", Type.ID_TYPE, hashed=_POS, example="居民身份证"),
        Column("sender_id_no", "证件号码", Type.ID_NO, personal=Personal.ID_NO, id_type_column="sender_id_type",
               stored_in=("sender_id_enc", "sender_id_hmac"), hashed=_POS, example="11010519491231002X"),
        Column("sender_phone", "寄件人电话", Type.PHONE, personal=Personal.PHONE,
               stored_in=("sender_phone_enc", "sender_phone_hmac"), hashed=_POS, example="13812345678"),
        Column("item_name", "物品名称", Type.TEXT, required=True, max_length=128, hashed=_POS, example="衣服"),
        Column("item_category", "物品类别", Type.TEXT, max_length=64, hashed=_POS, example="服装"),
        Column("quantity", "数量", Type.INT, max_value=2**31 - 1, default=1, hashed=_POS, example="1"),
        Column("real_name_verified", "是否实名", Type.BOOL, default=False, hashed=_POS, example="是"),
        Column("inspected", "是否验视", Type.BOOL, default=False, hashed=_POS, example="是"),
        Column("xray_screened", "是否过机", Type.BOOL, default=False, hashed=_POS, example="是"),
        Column("courier_id", "收寄人员", Type.CODE, max_length=32, hashed=_POS, example="C001"),
        Column("contract_customer_code", "协议客户编号", Type.CODE, max_length=32, hashed=_POS),
        Column("sender_address", "寄件地址", Type.TEXT, max_length=200, personal=Personal.ADDRESS,
               stored_in=("sender_address_enc", "sender_address_hmac"), example="呼和浩特市新城区新华大街1号"),
        Column("recipient_name", "收件人姓名", Type.TEXT, max_length=64, personal=Personal.NAME, example="李四"),
        Column("recipient_phone", "收件人电话", Type.PHONE, personal=Personal.PHONE,
               stored_in=("recipient_phone_enc", "recipient_phone_hmac"), example="13912345678"),
        Column("recipient_address", "收件地址", Type.TEXT, max_length=200, personal=Personal.ADDRESS,
               stored_in=("recipient_address_enc", "recipient_address_hmac"), example="北京市海淀区中关村大街27号"),
        Column("destination_region", "寄达地", Type.REGION, max_length=6, example="110000"),
        Column("is_letter", "是否信件", Type.BOOL, default=False, example="否"),
    )
}
"""The daily-log columns in the order of PRODUCT.md, by English key."""

PYTHON_TYPES: dict[Type, type] = {Type.DATETIME: dt.datetime, Type.INT: int, Type.BOOL: bool}
"""The Python type of a validated value (``str`` when not listed; ``datetime`` is aware UTC)."""


def _check(columns: dict[str, Column]) -> None:
    """Refuse a table the consumers cannot serve (at import: a mistake here fails every test at once)."""
    for column in columns.values():
        plain = not column.personal.encrypted and column.type is not Type.OUTLET
        if plain and column.stored_in != (column.key,):
            raise ValueError(f"{column.key}: a column stored as written is stored under its own key")
        if column.personal.encrypted and len(column.stored_in) != 2:
            raise ValueError(f"{column.key}: encrypted personal data needs (ciphertext, blind index) columns")
        if (column.type is Type.ID_NO) != (column.id_type_column is not None):
            raise ValueError(f"{column.key}: an ID number column, and only it, names its ID type column")
        if column.id_type_column and columns.get(column.id_type_column, column).type is not Type.ID_TYPE:
            raise ValueError(f"{column.key}: {column.id_type_column} is not an ID type column")
        if column.type in (Type.TEXT, Type.CODE, Type.WAYBILL) and column.max_length is None:
            raise ValueError(f"{column.key}: text needs a max_length")
        if column.required and column.default is not None:
            raise ValueError(f"{column.key}: a required column has no default")


_check(COLUMNS)


# --- the record as it is stored: personal data, and what makes two versions identical -------------------------

ENCRYPTED: tuple[Column, ...] = tuple(c for c in COLUMNS.values() if c.personal.encrypted)
"""The columns stored only as (ciphertext, blind index); their key is the purpose bound into both."""


def purpose(column: Column) -> bytes:
    """What the ciphertext and blind index of a personal-data column are bound to: the column's key."""
    return column.key.encode()


def _hash_source() -> str:
    """The source of ``content_hash``: one f-string over the columns of the table, as the first release wrote it by
    hand (the hash runs once per stored row; joining the values in a loop costs 40 % more).

    The columns of the first release (``Hashed.POSITIONAL``) are joined by position with ``\x1f``, a missing value
    as ``''``, personal data by its blind index. A column added later (``Hashed.TAGGED``) appends
    ``\x1e<key>=<value>`` only when its value is not its default, so the digests of stored records stay valid.
    """
    def value(column: Column) -> str:
        return f"indexes[{ENCRYPTED.index(column)}]" if column.personal.encrypted else f"record.{column.key}"

    def shown(column: Column) -> str:
        return f"{value(column)}.isoformat()" if column.type is Type.DATETIME else value(column)

    def positional(column: Column) -> str:
        if column.required or column.default is not None:
            return "{" + shown(column) + "}"
        return "{'' if " + value(column) + " is None else " + shown(column) + "}"

    def tagged(column: Column) -> str:
        empty = f"{value(column)} is None" + ("" if column.default is None else
                                              f" or {value(column)} == {column.default!r}")
        return f" + ('' if {empty} else '\\x1e{column.key}=' + str({shown(column)}))"

    text = "\\x1f".join(positional(c) for c in COLUMNS.values() if c.hashed is Hashed.POSITIONAL)
    appended = "".join(tagged(c) for c in COLUMNS.values() if c.hashed is Hashed.TAGGED)
    return f'def content_hash(record, indexes):\n    return sha256((f"{text}"{appended}).encode()).hexdigest()\n'


_HASH_SOURCE = _hash_source()
_made: dict = {"sha256": sha256}
exec(compile(_HASH_SOURCE, "<content_hash made from inspection.columns.COLUMNS>", "exec"), _made)
content_hash = _made["content_hash"]
content_hash.__doc__ = """What makes two versions of a waybill 'identical': every stored column of the daily-log table
except the record's identity (waybill, outlet), personal data by its blind index (``indexes``, one per column of
``ENCRYPTED``). ``record`` is a ``LogRecord`` or a stored ``CollectionRecord`` (plain columns are stored under
their own key). The digest of an unchanged record never changes; see ``_hash_source`` and ``_HASH_SOURCE``."""
