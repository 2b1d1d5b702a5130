"""Safety incidents in a real browser (issue 17): the outlet manager reports an incident and the inspector confirms
its grade, in Chinese, with the error beside its field; the daily safety report and the emergency page of the demo
province."""
from __future__ import annotations

import datetime as dt
import re

from models.base import CHINA
from tests.browser.conftest import shoot


def test_manager_reports_an_incident_and_the_inspector_confirms_its_grade(sign_in, live_server):
    page = sign_in("manager")
    page.click("nav >> text=突发事件")
    assert page.locator("main h1").inner_text() == "突发事件"
    page.click("#report-incident")
    assert "请立即报告" in page.locator("main").inner_text()
    page.select_option("#outlet", "HHHT-EMS-001")
    page.select_option("#type", "fire")
    later = (dt.datetime.now(CHINA) + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#occurred-at", later)
    page.fill("#description", "营业部仓库纸箱堆放处起火，两名员工被烧伤")
    page.fill("#casualties", "3")
    page.fill("#measures", "已扑灭明火，伤员送医")
    page.click("#submit-incident")
    error = page.locator("#error-occurred_at")
    assert error.inner_text() == "事件发生时间不能晚于现在（不能是未来时间）。"
    assert page.locator("label", has=page.locator("#occurred-at")).locator(".error").count() == 1  # beside it
    assert page.input_value("#description") == "营业部仓库纸箱堆放处起火，两名员工被烧伤"  # nothing typed is lost
    shoot(page, "incident-report-error")
    earlier = (dt.datetime.now(CHINA) - dt.timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#occurred-at", earlier)
    page.click("#submit-incident")
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    incident_url = page.url
    assert page.locator("#grade-suggested").inner_text() == "Ⅲ级（较大）"
    assert page.locator("#incident-status").inner_text() == "已报告，待确认等级"
    assert page.locator("#on-time").inner_text() == "按时报告"
    assert page.locator("#grade-form").count() == 0  # an outlet manager does not grade
    page.fill("#update-text", "两名伤员已送医，伤情稳定")
    page.click("#add-update")
    assert "两名伤员已送医" in page.locator("#updates").inner_text()

    inspector = sign_in("inspector2")
    inspector.click("nav >> text=通知")
    assert "呼和浩特新城区邮政营业部 报告突发事件：火灾，建议等级 Ⅲ级（较大）" in inspector.locator("#notifications").inner_text()
    inspector.goto(incident_url)
    assert "营业部仓库纸箱堆放处起火" in inspector.locator("#incident-facts").inner_text()
    inspector.select_option("#grade", "II")
    shoot(inspector, "incident-grade")
    inspector.click("#confirm-grade")
    inspector.wait_for_load_state("networkidle")
    confirmed = inspector.locator("#grade-confirmed").inner_text()
    assert confirmed.startswith("Ⅱ级（重大）") and "已上报省级" in confirmed
    assert inspector.locator("#incident-status").inner_text() == "等级已确认"
    inspector.click("nav >> text=突发事件")
    assert "Ⅱ级（重大）" in inspector.locator("#incidents").inner_text()

    # the manager sees the confirmed grade on their page
    page.goto(incident_url)
    assert page.locator("#grade-confirmed").inner_text().startswith("Ⅱ级（重大）")


def test_daily_report_and_emergency_readiness_of_the_demo_province(sign_in):
    page = sign_in("inspector")
    page.click("nav >> text=安全运行日报")
    assert "安全运行日报" in page.locator("main h1").inner_text()
    assert page.locator("#report-incidents th").first.inner_text() == "Ⅰ级（特别重大）"
    pdf = page.context.request.get(page.locator("#report-pdf").evaluate("a => a.href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    shoot(page, "daily-report")
    page.click("nav >> text=应急预案")
    readiness = page.locator("#readiness").inner_text()
    assert "中通" in readiness and "无有效预案" in readiness and "未演练" in readiness
