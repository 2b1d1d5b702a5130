"""A believable demo province: outlets of several enterprises in several leagues, staff, machines, accounts."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.auth.services import create_user
from models.base import china_today as today
from greenshield.settings import Settings
from inspection.synth import make_credit_code
from models import ContractCustomer, Enterprise, Outlet, OutletKind, Region, Staff, StaffRole, User, XrayMachine

# (code, name, enterprise, region, kind)
OUTLETS = (
    ("HHHT-EMS-001", "呼和浩特新城区邮政营业部", "EMS", "150100", "outlet"),
    ("HHHT-SF-002", "顺丰呼和浩特赛罕区营业点", "SF", "150100", "outlet"),
    ("HHHT-ZTO-SC01", "中通呼和浩特分拨中心", "ZTO", "150100", "sorting_centre"),
    ("BT-YTO-003", "圆通包头昆都仑区网点", "YTO", "150200", "outlet"),
    ("BT-JD-004", "京东物流包头青山区站点", "JD", "150200", "outlet"),
    ("BT-YD-SC02", "韵达包头分拨中心", "YD", "150200", "sorting_centre"),
    ("CF-STO-005", "申通赤峰红山区网点", "STO", "150400", "outlet"),
    ("CF-EMS-006", "赤峰松山区邮政营业部", "EMS", "150400", "outlet"),
    ("TL-JT-007", "极兔通辽科尔沁区网点", "JT", "150500", "outlet"),
    ("ORD-SF-008", "顺丰鄂尔多斯东胜区营业点", "SF", "150600", "outlet"),
    ("ORD-ZTO-009", "中通鄂尔多斯康巴什网点", "ZTO", "150600", "outlet"),
    ("HLBE-YTO-010", "圆通呼伦贝尔海拉尔网点", "YTO", "150700", "outlet"),
    ("WLCB-YD-011", "韵达乌兰察布集宁区网点", "YD", "150900", "outlet"),
    ("XLGL-EMS-012", "锡林浩特邮政营业部", "EMS", "152500", "outlet"),
    ("HLBE-JT-013", "极兔满洲里网点", "JT", "150700", "outlet"),
    ("BT-YD-014", "韵达包头东河区网点", "YD", "150200", "outlet"),
)
NO_MACHINE = {"HLBE-JT-013", "BT-YD-014"}
"""Outlets without an X-ray machine of their own: one uncovered, one screened by its enterprise's sorting centre."""
SCREENING_SITES = {"BT-YD-014": "BT-YD-SC02"}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力斌宇浩凯"

CUSTOMERS = (
    ("CC-HH-001", "内蒙古伊利实业集团电商部", "HHHT-EMS-001"),
    ("CC-BT-002", "包头钢铁集团物资公司", "BT-YTO-003"),
    ("CC-ORD-003", "鄂尔多斯羊绒制品有限公司", "ORD-SF-008"),
    ("CC-CF-004", "赤峰农产品电商合作社", "CF-STO-005"),
)

ACCOUNTS = (
    # username, role, password, scope
    ("admin", "admin", "Demo-admin-2026", {}),
    ("inspector", "inspector", "Demo-inspector-2026", {"region_code": "150000"}),
    ("inspector_bt", "inspector", "Demo-inspector-2026", {"region_code": "150200"}),
    *((f"inspector{i}", "inspector", "Demo-inspector-2026", {"region_code": "150000"}) for i in range(2, 7)),
    ("manager", "outlet_manager", "Demo-manager-2026", {"outlet_codes": ["HHHT-EMS-001", "HHHT-SF-002"]}),
    ("investigator", "investigator", "Demo-investigator-2026", {"agency": "呼和浩特市公安局"}),
    ("auditor", "auditor", "Demo-auditor-2026", {}),
)

DISPLAY_NAMES = {"admin": "系统管理员", "inspector": "安全中心检查员", "inspector_bt": "包头检查员",
                 **{f"inspector{i}": f"检查员{i}" for i in range(2, 7)},
                 "manager": "网点负责人", "investigator": "公安调查员", "auditor": "纪检审核员"}


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def seed_registry(session: Session, rng: random.Random) -> list[Outlet]:
    """Outlets, staff, machines and contract customers; existing entries are left as they are."""
    enterprises = {e.code: e for e in session.scalars(select(Enterprise))}
    existing = {o.code: o for o in session.scalars(select(Outlet))}
    outlets = []
    for code, name, enterprise, region, kind in OUTLETS:
        outlet = existing.get(code)
        if outlet is None:
            outlet = Outlet(code=code, name=name, enterprise=enterprises[enterprise],
                            region=session.get(Region, region), kind=OutletKind(kind), active=True)
            session.add(outlet)
            couriers = 6 if kind == "sorting_centre" else 3
            for i in range(1, couriers + 1):
                session.add(Staff(staff_id=f"{code}-C{i:02d}", name=_person(rng), outlet=outlet,
                                  role=StaffRole.COURIER, active=True))
            for i in range(1, 0 if code in NO_MACHINE else 3 if kind == "sorting_centre" else 2):
                session.add(Staff(staff_id=f"{code}-S{i:02d}", name=_person(rng), outlet=outlet,
                                  role=StaffRole.SCREENER, certificate_no=f"AJY{rng.randrange(10**8):08d}", active=True))
                session.add(XrayMachine(code=f"{code}-X{i}", outlet=outlet, active=True,
                                        model=rng.choice(("NUCTECH CX5030", "同方威视 CX6040BI", "Rapiscan 620XR")),
                                        installed_on=dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(900))))
        outlets.append(outlet)
    session.flush()
    by_code = {o.code: o for o in outlets}
    for code, site in SCREENING_SITES.items():
        if by_code[code].screening_site is None:
            by_code[code].screening_site = by_code[site]
    session.flush()
    known = set(session.scalars(select(ContractCustomer.code)))
    for code, name, outlet_code in CUSTOMERS:
        if code not in known:
            filed = today() - dt.timedelta(days=200)
            session.add(ContractCustomer(code=code, name=name, credit_code=make_credit_code(rng),
                                         outlet=by_code[outlet_code], filed_on=filed,
                                         valid_until=filed + dt.timedelta(days=730), active=True))
    session.flush()
    return outlets


def seed_accounts(session: Session) -> list[tuple[str, str, str]]:
    """One account of each role (two inspectors: province and Baotou), with their demo passwords."""
    from models import Role

    existing = set(session.scalars(select(User.username)))
    for username, role, password, scope in ACCOUNTS:
        if username not in existing:
            create_user(session, username=username, password=password, role=Role(role),
                        display_name=DISPLAY_NAMES[username], **scope)
    return [(u, r, p) for u, r, p, _ in ACCOUNTS]


def seed_demo_province(session: Session, settings: Settings, *, days: int, seed: int) -> list[tuple[str, str, str]]:
    """The whole demo: registry, accounts, and whatever each feature adds. Returns the demo accounts."""
    from greenshield.audits.demo import seed_audits
    from greenshield.incidents.demo import seed_incidents
    from greenshield.ingest.demo import seed_logs
    from greenshield.xray.demo import seed_follow_up, seed_scans, seed_xray

    rng = random.Random(seed)
    outlets = seed_registry(session, rng)
    accounts = seed_accounts(session)
    seed_logs(session, settings, outlets, rng=rng, days=days)
    seed_xray(session, settings, outlets, rng=rng, days=days)
    seed_scans(session, settings, outlets, rng=rng)
    seed_follow_up(session, settings)
    seed_audits(session, settings)
    seed_incidents(session, settings)
    return accounts
