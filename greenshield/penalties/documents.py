"""The printable documents for the outlet, in Chinese on A4: 责令限期改正通知书 and 行政处罚决定书 (PDF).

ReportLab draws them with STSong-Light, a CJK font every PDF reader with Chinese support has (Adobe's
Adobe-GB1 collection: Acrobat, PDF.js, pdfium, poppler map it to the system's Song face); nothing is read from
the machine that makes them, so a fresh install prints them as well as any. Layout after GB/T 9704 (公文格式):
margins 37/35/28/26 mm, title in 2号, body in 3号.
"""
from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from greenshield.settings import Settings
from models import PenaltyCase, PenaltyDecision, RectificationOrder

FONT = "STSong-Light"
DIGITS = "零壹贰叁肆伍陆柒捌玖"


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("body", fontName=font, fontSize=15, leading=26, wordWrap="CJK", alignment=TA_JUSTIFY,
                          firstLineIndent=30)
    return {
        "authority": ParagraphStyle("authority", parent=base, fontSize=20, leading=30, alignment=TA_CENTER,
                                    firstLineIndent=0, textColor="#c00000"),
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=34, alignment=TA_CENTER,
                                firstLineIndent=0, spaceAfter=6),
        "number": ParagraphStyle("number", parent=base, alignment=TA_RIGHT, firstLineIndent=0, spaceAfter=10),
        "to": ParagraphStyle("to", parent=base, firstLineIndent=0),
        "body": base,
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_RIGHT, firstLineIndent=0),
        "note": ParagraphStyle("note", parent=base, fontSize=11, leading=18, firstLineIndent=0),
    }


def chinese_date(day: dt.date | None) -> str:
    return "　　年　　月　　日" if day is None else f"{day.year}年{day.month}月{day.day}日"


def rmb_upper(amount: int) -> str:
    """Whole 元 in capital figures as on Chinese financial documents: 200000 -> 贰拾万元整."""
    if amount == 0:
        return "零元整"
    units, groups, text = ("", "拾", "佰", "仟"), ("", "万", "亿"), ""
    parts, rest = [], amount
    while rest:
        parts.append(rest % 10000)
        rest //= 10000
    for index in range(len(parts) - 1, -1, -1):
        group, chunk, zero = parts[index], "", False
        if group == 0:
            if text and not text.endswith("零"):
                text += "零"
            continue
        if text and group < 1000 and not text.endswith("零"):
            chunk = "零"
        for position in range(3, -1, -1):
            digit = group // 10 ** position % 10
            if digit == 0:
                zero = bool(chunk or text)
                continue
            if zero and not chunk.endswith("零"):
                chunk += "零"
            chunk += DIGITS[digit] + units[position]
            zero = False
        text += chunk + groups[index]
    return text.rstrip("零") + "元整"


def _party(outlet) -> str:
    return f"{outlet.enterprise.name}{outlet.name}"


def _build(story: list, title: str, settings: Settings) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, topMargin=37 * mm, bottomMargin=35 * mm, leftMargin=28 * mm,
                            rightMargin=26 * mm, title=title, author=settings.enforcement_authority,
                            subject=title, creator="GreenShield")
    doc.build(story)
    return buffer.getvalue()


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_notice(order: RectificationOrder, settings: Settings) -> bytes:
    """责令限期改正通知书 of a rectification order."""
    st, audit, outlet = _styles(), order.audit, order.outlet
    failed = [e for e in audit.items if e.compliant is False]
    story = [
        _p(settings.enforcement_authority, st["authority"]),
        _p("责令限期改正通知书", st["title"]),
        _p(order.notice_no or "", st["number"]),
        _p(f"{_party(outlet)}（网点编码：{outlet.code}）：", st["to"]),
        _p(f"{chinese_date(audit.closed_on)}，本机关执法人员对你单位进行了执法检查，发现你单位存在下列问题：", st["body"]),
    ]
    for number, entry in enumerate(failed, 1):
        story.append(_p(f"{number}. {entry.name_zh}：{entry.finding or '不符合要求'}", st["body"]))
    story += [
        _p(f"整改要求：{order.requirements}", st["body"]),
        _p(f"根据有关法律、法规和规章的规定，现责令你单位于{chinese_date(order.deadline)}前改正上述问题，"
           "并将整改情况（附整改照片等材料）书面报送本机关。逾期不改正或者改正不到位的，本机关将依法立案查处。",
           st["body"]),
        Spacer(1, 10 * mm),
        _p(settings.enforcement_authority, st["sign"]),
        _p(f"（印章）　{chinese_date(order.issued_on)}", st["sign"]),
        Spacer(1, 8 * mm),
        _p(f"执法人员：{'、'.join(u.display_name or u.username for u in audit.inspectors)}"
           + ("；联合检查：" + "、".join(f"{m.agency} {m.name}" for m in audit.members) if audit.members else ""),
           st["note"]),
        _p("当事人签收：＿＿＿＿＿＿　　签收日期：＿＿＿＿年＿＿月＿＿日", st["note"]),
        _p("本通知书一式两份，一份送达当事人，一份存档。", st["note"]),
    ]
    return _build(story, f"责令限期改正通知书 {order.notice_no or ''}".strip(), settings)


