"""Each role's main day, in a real browser against a real server."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from inspection.synth import generate_rows, write_csv, write_xlsx
from tests.browser.conftest import PASSWORDS, cli, shoot

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("username", sorted(PASSWORDS))
def test_every_demo_account_can_sign_in(sign_in, username):
    page = sign_in(username)
    assert page.locator("header .who").inner_text().strip()
    assert page.locator("main h1").count() == 1


def test_outlet_manager_uploads_gbk_csv_and_xlsx_reads_errors_and_rate(sign_in, tmp_path):
    page = sign_in("manager")
    day = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    csv_path, xlsx_path = tmp_path / "日志.csv", tmp_path / "日志.xlsx"
    write_csv(generate_rows(300, outlet_code="HHHT-EMS-001", day=day, seed=91, invalid_ratio=0.02,
                            waybill_prefix="BR"), csv_path, encoding="gbk", headers="zh")
    write_xlsx(generate_rows(120, outlet_code="HHHT-EMS-001", day=day, seed=92, waybill_prefix="BX"), xlsx_path)
    page.click("nav >> text=上传")
    shoot(page, "upload")
    page.select_option("#outlet", "HHHT-EMS-001")
    page.set_input_files("#file", str(csv_path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+"))
    assert page.locator("#rows-accepted").inner_text() == "294"
    assert page.locator("#rows-rejected").inner_text() == "6"
    assert page.locator("#errors tbody tr").count() >= 6
    shoot(page, "batch-errors")
    with page.expect_download() as download:
        page.click("#errors-csv")
    assert download.value.path().read_bytes().startswith("\ufeffrow,column,message".encode())
    page.goto(page.url.split("/batches")[0] + "/upload")
    page.select_option("#outlet", "HHHT-EMS-001")
    page.set_input_files("#file", str(xlsx_path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+"))
    assert page.locator("#rows-accepted").inner_text() == "120"
    page.click("#batch-summary a")
    assert page.locator("#trend svg polyline").count() == 3
    assert page.locator("#days tbody tr").first.locator("td").nth(1).inner_text() != "0"


def test_inspector_reads_league_table_and_trend(sign_in):
    page = sign_in("inspector")
    page.click("nav >> text=合规监测")
    rows = page.locator("#league tbody tr")
    assert rows.count() >= 12
    shoot(page, "league-table")
    first_rate = rows.first.locator("td").nth(3).inner_text()
    assert first_rate.endswith("%")
    rows.first.locator("a").first.click()
    assert page.locator("#trend svg line.threshold").count() == 1
    shoot(page, "outlet-trend")


def test_inspector_reviews_flagged_xray_images_with_the_keyboard(sign_in, live_server):
    cli(live_server, "xray", "inject-tip", "--count", "2", "--seed", "5")
    page = sign_in("inspector")
    page.click("nav >> text=安检图像复核")
    waiting = int(re.search(r"\d+", page.locator("#waiting").inner_text()).group())
    assert waiting >= 2
    page.wait_for_function("() => document.getElementById('scan-plain').complete")
    assert page.locator("#scan-plain").evaluate("img => img.naturalWidth") > 0
    page.keyboard.press("h")
    page.wait_for_selector("#scan-overlay", state="visible")  # the overlay is computed on first request
    assert page.locator("#scan-plain").is_hidden()
    shoot(page, "xray-review")
    page.keyboard.press("c")
    page.wait_for_load_state("networkidle")
    assert page.locator(".flash").count() == 1
    left = int(re.search(r"\d+", page.locator("#waiting").inner_text()).group())
    assert left == waiting - 1


def test_inspector_draws_a_plan_and_fills_an_audit(sign_in):
    page = sign_in("inspector")
    page.click("nav >> text=执法检查")
    page.click("#draw-plan")
    page.select_option("select[name=region_code]", "150100")
    page.fill("input[name=outlets]", "1")
    page.fill("input[name=seed]", "4242")
    page.click("#plan-form button[type=submit]")
    assert page.locator("#plan-seed").inner_text() == "4242"
    assert "status-accepted" in page.locator("#reproducible").get_attribute("class")
    shoot(page, "audit-plan")
    team = page.locator("#plan-audits tbody tr td").nth(2).inner_text()
    audit_link = page.locator("#plan-audits tbody tr a").first.get_attribute("href")
    worker = team.split(", ")[0]
    page.context.close()
    page = sign_in(worker)
    page.goto(page.url.rstrip("/") + audit_link if audit_link.startswith("/") else audit_link)
    for item in page.locator("fieldset.check-item").all():
        item.locator("input[value='1']").check()
    page.locator("#item-video_coverage input[value='0']").check()
    page.fill("#item-video_coverage textarea", "监控录像仅保存7天")
    shoot(page, "audit-form")
    page.check("input[name=result][value=rectify]")
    page.fill("input[name=deadline]", (dt.date.today() + dt.timedelta(days=10)).isoformat())
    page.click("#close-audit")
    assert page.locator("#audit-result").inner_text() == "限期整改"
    assert page.locator("#publish").count() == 1
