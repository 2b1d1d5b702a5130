"""GB/T 2260 divisions a waybill's destination (寄达地) may name: the provincial-level divisions of China and the
leagues and cities of the demo province, by code and by Chinese name (full or short)."""
from __future__ import annotations

import re

PROVINCES: tuple[tuple[str, str, str], ...] = (
    ("110000", "北京市", "北京"), ("120000", "天津市", "天津"), ("130000", "河北省", "河北"),
    ("140000", "山西省", "山西"), ("150000", "内蒙古自治区", "内蒙古"), ("210000", "辽宁省", "辽宁"),
    ("220000", "吉林省", "吉林"), ("230000", "黑龙江省", "黑龙江"), ("310000", "上海市", "上海"),
    ("320000", "江苏省", "江苏"), ("330000", "浙江省", "浙江"), ("340000", "安徽省", "安徽"),
    ("350000", "福建省", "福建"), ("360000", "江西省", "江西"), ("370000", "山东省", "山东"),
    ("410000", "河南省", "河南"), ("420000", "湖北省", "湖北"), ("430000", "湖南省", "湖南"),
    ("440000", "广东省", "广东"), ("450000", "广西壮族自治区", "广西"), ("460000", "海南省", "海南"),
    ("500000", "重庆市", "重庆"), ("510000", "四川省", "四川"), ("520000", "贵州省", "贵州"),
    ("530000", "云南省", "云南"), ("540000", "西藏自治区", "西藏"), ("610000", "陕西省", "陕西"),
    ("620000", "甘肃省", "甘肃"), ("630000", "青海省", "青海"), ("640000", "宁夏回族自治区", "宁夏"),
    ("650000", "新疆维吾尔自治区", "新疆"), ("710000", "台湾省", "台湾"),
    ("810000", "香港特别行政区", "香港"), ("820000", "澳门特别行政区", "澳门"),
)
"""(code, full name, short name) of each provincial-level division."""

PROVINCE = ("150000", "内蒙古自治区", "Inner Mongolia")
"""The demo province, whose leagues and cities the registry loads as regions."""
LEAGUES = (
    ("150100", "呼和浩特市", "Hohhot"),
    ("150200", "包头市", "Baotou"),
    ("150300", "乌海市", "Wuhai"),
    ("150400", "赤峰市", "Chifeng"),
    ("150500", "通辽市", "Tongliao"),
    ("150600", "鄂尔多斯市", "Ordos"),
    ("150700", "呼伦贝尔市", "Hulunbuir"),
    ("150800", "巴彦淖尔市", "Bayannur"),
    ("150900", "乌兰察布市", "Ulanqab"),
    ("152200", "兴安盟", "Hinggan League"),
    ("152500", "锡林郭勒盟", "Xilingol League"),
    ("152900", "阿拉善盟", "Alxa League"),
)

_CODE = re.compile(r"[1-8][0-9]{5}")
_PROVINCE_PREFIXES = frozenset(code[:2] for code, _, _ in PROVINCES)
_BY_NAME: dict[str, str] = {
    **{name: code for code, name, _ in PROVINCES},
    **{short: code for code, _, short in PROVINCES},
    **{name: code for code, name, _ in LEAGUES},
    **{name.removesuffix("市"): code for code, name, _ in LEAGUES if name.endswith("市")},
}


def region_code(text: str) -> str | None:
    """The GB/T 2260 code a destination names: a six-digit code of a known province, or a known name (北京市,
    北京, 呼和浩特市...). ``None`` when the text is neither."""
    if _CODE.fullmatch(text):
        return text if text[:2] in _PROVINCE_PREFIXES else None
    return _BY_NAME.get(text) or _BY_NAME.get(text.replace(" ", ""))
