"""The daily safety report (安全运行日报) as a one-page A4 PDF in Chinese, drawn by ReportLab with the CID font
STSong-Light like the enforcement documents (``greenshield.penalties.documents``)."""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from greenshield.incidents.report import DailyReport
from models.base import CHINA
from greenshield.penalties.documents import _font, chinese_date
from greenshield.settings import Settings

TYPES = {"prohibited_item": "禁寄物品流入寄递渠道", "explosion": "邮件快件爆炸", "leak": "邮件快件泄漏", "fire": "火灾",
         "violence_threat": "暴力恐怖威胁", "backlog": "邮件快件大面积积压", "data_leak": "用户个人信息泄露",
         "natural_disaster": "自然灾害", "other": "其他突发事件"}
GRADES = {"I": "Ⅰ级（特别重大）", "II": "Ⅱ级（重大）", "III": "Ⅲ级（较大）", "IV": "Ⅳ级（一般）"}
STATUS = {"reported": "待确认等级", "confirmed": "处置中", "closed": "已结案"}
METRICS = {"real_name": "实名收寄率", "inspection": "收寄验视率", "xray": "过机安检率"}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def render_daily_report(report: DailyReport, settings: Settings) -> bytes:
    """The report on one A4 page: headline figures, alerts, X-ray, incidents by grade and the incidents."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=20, leading=28, alignment=1)
    sub = ParagraphStyle("sub", fontName=font, fontSize=11, leading=16, alignment=1)
    head = ParagraphStyle("head", fontName=font, fontSize=13, leading=20, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, wordWrap="CJK")

    def table(rows, widths):
        t = Table([[Paragraph(escape(str(c)), body) for c in row] for row in rows], colWidths=widths)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
        return t

    story = [
        Paragraph(escape(f"{report.region_name}寄递渠道安全运行日报"), title),
        Paragraph(escape(f"{chinese_date(report.day)}　{settings.enforcement_authority}安全中心"), sub),
        Spacer(1, 4 * mm),
        Paragraph("一、收寄合规", head),
        table([["报送网点", "收寄件数", "实名收寄率", "收寄验视率", "过机安检率", "过机核验率", "低于阈值网点"],
               [report.outlets_reporting, report.parcels, pct(report.real_name_rate), pct(report.inspection_rate),
                pct(report.xray_rate), pct(report.xray_rate_verified) if report.xray_rate_verified is not None
                else "未记录", report.outlets_below]], [22 * mm] * 7),
        Paragraph("二、预警", head),
        table([["当日新增预警", *(METRICS.get(m, m) for m in report.alerts), "未关闭预警合计"],
               [report.alerts_total, *report.alerts.values(), report.open_alerts]],
              None),
        Paragraph("三、过机安检", head),
        table([["过机图像", "AI 标记可疑", "查获禁寄物品", "移交有关部门"],
               [report.scans, report.flagged, report.seized, report.referred]], [38 * mm] * 4),
        Paragraph("四、突发事件", head),
        table([["等级", *(GRADES[g] for g in report.incidents_by_grade), "迟报"],
               ["起数", *report.incidents_by_grade.values(), report.late_reports]], None),
    ]
    if report.incidents:
        story += [Spacer(1, 2 * mm), table(
            [["编号", "网点", "类型", "等级", "状态", "迟报"]]
            + [[i.id, i.outlet_name, TYPES.get(i.type, i.type), GRADES.get(i.grade, i.grade)
                + ("" if i.confirmed else "（建议）"), STATUS.get(i.status, i.status), "是" if i.late else "否"]
               for i in report.incidents], [14 * mm, 44 * mm, 34 * mm, 30 * mm, 20 * mm, 14 * mm])]
    else:
        story.append(Paragraph("当日无突发事件报告。", body))
    if report.worst:
        story += [Paragraph("五、实名收寄率最低的网点", head), table(
            [["网点", "收寄件数", "实名收寄率", "收寄验视率", "过机安检率"]]
            + [[o.name, o.parcels, pct(o.real_name_rate), pct(o.inspection_rate), pct(o.xray_rate)]
               for o in report.worst], [60 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm])]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, topMargin=18 * mm, bottomMargin=15 * mm, leftMargin=18 * mm,
                            rightMargin=18 * mm, title=f"{report.region_name}寄递渠道安全运行日报 {report.day}",
                            author=settings.enforcement_authority, creator="GreenShield")
    doc.build(story)
    return buffer.getvalue()


def render_incident_report(incident, settings: Settings) -> bytes:
    """The special report (突发事件专报) of one incident: the facts, the grade, the follow-ups and the summary."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=20, leading=28, alignment=1)
    sub = ParagraphStyle("sub", fontName=font, fontSize=11, leading=16, alignment=1)
    head = ParagraphStyle("head", fontName=font, fontSize=13, leading=20, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    outlet = incident.outlet

    def when(value) -> str:
        return value.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M") if value else "—"

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    grade = GRADES[incident.effective_grade.value] + ("" if incident.grade else "（建议，待确认）")
    rows = [["事件类型", TYPES.get(incident.type.value, incident.type.value)], ["发生时间", when(incident.occurred_at)],
            ["发生地点", f"{outlet.enterprise.name} {outlet.name}（{outlet.code}）"],
            ["首报时间", when(incident.reported_at) + ("（迟报）" if incident.late else "")],
            ["首报时限", when(incident.report_due_at)], ["事件等级", grade],
            ["伤亡人数", str(incident.casualties)], ["涉及邮件快件或信息", f"{incident.records_affected} 件（条）"],
            ["状态", STATUS.get(incident.status.value, incident.status.value)]]
    table = Table([[p(a), p(b)] for a, b in rows], colWidths=[40 * mm, 130 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee"))]))
    story = [p(f"{settings.enforcement_authority}", sub), p("寄递渠道突发事件专报", title),
             p(f"第 {incident.id} 号", sub), Spacer(1, 4 * mm), table,
             p("一、事件经过", head), p(incident.description),
             p("二、已采取的措施", head), p(incident.measures or "（未填写）")]
    story.append(p("三、续报", head))
    story += [p(f"{when(u.created_at)}：{u.text}") for u in incident.updates] or [p("（无）")]
    if incident.summary:
        story += [p("四、总结", head), p(f"{incident.summary}（{when(incident.closed_at)}结案）")]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, topMargin=20 * mm, bottomMargin=18 * mm, leftMargin=20 * mm,
                            rightMargin=20 * mm, title=f"寄递渠道突发事件专报 第{incident.id}号",
                            author=settings.enforcement_authority, creator="GreenShield")
    doc.build(story)
    return buffer.getvalue()
