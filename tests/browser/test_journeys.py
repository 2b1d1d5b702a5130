"""Each role's main day, in a real browser against a real server."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile

import pytest

from inspection.identity import gb11643_check_char
from inspection.synth import generate_rows, write_csv, write_xlsx
from models.base import CHINA
from tests.browser.conftest import PASSWORDS, cli, shoot



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
    assert download.value.path().read_bytes().startswith("\ufeff行号,出错的列,错误原因,运单号".encode())
    page.goto(page.url.split("/batches")[0] + "/upload")
    page.select_option("#outlet", "HHHT-EMS-001")
    page.set_input_files("#file", str(xlsx_path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+"))
    assert page.locator("#rows-accepted").inner_text() == "120"
    page.click("#batch-summary a")
    assert page.locator("#trend svg polyline").count() == 4  # real-name, inspection, X-ray declared and verified
    assert page.locator("#trend svg polyline.xray_rate_verified").count() == 1
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
    with page.expect_navigation():  # the shortcut submits the decision; the next image loads with a message
        page.keyboard.press("c")
    page.wait_for_selector(".flash")
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
    audit_link = page.locator("#plan-audits tbody tr a").first.get_attribute("href")
    worker = page.locator("#plan-audits tbody tr td").nth(2).locator(".code").first.inner_text()  # a username
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


def test_investigator_registers_a_case_gets_it_approved_traces_an_id_and_exports(sign_in, live_server, tmp_path):
    """The investigator's day: a case registered, approved by the auditor, an ID traced in clear, the evidence
    exported; then the auditor finds every step in the access log and verifies its integrity."""
    body = "150102198807150" + "42"
    suspect = body + gb11643_check_char(body)
    day = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    rows = list(generate_rows(30, outlet_code="HHHT-EMS-001", day=day, seed=93, waybill_prefix="BV",
                              noncompliant_ratio=0))
    for row in rows[:3]:
        row.update(sender_id_type="居民身份证", sender_id_no=suspect, sender_name="刘某某")
    log_path = tmp_path / "log.csv"
    write_csv(rows, log_path)
    cli(live_server, "ingest", "HHHT-EMS-001", str(log_path))
    case_no = f"呼公刑-{dt.datetime.now(CHINA):%Y%m%d%H%M%S}"

    page = sign_in("investigator")
    page.click("nav >> text=案件")
    page.click("#new-case")
    page.fill("input[name=case_no]", case_no)
    page.fill("input[name=valid_until]", (day + dt.timedelta(days=60)).isoformat())
    page.fill("textarea[name=legal_basis]", "《中华人民共和国刑事诉讼法》第一百四十三条")
    page.fill("textarea[name=purpose]", "追查涉嫌寄递违禁品的包裹")
    shoot(page, "case-new")
    page.click("#case-form button[type=submit]")
    assert page.locator("#case-status").inner_text() == "待审批"
    case_url = page.url
    page.goto(live_server["url"] + "/trace")
    assert page.locator("#trace-form select[name=case_no] option").count() == 0  # nothing before approval

    auditor = sign_in("auditor")
    auditor.click("nav >> text=案件")
    auditor.click(f"#cases >> text={case_no}")
    auditor.click("#approve-form button[type=submit]")
    assert auditor.locator("#case-status").inner_text() == "已批准"

    page.goto(case_url)
    page.click("#trace-link")
    page.select_option("#trace-form select[name=case_no]", case_no)
    page.select_option("select[name=sender_id_type]", "RESIDENT_ID")
    page.fill("input[name=sender_id_no]", suspect[:6] + " " + suspect[6:].lower())  # as typed: a space, small x
    page.click("#trace-form button[type=submit]")
    assert page.locator("#result-count").inner_text().startswith("3")
    chains = page.locator("section.chain")
    assert chains.count() == 3
    assert suspect in chains.first.inner_text()  # clear for the case's own investigator
    shoot(page, "trace-results")
    with page.expect_download() as download:
        page.click("#export")
    export = tmp_path / "evidence.zip"
    download.value.save_as(export)
    with zipfile.ZipFile(export) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for item in manifest["files"]:
            assert hashlib.sha256(archive.read(item["name"])).hexdigest() == item["sha256"]
        assert archive.read("records.csv").decode("utf-8-sig").count(suspect) == 3

    auditor.click("nav >> text=访问日志")
    auditor.fill("#log-filters input[name=case_no]", case_no)
    auditor.click("#log-filters button[type=submit]")
    actions = [row.locator("td").nth(5).inner_text() for row in auditor.locator("#entries tbody tr").all()]
    assert actions == ["证据导出", "查询", "案件批准", "案件登记"]  # newest first: export, trace, decision, case
    assert suspect not in auditor.content()  # the log keeps a keyed hash of the subject, never the ID
    shoot(auditor, "access-log")
    auditor.click("#verify")
    assert auditor.locator("#verify-ok").count() == 1
    shoot(auditor, "access-log-verified")


def submit(page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to (the old page has the same ids)."""
    with page.expect_navigation():
        page.click(selector)


PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360f80f0000010101005a4d6e5d0000000049454e44ae426082")


def test_order_loop_issue_answer_with_photo_reject_reinspect_close(sign_in, live_server, tmp_path):
    """An inspector issues an order from today's targeted audit, the manager answers with a photo, the inspector
    rejects it with a new deadline, then re-inspects on site and the follow-up closes the order."""
    deadline = (dt.datetime.now(CHINA).date() + dt.timedelta(days=10)).isoformat()
    page = sign_in("inspector")
    page.click("nav >> text=执法检查")
    page.locator("a.audit-card.status-planned", has_text="HHHT-SF-002").first.click()
    for item in page.locator("fieldset.check-item").all():
        item.locator("input[value='1']").check()
    page.locator("#item-real_name_records input[value='0']").check()
    page.fill("#item-real_name_records textarea", "抽查运单20份，6份未登记寄件人证件号码")
    page.check("input[name=result][value=rectify]")
    page.fill("input[name=deadline]", deadline)
    submit(page, "#close-audit")
    page.click("#order-link")
    order_url = page.url
    assert page.locator("#order-status").inner_text() == "待网点整改"
    assert page.locator("#history li").count() == 1

    manager = sign_in("manager")
    manager.goto(order_url)
    photo = tmp_path / "整改后.png"
    photo.write_bytes(PNG_1PX)
    manager.fill("#answer-form textarea[name=response]", "已补录6份运单的寄件人身份信息，并组织收寄人员培训")
    manager.set_input_files("#answer-form input[name=photos]", str(photo))
    submit(manager, "#answer-form button[type=submit]")
    assert manager.locator("#order-status").inner_text() == "已回复"
    assert manager.locator("#history a.photo").count() == 1

    page.goto(order_url)
    page.fill("#reject-form textarea[name=reason]", "照片不能证明已补录全部运单")
    page.fill("#reject-form input[name=deadline]", deadline)
    submit(page, "#reject-form button[type=submit]")
    assert page.locator("#order-status").inner_text() == "待网点整改"
    submit(page, "#reinspect-form button[type=submit]")
    assert page.locator("#order-status").inner_text() == "复查中"
    page.click("#follow-up-link")
    assert page.locator("#settles").count() == 1
    for item in page.locator("fieldset.check-item").all():
        item.locator("input[value='1']").check()
    page.check("input[name=result][value=pass]")
    submit(page, "#close-audit")
    page.goto(order_url)
    assert page.locator("#order-status").inner_text() == "已关闭"
    assert [li.get_attribute("class") for li in page.locator("#history li").all()] == [
        "event-issued", "event-answered", "event-rejected", "event-reinspection", "event-reinspected_pass"]
    shoot(page, "order-history")


def test_penalty_case_from_an_escalated_order_to_a_published_decision(sign_in, live_server, tmp_path):
    """立案 from an escalated order, the notice (rights waived), a fine within the provision's range, both
    documents downloaded as PDFs, the decision published on the public list."""
    page = sign_in("inspector")
    page.goto(live_server["url"] + "/orders?status=escalated")
    links = [a.get_attribute("href") for a in page.locator("#orders tbody a").all()]
    for link in links:
        page.goto(live_server["url"] + link)
        if page.locator("#register-case").count():
            break
    page.click("#register-case")
    option = page.locator("#provision option", has_text="实名收寄").first.get_attribute("value")
    page.select_option("#provision", option)
    shoot(page, "penalty-new")
    submit(page, "#case-form button[type=submit]")
    assert page.locator("#case-status").inner_text() == "已立案"
    page.check("#rights-waived")
    submit(page, "#notice-form button[type=submit]")
    page.select_option("#decision-form select[name=decision]", "fine")
    page.fill("#decision-form input[name=fine_amount]", "50000")  # over the 30,000 元 the provision allows
    submit(page, "#decision-form button[type=submit]")
    assert "30000" in page.locator("#case-errors").inner_text()
    page.select_option("#decision-form select[name=decision]", "fine")
    page.fill("#decision-form input[name=fine_amount]", "20000")
    submit(page, "#decision-form button[type=submit]")
    decision = page.locator("#decision").inner_text()
    assert "20,000 元" in decision
    for link in ("#decision-pdf", "#notice-pdf"):
        with page.expect_download() as download:
            page.click(link)
        assert download.value.path().read_bytes().startswith(b"%PDF")
    submit(page, "#publish-case")
    assert page.locator("#case-status").inner_text() == "已公开"
    shoot(page, "penalty-case")
    number = decision.split(" · ")[0].strip()
    page.goto(live_server["url"] + "/public/penalties")
    assert number in page.locator("#public-penalties").inner_text()


