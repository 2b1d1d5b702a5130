"""User administration in a real browser: an administrator creates an inspector and resets a password, the user
must change it at the next sign-in, and an auditor sees every action in the administration log."""
from __future__ import annotations

from tests.browser.conftest import shoot


def _context(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def test_admin_creates_an_inspector_resets_the_password_and_the_auditor_sees_it(sign_in, browser, live_server):
    admin = sign_in("admin")
    admin.click("nav >> text=用户管理")
    assert admin.locator("#users tbody tr").count() >= 7
    assert "检查员" in admin.locator("#users").inner_text() and "包头市" in admin.locator("#users").inner_text()
    admin.click("#new-user")
    admin.fill("input[name=username]", "zhou_xc")
    admin.fill("input[name=display_name]", "周巡查")
    admin.select_option("#role", "inspector")
    admin.select_option("#region_code", "150200")
    admin.fill("input[name=password]", "First-pass-2026")
    admin.fill("input[name=password_again]", "First-pass-2027")
    admin.click("#create-user")
    assert "两次输入的密码不一致" in admin.locator("#user-form").inner_text()
    assert admin.locator("input[name=username]").input_value() == "zhou_xc"  # the form keeps what was typed
    admin.fill("input[name=password]", "First-pass-2026")
    admin.fill("input[name=password_again]", "First-pass-2026")
    admin.click("#create-user")
    admin.wait_for_url("**/admin/users/zhou_xc")
    facts = admin.locator("#user-facts").inner_text()
    assert "检查员" in facts and "包头市" in facts and "须修改密码" in facts
    shoot(admin, "user-admin")

    user_context, user = _context(browser)
    try:
        user.goto(live_server["url"] + "/login")
        user.fill("input[name=username]", "zhou_xc")
        user.fill("input[name=password]", "First-pass-2026")
        user.click("#sign-in")
        user.wait_for_url("**/account/password**")
        user.fill("input[name=current_password]", "First-pass-2026")
        user.fill("input[name=new_password]", "Zhou-own-2026")
        user.fill("input[name=new_password_again]", "Zhou-own-2026")
        user.click("#change-password")
        user.wait_for_load_state("networkidle")
        assert "/account/password" not in user.url and "周巡查" in user.locator("header .who").inner_text()

        admin.fill("#reset-form input[name=password]", "Reset-pass-2026")
        admin.fill("#reset-form input[name=password_again]", "Reset-pass-2026")
        admin.click("#reset-password")
        admin.wait_for_load_state("networkidle")
        assert "密码已重置" in admin.locator("main .flash").inner_text()

        user.reload()  # the reset ended the user's session at once
        assert "/login" in user.url
        user.fill("input[name=username]", "zhou_xc")
        user.fill("input[name=password]", "Reset-pass-2026")
        user.click("#sign-in")
        user.wait_for_url("**/account/password**")
        assert "管理员已为您设置了密码" in user.locator("main").inner_text()
        user.goto(live_server["url"] + "/dashboard/")  # nothing else until the password is changed
        assert "/account/password" in user.url
        user.fill("input[name=current_password]", "Reset-pass-2026")
        user.fill("input[name=new_password]", "Reset-pass-2026")
        user.fill("input[name=new_password_again]", "Reset-pass-2026")
        user.click("#change-password")
        assert "不能与当前密码相同" in user.locator("#password-form").inner_text()
        user.fill("input[name=current_password]", "Reset-pass-2026")
        user.fill("input[name=new_password]", "Zhou-newer-2026")
        user.fill("input[name=new_password_again]", "Zhou-newer-2026")
        user.click("#change-password")
        user.wait_for_load_state("networkidle")
        assert "/account/password" not in user.url
    finally:
        user_context.close()

    auditor = sign_in("auditor")
    auditor.click("nav >> text=账号管理日志")
    log = auditor.locator("#actions").inner_text()
    for text in ("创建账号", "重置密码", "用户修改密码", "周巡查"):
        assert text in log, text
    shoot(auditor, "admin-log")
