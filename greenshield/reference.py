"""Reference data every installation has: regions, enterprises, ID types, prohibited-item categories, and the
enforcement tables admins then keep (checklist items per audit kind, legal provisions, the holiday calendar of
the years the calendar library knows)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.calendar import load_library_years
from audits.checklist import load_default_items
from audits.penalties import load_default_provisions
from inspection.identity import ID_TYPES
from inspection.regions import LEAGUES, PROVINCE
from models import Enterprise, IdType, ProhibitedCategory, Region

ENTERPRISES = (
    ("EMS", "中国邮政"),
    ("SF", "顺丰速运"),
    ("ZTO", "中通快递"),
    ("YTO", "圆通速递"),
    ("STO", "申通快递"),
    ("YD", "韵达速递"),
    ("JD", "京东物流"),
    ("JT", "极兔速递"),
)

# 禁止寄递物品指导目录 (国邮发〔2016〕107号), categories 1-19.
PROHIBITED_CATEGORIES = (
    (1, "枪支（含仿制品、主要零部件）弹药", "Firearms (incl. replicas and main parts) and ammunition"),
    (2, "管制器具", "Controlled knives and instruments"),
    (3, "爆炸物品", "Explosives"),
    (4, "压缩和液化气体及其容器", "Compressed and liquefied gases and their containers"),
    (5, "易燃液体", "Flammable liquids"),
    (6, "易燃固体、自燃物质、遇水易燃物质", "Flammable solids, spontaneously combustible and water-reactive substances"),
    (7, "氧化剂和过氧化物", "Oxidisers and peroxides"),
    (8, "毒性物质", "Toxic substances"),
    (9, "生化制品、传染性、感染性物质", "Biochemical products and infectious substances"),
    (10, "放射性物质", "Radioactive material"),
    (11, "腐蚀性物质", "Corrosive substances"),
    (12, "毒品及吸毒工具、非正当用途麻醉药品和精神药品、非正当用途的易制毒化学品",
     "Narcotics, drug paraphernalia, and narcotic or precursor chemicals for improper use"),
    (13, "非法出版物、印刷品、音像制品等宣传品", "Illegal publications, prints and audio-visual propaganda"),
    (14, "间谍专用器材", "Espionage equipment"),
    (15, "非法伪造物品", "Illegally forged articles"),
    (16, "侵犯知识产权和假冒伪劣物品", "Goods infringing intellectual property, counterfeit and shoddy goods"),
    (17, "濒危野生动物及其制品", "Endangered wild animals and their products"),
    (18, "禁止进出境物品", "Articles prohibited from entering or leaving the country"),
    (19, "其他物品", "Other articles prohibited by law"),
)


def _upsert(session: Session, model, key, **values) -> None:
    row = session.get(model, key)
    if row is None:
        session.add(model(**values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def load_reference_data(session: Session) -> None:
    """Insert or refresh the reference data; safe to run again. Flushes, does not commit."""
    code, name, name_en = PROVINCE
    _upsert(session, Region, code, code=code, name=name, name_en=name_en, parent_code=None, level=1)
    session.flush()
    for code, name, name_en in LEAGUES:
        _upsert(session, Region, code, code=code, name=name, name_en=name_en, parent_code=PROVINCE[0], level=2)
    for id_type in ID_TYPES.values():
        _upsert(session, IdType, id_type.code, code=id_type.code, name_zh=id_type.name_zh, name_en=id_type.name_en)
    for code, name_zh, name_en in PROHIBITED_CATEGORIES:
        _upsert(session, ProhibitedCategory, code, code=code, name_zh=name_zh, name_en=name_en)
    existing = set(session.scalars(select(Enterprise.code)))
    for code, name in ENTERPRISES:
        if code not in existing:
            session.add(Enterprise(code=code, name=name, active=True))
    session.flush()
    load_default_items(session)
    load_default_provisions(session)
    load_library_years(session)
