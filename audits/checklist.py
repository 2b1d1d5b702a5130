"""The checklists of on-site audits (执法检查 检查要点), one per audit kind, kept as data (``checklist_items``).

``DEFAULT_ITEMS`` is what ``greenshield init-db`` loads into an empty kind; admins extend and retire items from
there. An audit copies the active items of its kind (text included) when it is created, so an audit under way
keeps the items it started with whatever admins change later.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audits.errors import Conflict, Invalid
from models import Audit, AuditKind, ChecklistEntry, ChecklistItem


@dataclass(frozen=True)
class Item:
    code: str
    name_zh: str
    name_en: str
    serious: bool = False


ROUTINE = (
    Item("rules_posted", "安全管理制度上墙", "Security rules posted on the wall"),
    Item("video_coverage", "视频监控24小时覆盖、保存30天", "Video coverage 24 h, recordings kept 30 days"),
    Item("staff_training", "从业人员名册与安全培训", "Staff roster and security training"),
    Item("licence_filing", "经营许可或分支机构备案", "Operating licence or branch filing"),
    Item("xray_full", "100%过机安检", "100 % X-ray screening", serious=True),
    Item("inspection", "收寄验视", "Inspection on receipt", serious=True),
    Item("real_name_records", "实名收寄记录与运单信息完整", "Real-name records and waybill completeness", serious=True),
    Item("prohibited_found", "现场发现禁寄物品", "Prohibited items found on site", serious=True),
)
TARGETED = (
    Item("real_name_records", "实名收寄记录与运单信息完整", "Real-name records and waybill completeness", serious=True),
    Item("real_name_system", "实名收寄信息系统使用与证件核验", "Real-name system in use, ID documents checked"),
    Item("abnormal_ids", "异常实名信息（一证多寄、代填证件）核查", "Abnormal real-name data checked (one ID for many "
         "senders, IDs typed by couriers)", serious=True),
    Item("contract_customers", "协议用户安全协议与备案", "Contract customers' security agreements and filings"),
    Item("staff_training", "从业人员名册与安全培训", "Staff roster and security training"),
    Item("xray_full", "100%过机安检", "100 % X-ray screening", serious=True),
    Item("inspection", "收寄验视", "Inspection on receipt", serious=True),
)
FOLLOW_UP = (
    Item("requirements_met", "整改要求逐项落实", "Each requirement of the order put right", serious=True),
    Item("evidence_matches", "整改材料与现场情况一致", "The outlet's evidence matches what is on site"),
    Item("measures_lasting", "建立长效管理措施", "Lasting measures in place (rules, training, checks)"),
)
SAFETY = (
    Item("fire_equipment", "消防器材配备有效、通道畅通", "Fire equipment in date, escape routes clear", serious=True),
    Item("electrical_safety", "电气线路与充电设施安全", "Wiring and charging of vehicles and devices safe",
         serious=True),
    Item("parcel_stacking", "快件码放规范、远离热源", "Parcels stacked safely, away from heat"),
    Item("dangerous_goods_area", "疑似危险品隔离暂存区设置", "A separate holding area for suspected dangerous goods"),
    Item("sorting_machinery", "分拣设备防护与操作规程", "Sorting machinery guarded, operating rules posted"),
    Item("vehicle_safety", "寄递车辆安全管理", "Delivery vehicles kept safe"),
    Item("emergency_plan", "应急预案与演练记录", "Emergency plan and drill records"),
    Item("hazard_ledger", "隐患排查治理台账", "Register of hazards found and fixed"),
)
DEFAULT_ITEMS: dict[AuditKind, tuple[Item, ...]] = {
    AuditKind.RANDOM: ROUTINE, AuditKind.TARGETED: TARGETED, AuditKind.FOLLOW_UP: FOLLOW_UP,
    AuditKind.SAFETY: SAFETY,
}


def load_default_items(session: Session) -> int:
    """Give each kind that has no items its default checklist; kinds with items are left as admins keep them."""
    added = 0
    for kind, items in DEFAULT_ITEMS.items():
        if session.scalar(select(func.count()).select_from(ChecklistItem).where(ChecklistItem.kind == kind)):
            continue
        for position, item in enumerate(items):
            session.add(ChecklistItem(kind=kind, code=item.code, name_zh=item.name_zh, name_en=item.name_en,
                                      position=position, serious=item.serious, active=True))
            added += 1
    session.flush()
    return added


def items_of(session: Session, kind: AuditKind, *, active_only: bool = True) -> list[ChecklistItem]:
    stmt = select(ChecklistItem).where(ChecklistItem.kind == kind)
    if active_only:
        stmt = stmt.where(ChecklistItem.active.is_(True))
    return list(session.scalars(stmt.order_by(ChecklistItem.position, ChecklistItem.id)))


def ensure_checklist(session: Session, audit: Audit, extra: tuple[ChecklistEntry, ...] = ()) -> None:
    """Give a new audit its checklist (once): the active items of its kind, then ``extra`` entries to check
    again (a follow-up re-checks what its parent audit found wanting)."""
    if audit.items:
        return
    with session.no_autoflush:  # the audit may not be in the session yet
        entries = [(i.code, i.name_zh, i.name_en, i.serious) for i in items_of(session, audit.kind)]
    codes = {code for code, *_ in entries}
    entries += [(e.item, e.name_zh, e.name_en, e.serious) for e in extra if e.item not in codes]
    for position, (code, name_zh, name_en, serious) in enumerate(entries):
        audit.items.append(ChecklistEntry(item=code, name_zh=name_zh, name_en=name_en, serious=serious,
                                          position=position))


def add_item(session: Session, *, kind: AuditKind, code: str, name_zh: str, name_en: str,
             serious: bool = False) -> ChecklistItem:
    """A new item at the end of ``kind``'s checklist. Raises Conflict when the code is taken in that kind."""
    if session.scalar(select(ChecklistItem.id).where(ChecklistItem.kind == kind, ChecklistItem.code == code)):
        raise Conflict("conflict.exists", field="code", value=code)
    if not name_zh.strip() or not name_en.strip():
        raise Invalid("validation_error.checklist_item_name", field="name_zh")
    last = session.scalar(select(func.max(ChecklistItem.position)).where(ChecklistItem.kind == kind))
    item = ChecklistItem(kind=kind, code=code, name_zh=name_zh.strip(), name_en=name_en.strip(),
                         position=(last or 0) + 1, serious=serious, active=True)
    session.add(item)
    session.flush()
    return item