def decision_words(case: PenaltyCase) -> str:
    if case.decision is PenaltyDecision.WARNING:
        return "给予警告的行政处罚"
    if case.decision is PenaltyDecision.FINE:
        return f"处以罚款人民币{rmb_upper(case.fine_amount)}（¥{case.fine_amount:,}元）的行政处罚"
    return f"{case.decision_text}的行政处罚"


def render_decision(case: PenaltyCase, settings: Settings) -> bytes:
    """行政处罚决定书 of a decided penalty case."""
    st, outlet, provision = _styles(), case.outlet, case.provision
    if case.hearing_held_on:
        hearing = f"你单位要求听证，本机关于{chinese_date(case.hearing_held_on)}依法举行了听证。"
    elif case.rights_waived:
        hearing = "你单位书面放弃陈述、申辩和听证的权利。"
    else:
        hearing = "你单位在法定期限内未要求听证。"
    story = [
        _p(settings.enforcement_authority, st["authority"]),
        _p("行政处罚决定书", st["title"]),
        _p(case.decision_no or "", st["number"]),
        _p(f"当事人：{_party(outlet)}", st["to"]),
        _p(f"网点编码：{outlet.code}　　所在地区：{outlet.region.name}", st["to"]),
        Spacer(1, 4 * mm),
        _p(f"本机关于{chinese_date(case.registered_on)}对你单位涉嫌违法一案立案调查（立案编号：{case.case_no}）。"
           "经查明：", st["body"]),
        _p(case.facts, st["body"]),
        _p(f"以上事实违反了寄递安全管理的有关规定（{provision.violation}）。"
           + (f"{provision.citation}规定：“{provision.text}”" if provision.verbatim else ""), st["body"]),
        _p(f"本机关于{chinese_date(case.notice_served_on)}向你单位送达了行政处罚事先告知书，告知你单位拟作出行政处罚"
           f"的事实、理由、依据及依法享有的陈述、申辩和要求听证的权利。{hearing}", st["body"]),
        _p(f"依据{provision.citation}的规定，本机关决定对你单位{decision_words(case)}。", st["body"]),
    ]
    if case.decision is PenaltyDecision.FINE:
        story.append(_p("你单位应当自收到本决定书之日起十五日内，到指定的银行或者通过电子支付系统缴纳罚款。到期不缴纳"
                        "罚款的，每日按罚款数额的百分之三加处罚款，加处罚款的数额不超出罚款的数额。", st["body"]))
    story += [
        _p("如不服本决定，你单位可以自收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院"
           "提起行政诉讼。", st["body"]),
        Spacer(1, 10 * mm),
        _p(settings.enforcement_authority, st["sign"]),
        _p(f"（印章）　{chinese_date(case.decided_on)}", st["sign"]),
        Spacer(1, 8 * mm),
        _p("当事人签收：＿＿＿＿＿＿　　签收日期：＿＿＿＿年＿＿月＿＿日", st["note"]),
    ]
    return _build(story, f"行政处罚决定书 {case.decision_no or ''}".strip(), settings)