def _cells(path) -> list[list[str]]:
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True).active  # downloads have no suffix
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def test_upload_help_templates_and_chinese_reasons_for_a_bad_file_and_bad_rows(sign_in, tmp_path):
    """zh-CN: the upload page explains the columns and offers templates; a PDF is refused beside the file input,
    bad rows get Chinese reasons on the batch page and in the XLSX report, beside the rows' own cells."""
    page = sign_in("manager")
    page.click("nav >> text=上传")
    columns = page.locator("#columns tbody tr")
    assert columns.count() >= 15 and "必填" in columns.first.inner_text() and "运单号" in columns.first.inner_text()
    with page.expect_download() as download:
        page.click("#template-xlsx")
    template = _cells(download.value.path())
    assert template[0][:3] == ["运单号", "收寄时间", "网点编码"] and len(template) == 3
    with page.expect_download() as download:
        page.click("#template-csv")
    assert download.value.path().read_bytes().startswith("\ufeff运单号,收寄时间".encode())
    shoot(page, "upload-help")

    pdf = tmp_path / "收寄日志.csv"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n")
    page.select_option("#outlet", "HHHT-EMS-001")
    page.set_input_files("#file", str(pdf))
    page.click("#upload-form button[type=submit]")
    beside = page.locator("#file-error")
    beside.wait_for()
    assert "不是收寄日志" in beside.inner_text() and "PDF" in beside.inner_text()
    assert page.locator("#file").get_attribute("aria-invalid") == "true"

    day = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    future = dt.datetime.now(CHINA) + dt.timedelta(hours=2)
    bad = tmp_path / "坏行.csv"
    bad.write_text("运单号,收寄时间,物品名称,数量,证件类型,证件号码\n"
                   f"ZH20261206001,{day} 09:00:00,衣服,1,,\n"
                   f"ZH20261206001,{day} 09:05:00,衣服,1,,\n"
                   f"ZH20261206003,{future:%Y-%m-%d %H:%M:%S},书,1,,\n"
                   f"ZH20261206004,{day} 10:00:00,书,0,居民身份证,11010519491231002Y\n", encoding="utf-8")
    page.set_input_files("#file", str(bad))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/batches/\d+"))
    assert page.locator("#rows-accepted").inner_text() == "1" and page.locator("#rows-rejected").inner_text() == "3"
    reasons = page.locator("#errors").inner_text()
    assert "运单号在文件中重复：第 2 行已有该运单号" in reasons
    assert "“收寄时间”晚于当前时间 10 分钟以上" in reasons and "“数量”必须是正整数" in reasons
    assert not re.search(r"[A-Za-z]{4,} [A-Za-z]{3,}", reasons)  # no English sentence
    with page.expect_download() as download:
        page.click("#errors-xlsx")
    report = _cells(download.value.path())
    assert report[0][:4] == ["行号", "出错的列", "错误原因", "运单号"]
    assert [r[0] for r in report[1:]] == ["3", "4", "5"]
    assert report[3][3] == "ZH20261206004" and "1101**********002Y" in report[3]  # its own cells, masked


def test_a_form_error_is_shown_beside_its_field_in_chinese(sign_in):
    page = sign_in("admin")
    page.goto(page.url.rstrip("/") + "/registry/xray-machines/new")
    page.fill("input[name=code]", "HHHT-EMS-001-X9")
    page.fill("input[name=model]", "同方威视 CX6040BI")
    page.fill("input[name=installed_on]", "2099-01-01")
    page.click("form.card-form button[type=submit]")
    beside = page.locator("label:has(input[name=installed_on]) .error")
    assert "不能是将来的日期" in beside.inner_text()
    page.fill("input[name=code]", "x")
    page.fill("input[name=installed_on]", "2026-01-01")
    page.click("form.card-form button[type=submit]")
    assert "大写字母、数字" in page.locator("label:has(input[name=code]) .error").inner_text()
    shoot(page, "form-error")


def test_error_pages_are_chinese_with_a_way_back(sign_in, live_server):
    page = sign_in("investigator")
    page.goto(live_server["url"] + "/registry/outlets")
    assert page.locator("main h1").inner_text().startswith("无权访问")
    assert page.locator("#home").inner_text() == "返回首页"
    page.goto(live_server["url"] + "/no-such-page")
    assert page.locator("main h1").inner_text().startswith("页面不存在")
