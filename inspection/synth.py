"""Synthetic daily logs (收寄日志) as outlet systems export them, for tests, demo data and ingest benchmarks.

``generate_rows`` streams rows (dicts of column key -> text) deterministically from a seed; the writers stream
them to CSV (UTF-8, BOM, GBK/GB18030), XLSX or JSON Lines without holding them in memory. Run as
``python -m inspection.synth OUT_PATH --rows N --outlet CODE`` to write a file.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import itertools
import json
import os
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openpyxl import Workbook

from inspection.columns import COLUMNS as DAILY_LOG_COLUMNS
from inspection.regions import PROVINCES
from inspection.identity import ID_TYPES, credit_code_check_char, gb11643_check_char
from models.base import china_today

__all__ = [
    "COLUMNS",
    "DEFECTS",
    "ZH_ALIASES",
    "generate_rows",
    "main",
    "make_credit_code",
    "make_resident_id",
    "write_csv",
    "write_jsonl",
    "write_xlsx",
]

COLUMNS: tuple[str, ...] = tuple(DAILY_LOG_COLUMNS)
"""The keys of the daily-log columns (``inspection.columns.COLUMNS``), in their order."""

ZH_ALIASES: dict[str, str] = {key: column.alias_zh for key, column in DAILY_LOG_COLUMNS.items()}
_EXAMPLES: dict[str, str] = {key: column.example for key, column in DAILY_LOG_COLUMNS.items()}

DEFECTS: tuple[str, ...] = (
    "bad_checksum",
    "bad_birth_date",
    "bad_id_shape",
    "unknown_id_type",
    "empty_waybill",
    "bad_waybill",
    "bad_collected_at",
    "wrong_outlet",
    "long_sender_name",
    "bad_phone",
    "empty_item_name",
    "long_item_name",
    "bad_quantity",
    "bad_boolean",
)
"""The ways ``generate_rows`` makes a row invalid; each invalid row has exactly one of them."""


_HOME_AREAS = (
    "150102", "150103", "150104", "150105", "150121", "150125", "150202", "150203", "150204", "150207",
    "150302", "150402", "150404", "150502", "150602", "150702", "150802", "150902", "152201", "152502",
    "152921",
)
_OTHER_AREAS = (
    "110105", "120101", "130102", "140105", "210102", "220102", "230102", "310101", "320102", "330102",
    "340102", "350102", "360102", "370102", "410102", "420102", "430102", "440106", "450102", "500101",
    "510104", "520102", "530102", "610102", "620102", "630102", "640104", "650102",
)
_HMT_AREAS = ("810000", "820000", "830000")

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍红建国志文海燕鹏飞宇浩然子涵雨欣梓轩晨阳佳怡俊博思远晓东春梅丹凤"
_MONGOLIAN_NAMES = (
    "巴特尔", "其其格", "乌兰", "额尔敦", "斯琴", "苏日娜", "那仁", "朝鲁", "宝音", "阿拉坦", "乌日娜", "图雅",
    "哈斯", "格日勒", "满都拉", "萨仁", "包金花", "敖登", "毕力格", "孟和",
)
_FOREIGN_NAMES = (
    "JOHN SMITH", "ANNA IVANOVA", "KIM MIN JUN", "SATO YUKI", "BATBAYAR GANBOLD", "OYUN ERDENE",
    "约翰·史密斯", "安娜·伊万诺娃", "巴特巴雅尔·甘宝力德", "MARIA GARCIA", "DAVID MILLER", "LEE SEO YEON",
)
_NATIONALITIES = (("840", "USA"), ("826", "GBR"), ("410", "KOR"), ("392", "JPN"), ("643", "RUS"), ("496", "MNG"))

_CITIES = ("呼和浩特市", "包头市", "赤峰市", "通辽市", "鄂尔多斯市", "呼伦贝尔市", "乌兰察布市", "巴彦淖尔市", "乌海市")
_COMPANY_WORDS = ("蒙草", "草原", "塞北", "伊利", "鹿城", "青城", "北疆", "金马", "阴山", "黄河", "驼乡", "牧歌")
_COMPANY_TRADES = ("商贸", "电子商务", "食品", "乳业", "羊绒制品", "农牧业科技", "文化传媒", "物流", "服饰")
_COMPANY_SUFFIXES = ("有限公司", "有限责任公司", "股份有限公司", "商行")

_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("服装", ("羊绒衫", "羽绒服", "T恤", "牛仔裤", "运动鞋", "围巾", "衬衫、裤子", "蒙古袍", "羽绒服（黑色L码）")),
    ("文件", ("合同", "发票", "证书", "资料", "文件", "票据")),
    ("电子产品", ("手机", "耳机", "数据线", "平板电脑", "笔记本电脑", "键盘", '小米手机 "Redmi"', "路由器")),
    ("食品", ("牛肉干", "奶酪", "奶片", "月饼", "茶叶", "奶茶粉", "炒米", "沙棘汁", "莜面")),
    ("日用品", ("毛巾", "杯子", "床单", "收纳盒", "雨伞", "保温杯")),
    ("图书", ("图书", "教材", "书籍,文具", "杂志")),
    ("化妆品", ("面霜", "口红", "护手霜", "面膜")),
    ("汽车配件", ("刹车片", "滤清器", "雨刮器", "汽车脚垫")),
    ("五金工具", ("螺丝刀套装", "扳手", "门锁", "合页")),
    ("药品", ("中药饮片", "保健品", "蒙药")),
)
_ITEM_WEIGHTS = (24, 12, 14, 18, 10, 6, 6, 4, 3, 3)

_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 171 173 175 "
    "176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 198 199"
).split()
_LANDLINE_AREAS = ("0471", "0472", "0473", "0475", "0476", "0477", "0474", "0478", "0482", "0483", "010")

_BOOLEAN_SPELLINGS = (
    ("是", "否"), ("Y", "N"), ("y", "n"), ("true", "false"), ("TRUE", "FALSE"), ("True", "False"), ("1", "0")
)

_ID_TYPE_WEIGHTS = (
    ("RESIDENT_ID", 930),
    ("TEMP_RESIDENT_ID", 8),
    ("HK_MO_PERMIT", 10),
    ("TW_PERMIT", 5),
    ("HMT_RESIDENCE", 8),
    ("FOREIGN_PERMANENT", 4),
    ("PASSPORT", 22),
    ("MILITARY", 6),
    ("POLICE", 4),
    ("OTHER", 3),
)

# Waybill shapes per enterprise: (prefix, number of digits after it).
_WAYBILL_STYLES: dict[str, tuple[str, int]] = {
    "EMS": ("11", 11),
    "SF": ("SF", 13),
    "ZTO": ("7", 14),
    "YTO": ("YT", 13),
    "STO": ("77", 13),
    "YD": ("43", 11),
    "JD": ("JDX", 12),
    "JT": ("JT", 13),
}

_CONTRACT_SHARE = 0.06
_REPEAT_SENDER_SHARE = 0.08
_WORKDAY_START = datetime.time(8, 0)
_WORKDAY_SECONDS = 12.5 * 3600
_XLSX_MAX_ROWS = 1_048_576


def make_resident_id(rng: random.Random, *, area: str = "150102", birth: datetime.date | None = None) -> str:
    """A valid 18-character GB 11643 resident ID number for ``area`` (6 digits) and ``birth`` (random adult
    birth date from 1945-2006 if omitted)."""
    if len(area) != 6 or not area.isdigit():
        raise ValueError("area must be a 6-digit region code")
    if birth is None:
        birth = datetime.date(1945, 1, 1) + datetime.timedelta(days=rng.randrange(62 * 365))
    body = f"{area}{birth:%Y%m%d}{rng.randrange(1, 1000):03d}"
    return body + gb11643_check_char(body)


_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check_char(first8: str) -> str:
    """GB 11714 organisation-code check character (positions 9-17 of a credit code are an organisation code)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_credit_code(rng: random.Random) -> str:
    """A valid unified social credit code (GB 32100): registered by market regulation (9), mostly enterprises,
    an Inner Mongolia area code, a GB 11714 organisation code and the check character."""
    kind = rng.choices(("91", "92", "93"), weights=(80, 15, 5))[0]
    if rng.random() < 0.7:
        org = "MA" + "".join(rng.choice(_CREDIT_ALPHABET) for _ in range(6))
    else:
        org = "".join(rng.choice("0123456789") for _ in range(8))
    body = kind + rng.choice(_HOME_AREAS) + org + _org_code_check_char(org)
    return body + credit_code_check_char(body)


