"""The checklist of an on-site audit of an outlet (执法检查 检查要点)."""
from __future__ import annotations

from dataclasses import dataclass

from models import Audit, ChecklistEntry


@dataclass(frozen=True)
class Item:
    code: str
    name_zh: str
    name_en: str


CHECKLIST: tuple[Item, ...] = (
    Item("rules_posted", "安全管理制度上墙", "Security rules posted on the wall"),
    Item("video_coverage", "视频监控24小时覆盖、保存30天", "Video coverage 24 h, recordings kept 30 days"),
    Item("staff_training", "从业人员名册与安全培训", "Staff roster and security training"),
    Item("licence_filing", "经营许可或分支机构备案", "Operating licence or branch filing"),
    Item("xray_full", "100%过机安检", "100 % X-ray screening"),
    Item("inspection", "收寄验视", "Inspection on receipt"),
    Item("real_name_records", "实名收寄记录与运单信息完整", "Real-name records and waybill completeness"),
    Item("prohibited_found", "现场发现禁寄物品", "Prohibited items found on site"),
)
CODES = tuple(item.code for item in CHECKLIST)


def ensure_checklist(audit: Audit) -> None:
    """Give an audit its checklist entries (once): every audit has them from its creation on."""
    have = {e.item for e in audit.items}
    for position, item in enumerate(CHECKLIST):
        if item.code not in have:
            audit.items.append(ChecklistEntry(item=item.code, position=position))