@dataclass(frozen=True)
class _Sender:
    name: str
    id_type: str
    id_no: str
    phone: str


class _Waybills:
    """Unique, non-sequential waybill numbers: an affine permutation of 0..10**digits - 1."""

    def __init__(self, rng: random.Random, outlet_code: str, prefix: str | None) -> None:
        if prefix is not None:
            if len(prefix) > 20 or not all(c.isascii() and (c.isalnum() or c == "-") for c in prefix):
                raise ValueError("waybill_prefix must be at most 20 of [A-Za-z0-9-]")
            self.prefix, self.digits = prefix.upper(), 12
        else:
            upper = outlet_code.upper()
            style = next((k for k in sorted(_WAYBILL_STYLES, key=len, reverse=True) if upper.startswith(k)), None)
            self.prefix, self.digits = _WAYBILL_STYLES[style or rng.choice(sorted(_WAYBILL_STYLES))]
        self.modulus = 10**self.digits
        self.step = rng.randrange(self.modulus // 10, self.modulus) | 1
        while self.step % 5 == 0:
            self.step += 2
        self.offset = rng.randrange(self.modulus)
        self.count = 0

    def next(self) -> str:
        if self.count >= self.modulus:
            raise ValueError("too many rows for unique waybill numbers")
        value = (self.step * self.count + self.offset) % self.modulus
        self.count += 1
        return f"{self.prefix}{value:0{self.digits}d}"


class _RowMaker:
    def __init__(
        self,
        rng: random.Random,
        outlet_code: str,
        courier_ids: Sequence[str],
        contract_customer_codes: Sequence[str],
        waybill_prefix: str | None,
        defects: Sequence[str],
        seed: object = 0,
    ) -> None:
        self.rng = rng
        self.outlet_code = outlet_code
        self.courier_ids = tuple(courier_ids)
        self.contracts = {code: self._company_name() for code in contract_customer_codes}
        self.contract_codes = tuple(self.contracts)
        self.waybills = _Waybills(rng, outlet_code, waybill_prefix)
        self.defects = tuple(defects)
        # The recipient side of the waybill draws from its own generator, so adding it left the sender side,
        # counts and defects of every seed as they were.
        self.recipients = random.Random(f"{outlet_code}:{seed}:recipients")
        self.booleans = rng.choice(_BOOLEAN_SPELLINGS)
        self.types_in_chinese = rng.random() < 0.7
        self.recent: list[_Sender] = []
        self.type_codes = tuple(code for code, _ in _ID_TYPE_WEIGHTS)
        self.type_weights = tuple(itertools.accumulate(w for _, w in _ID_TYPE_WEIGHTS))

    def row(self, at: datetime.datetime, kind: str) -> dict[str, str]:
        rng = self.rng
        contract = ""
        if self.contract_codes and kind != "invalid" and rng.random() < _CONTRACT_SHARE:
            contract = rng.choice(self.contract_codes)
            sender = _Sender(self.contracts[contract], "", "", self._phone(landline_share=0.4))
        else:
            sender = self._sender(at.date())
        category, names = rng.choices(_ITEMS, cum_weights=_ITEM_CUM_WEIGHTS)[0]
        row = {
            **_EXAMPLES,  # in the table's order; a column without a generator here keeps its example value
            "waybill_no": self.waybills.next(),
            "collected_at": self._timestamp(at),
            "outlet_code": self.outlet_code,
            "sender_name": sender.name,
            "sender_id_type": self._id_type_text(sender.id_type),
            "sender_id_no": sender.id_no,
            "sender_phone": sender.phone,
            "item_name": rng.choice(names),
            "item_category": category if rng.random() < 0.9 else "",
            "quantity": self._quantity(),
            "real_name_verified": self._bool(True),
            "inspected": self._bool(True),
            "xray_screened": self._bool(True),
            "courier_id": rng.choice(self.courier_ids) if self.courier_ids else "",
            "contract_customer_code": contract,
            **self._recipient(),
        }
        if kind == "noncompliant":
            self._break_compliance(row)
        elif kind == "invalid":
            self._break_validity(row, at)
        return row

    def _recipient(self) -> dict[str, str]:
        """The other half of the waybill: where the item goes and to whom (one in 40 is a letter)."""
        rng = self.recipients
        code, province, _ = rng.choice(_DESTINATIONS)
        letter = rng.random() < 0.025
        return {
            "sender_address": f"{rng.choice(_CITIES)}{rng.choice(_STREETS)}{rng.randrange(1, 300)}号",
            "recipient_name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
            "recipient_phone": rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            "recipient_address": f"{province}{rng.choice(_STREETS)}{rng.randrange(1, 300)}号",
            "destination_region": code if rng.random() < 0.7 else province,
            "is_letter": self._bool(letter),
        }

    def _sender(self, day: datetime.date) -> _Sender:
        rng = self.rng
        if self.recent and rng.random() < _REPEAT_SENDER_SHARE:
            return rng.choice(self.recent)
        id_type = rng.choices(self.type_codes, cum_weights=self.type_weights)[0]
        name, id_no = self._identity(id_type, day)
        sender = _Sender(name, id_type, id_no, self._phone(foreign=id_type in ("PASSPORT", "FOREIGN_PERMANENT")))
        if len(self.recent) < 256:
            self.recent.append(sender)
        else:
            self.recent[rng.randrange(256)] = sender
        return sender

    def _identity(self, id_type: str, day: datetime.date) -> tuple[str, str]:
        rng = self.rng
        digits = self._digits
        if id_type in ("RESIDENT_ID", "TEMP_RESIDENT_ID"):
            area = rng.choice(_HOME_AREAS) if rng.random() < 0.85 else rng.choice(_OTHER_AREAS)
            id_no = make_resident_id(rng, area=area, birth=self._birth(day))
            if id_no.endswith("X") and rng.random() < 0.2:
                id_no = id_no[:-1] + "x"
            elif rng.random() < 0.01:
                id_no = id_no.translate(_FULL_WIDTH)
            return self._chinese_name(), id_no
        if id_type == "HMT_RESIDENCE":
            return self._chinese_name(), make_resident_id(rng, area=rng.choice(_HMT_AREAS), birth=self._birth(day))
        if id_type == "HK_MO_PERMIT":
            return self._chinese_name(), rng.choice("HM") + digits(8) + (digits(2) if rng.random() < 0.5 else "")
        if id_type == "TW_PERMIT":
            return self._chinese_name(), digits(8)
        if id_type == "FOREIGN_PERMANENT":
            numeric, letters = rng.choice(_NATIONALITIES)
            if rng.random() < 0.5:
                body = f"9{rng.choice(('11', '15', '31', '44'))}{numeric}{self._birth(day):%Y%m%d}{digits(3)}"
                return rng.choice(_FOREIGN_NAMES), body + gb11643_check_char(body)
            return rng.choice(_FOREIGN_NAMES), letters + digits(12)
        if id_type == "PASSPORT":
            if rng.random() < 0.6:
                return self._chinese_name(), rng.choice(("E" + digits(8), "EA" + digits(7), "EB" + digits(7)))
            return rng.choice(_FOREIGN_NAMES), rng.choice(("G", "M", "P", "K")) + digits(8)
        if id_type == "MILITARY":
            return self._chinese_name(), rng.choice(("JG", "SB", "")) + digits(8)
        if id_type == "POLICE":
            return self._chinese_name(), "WJ" + digits(8)
        return self._chinese_name(), "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))

    def _digits(self, n: int) -> str:
        return f"{self.rng.randrange(10**n):0{n}d}"

    def _birth(self, day: datetime.date) -> datetime.date:
        age = int(self.rng.triangular(18, 80, 33))
        return datetime.date(day.year - age - 1, 1, 1) + datetime.timedelta(days=self.rng.randrange(365))

    def _chinese_name(self) -> str:
        rng = self.rng
        if rng.random() < 0.12:
            return rng.choice(_MONGOLIAN_NAMES)
        return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))

    def _company_name(self) -> str:
        rng = self.rng
        return (
            rng.choice(_CITIES)
            + rng.choice(_COMPANY_WORDS)
            + rng.choice(_COMPANY_TRADES)
            + rng.choice(_COMPANY_SUFFIXES)
        )

    def _phone(self, *, foreign: bool = False, landline_share: float = 0.05) -> str:
        rng = self.rng
        if foreign and rng.random() < 0.5:
            return rng.choice(("+976 ", "+7 ", "+82 ", "+1 ")) + self._digits(4) + " " + self._digits(4)
        if rng.random() < landline_share:
            return f"{rng.choice(_LANDLINE_AREAS)}-{rng.choice('2345689')}{self._digits(6)}"
        number = rng.choice(_MOBILE_PREFIXES) + self._digits(8)
        style = rng.random()
        if style < 0.88:
            return number
        if style < 0.93:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        if style < 0.97:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        return "+86 " + number

    def _id_type_text(self, code: str) -> str:
        if not code:
            return ""
        chinese = self.types_in_chinese if self.rng.random() < 0.9 else not self.types_in_chinese
        if chinese:
            return ID_TYPES[code].name_zh
        return code.lower() if self.rng.random() < 0.05 else code

    def _timestamp(self, at: datetime.datetime) -> str:
        if self.rng.random() < 0.1:
            return at.strftime("%Y/%m/%d %H:%M")
        return at.strftime("%Y-%m-%d %H:%M:%S")

    def _quantity(self) -> str:
        r = self.rng.random()
        if r < 0.8:
            return "1"
        if r < 0.9:
            return "2"
        if r < 0.97:
            return str(self.rng.randint(3, 5))
        return str(self.rng.randint(6, 50))

    def _bool(self, value: bool) -> str:
        spelling = self.booleans if self.rng.random() < 0.85 else self.rng.choice(_BOOLEAN_SPELLINGS)
        return spelling[0] if value else spelling[1]

    def _break_compliance(self, row: dict[str, str]) -> None:
        rng = self.rng
        failure = rng.choices(("real_name", "inspected", "xray_screened"), weights=(2, 1, 1))[0]
        if failure != "real_name":
            row[failure] = self._bool(False)
            return
        row["real_name_verified"] = self._bool(False)
        row["contract_customer_code"] = ""
        if rng.random() < 0.5:
            row["sender_id_type"] = row["sender_id_no"] = ""

    def _break_validity(self, row: dict[str, str], at: datetime.datetime) -> None:
        rng = self.rng
        defect = rng.choice(self.defects)
        if defect in ("bad_checksum", "bad_birth_date", "bad_id_shape"):
            row["sender_id_type"] = self._id_type_text("RESIDENT_ID")
            row["sender_id_no"] = self._bad_resident_id(defect, at.date())
        elif defect == "unknown_id_type":
            row["sender_id_type"] = rng.choice(("驾驶证", "学生证", "工作证", "DRIVER_LICENSE", "社保卡"))
        elif defect == "empty_waybill":
            row["waybill_no"] = ""
        elif defect == "bad_waybill":
            number = row["waybill_no"]
            row["waybill_no"] = rng.choice((number[:6], number[:5] + "#" + number[5:], number + "0" * 33))
        elif defect == "bad_collected_at":
            row["collected_at"] = rng.choice(
                (f"{at.year}-02-30 10:15:00", f"{at.year}-13-01 09:00:00", "昨天下午", at.strftime("%Y-%m-%d 25:10:00"), "")
            )
        elif defect == "wrong_outlet":
            row["outlet_code"] = "YY-001" if self.outlet_code.startswith("XX-") else "XX-" + self.outlet_code[:20]
        elif defect == "long_sender_name":
            longest = DAILY_LOG_COLUMNS["sender_name"].max_length
            row["sender_name"] = row["sender_name"] + "测试" * (longest // 2 + rng.randint(1, 8))
        elif defect == "bad_phone":
            row["sender_phone"] = rng.choice(("1381234567", "138-1234-567a", "123", "028#1234567", "1201234567 8"))
        elif defect == "empty_item_name":
            row["item_name"] = ""
        elif defect == "long_item_name":
            longest = DAILY_LOG_COLUMNS["item_name"].max_length
            row["item_name"] = "样品" * (longest // 2 + rng.randint(1, 16))
        elif defect == "bad_quantity":
            row["quantity"] = rng.choice(("0", "-2", "2.5", "abc", "十"))
        else:
            flag = rng.choice(("real_name_verified", "inspected", "xray_screened"))
            row[flag] = rng.choice(("maybe", "已验", "2", "?"))

    def _bad_resident_id(self, defect: str, day: datetime.date) -> str:
        rng = self.rng
        valid = make_resident_id(rng, area=rng.choice(_HOME_AREAS), birth=self._birth(day))
        if defect == "bad_checksum":
            return valid[:17] + rng.choice([c for c in "0123456789X" if c != valid[17]])
        if defect == "bad_birth_date":
            bad_date = rng.choice(("0230", "0231", "1301", "0010", "0431", "1132"))
            body = valid[:10] + bad_date + valid[14:17]
            return body + gb11643_check_char(body)
        return rng.choice((valid[:17], valid[:16] + "A" + valid[17], valid + "1"))


_ITEM_CUM_WEIGHTS = tuple(itertools.accumulate(_ITEM_WEIGHTS))

_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


_DESTINATIONS = tuple(PROVINCES)
_STREETS = ("人民路", "新华大街", "中山路", "解放路", "建设路", "文化路", "胜利街", "友谊大街", "和平路", "光明路")


def _yesterday_in_china() -> datetime.date:
    return china_today() - datetime.timedelta(days=1)


def generate_rows(
    n: int,
    *,
    outlet_code: str,
    day: datetime.date | None = None,
    days: int = 1,
    seed: int = 0,
    invalid_ratio: float = 0.0,
    noncompliant_ratio: float = 0.002,
    courier_ids: Sequence[str] = (),
    contract_customer_codes: Sequence[str] = (),
    waybill_prefix: str | None = None,
    defects: Sequence[str] = DEFECTS,
) -> Iterator[dict[str, str]]:
    """Stream ``n`` daily-log rows of one outlet, as its system would export them, in collection order.

    Rows cover ``days`` days from ``day`` (default: yesterday in China; pass a day for reproducible output),
    08:00-20:30 local time. Exactly ``round(n * invalid_ratio)`` rows have one defect from ``defects`` (see
    ``DEFECTS``) that ingest must reject, and exactly ``round(n * noncompliant_ratio)`` other rows are valid
    but fail one of the three systems (no real-name verification, no inspection or no X-ray). Other rows are
    valid and compliant; contract-customer rows (only when ``contract_customer_codes`` is given) carry no ID.
    The same arguments give the same rows. Raises ``ValueError`` for impossible arguments.
    """
    if n < 0 or days < 1:
        raise ValueError("n must be >= 0 and days >= 1")
    if not (0 <= invalid_ratio <= 1 and 0 <= noncompliant_ratio <= 1 and invalid_ratio + noncompliant_ratio <= 1):
        raise ValueError("invalid_ratio and noncompliant_ratio must be in [0, 1] and add up to at most 1")
    unknown = set(defects) - set(DEFECTS)
    if unknown or not defects:
        raise ValueError(f"defects must be a non-empty subset of {DEFECTS}")
    rng = random.Random(seed)
    maker = _RowMaker(rng, outlet_code, courier_ids, contract_customer_codes, waybill_prefix, defects, seed)
    return _rows(maker, n, day or _yesterday_in_china(), days, round(n * invalid_ratio), round(n * noncompliant_ratio))


def _rows(
    maker: _RowMaker, n: int, first_day: datetime.date, days: int, invalid: int, noncompliant: int
) -> Iterator[dict[str, str]]:
    rng = maker.rng
    produced = 0
    for offset in range(days):
        count = n // days + (offset < n % days)
        start = datetime.datetime.combine(first_day + datetime.timedelta(days=offset), _WORKDAY_START)
        for j in range(count):
            at = start + datetime.timedelta(seconds=int((j + rng.random()) * _WORKDAY_SECONDS / count))
            # Sequential sampling without replacement: exact counts, random positions, constant memory.
            u = rng.random() * (n - produced)
            if u < invalid:
                kind, invalid = "invalid", invalid - 1
            elif u < invalid + noncompliant:
                kind, noncompliant = "noncompliant", noncompliant - 1
            else:
                kind = "valid"
            produced += 1
            yield maker.row(at, kind)


PathArg = str | os.PathLike[str]
Headers = Literal["en", "zh"]


def _with_header(
    rows: Iterable[dict[str, str]], headers: Headers
) -> tuple[list[str], list[str], Iterator[dict[str, str]]]:
    if headers not in ("en", "zh"):
        raise ValueError("headers must be 'en' or 'zh'")
    iterator = iter(rows)
    first = next(iterator, None)
    keys = list(first) if first is not None else list(COLUMNS)
    names = [ZH_ALIASES.get(k, k) for k in keys] if headers == "zh" else keys
    return keys, names, (iterator if first is None else itertools.chain([first], iterator))


def write_csv(
    rows: Iterable[dict[str, str]],
    path: PathArg,
    *,
    encoding: str = "utf-8",
    headers: Headers = "en",
    bom: bool = False,
) -> int:
    """Write rows to a CSV file and return how many were written.

    The header row has the keys of the first row (``COLUMNS`` if there are none), as English keys or Chinese
    aliases (``headers='zh'``). ``encoding`` may be any codec, e.g. ``'gbk'`` or ``'gb18030'``; ``bom`` adds a
    UTF-8 byte-order mark and is only allowed with UTF-8.
    """
    if bom:
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
            raise ValueError("a byte-order mark is only written with UTF-8")
        encoding = "utf-8-sig"
    keys, names, iterator = _with_header(rows, headers)
    written = 0
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in iterator:
            writer.writerow([row.get(k, "") for k in keys])
            written += 1
    return written


def write_xlsx(rows: Iterable[dict[str, str]], path: PathArg, *, headers: Headers = "en", typed: bool = False) -> int:
    """Write rows to one sheet of an XLSX workbook (openpyxl write-only, constant memory); return the count.

    Empty values become empty cells, others text; ``typed`` writes ``quantity`` as a number and
    ``collected_at`` as a date-time cell, as spreadsheet exports often do. Raises ``ValueError`` beyond
    Excel's 1,048,576 rows.
    """
    keys, names, iterator = _with_header(rows, headers)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("收寄日志")
    sheet.append(names)
    written = 0
    for row in iterator:
        if written + 1 >= _XLSX_MAX_ROWS:
            raise ValueError("an XLSX sheet holds at most 1,048,575 data rows")
        values: list[object] = [row.get(k) or None for k in keys]
        if typed:
            values = [_typed(k, v) for k, v in zip(keys, values)]
        sheet.append(values)
        written += 1
    workbook.save(path)
    return written


def _typed(key: str, value: object) -> object:
    if key == "quantity" and isinstance(value, str) and value.isdigit():
        return int(value)
    if key == "collected_at" and isinstance(value, str):
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
            try:
                return datetime.datetime.strptime(value, fmt)
            except ValueError:
                continue
    return value


def write_jsonl(rows: Iterable[dict[str, str]], path: PathArg, *, headers: Headers = "en") -> int:
    """Write rows as JSON Lines (UTF-8, one object per line, keys as English keys or Chinese aliases);
    return the count."""
    keys, names, iterator = _with_header(rows, headers)
    written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in iterator:
            handle.write(json.dumps({name: row.get(k, "") for k, name in zip(keys, names)}, ensure_ascii=False))
            handle.write("\n")
            written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a synthetic daily log file (format from ``--format`` or the file suffix)."""
    parser = argparse.ArgumentParser(prog="python -m inspection.synth", description=__doc__.splitlines()[0])
    parser.add_argument("out_path", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--outlet", required=True, help="outlet code")
    parser.add_argument("--format", choices=("csv", "xlsx", "jsonl"))
    parser.add_argument("--encoding", default="utf-8", help="CSV encoding, e.g. utf-8, gbk, gb18030")
    parser.add_argument("--bom", action="store_true", help="CSV: write a UTF-8 byte-order mark")
    parser.add_argument("--headers", choices=("en", "zh"), default="en")
    parser.add_argument("--invalid-ratio", type=float, default=0.0)
    parser.add_argument("--noncompliant-ratio", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--day", type=datetime.date.fromisoformat, help="first day, YYYY-MM-DD (default yesterday)")
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args(argv)

    fmt = args.format or {".xlsx": "xlsx", ".jsonl": "jsonl", ".json": "jsonl"}.get(args.out_path.suffix.lower(), "csv")
    try:
        rows = generate_rows(
            args.rows,
            outlet_code=args.outlet,
            day=args.day,
            days=args.days,
            seed=args.seed,
            invalid_ratio=args.invalid_ratio,
            noncompliant_ratio=args.noncompliant_ratio,
        )
        if fmt == "csv":
            written = write_csv(rows, args.out_path, encoding=args.encoding, headers=args.headers, bom=args.bom)
        elif fmt == "xlsx":
            written = write_xlsx(rows, args.out_path, headers=args.headers)
        else:
            written = write_jsonl(rows, args.out_path, headers=args.headers)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {written} rows to {args.out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
