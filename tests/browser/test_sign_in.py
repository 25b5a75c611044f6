"""Signing in and out, in Chinese and English, in a real browser."""

from pages import sign_in
from playwright.sync_api import expect


def test_sign_in_shows_who_i_am_then_sign_out(new_page, users):
    users("cmcc_li", ["operator"], tenant="china_mobile", display_name="李明")
    page = new_page()
    page.goto("/")
    assert page.url.endswith("/login")
    assert page.locator("h1").inner_text() == "登录"
    page.fill("input[name=username]", "cmcc_li")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.locator(".flash").inner_text()
    sign_in(page, "cmcc_li")
    assert page.locator("[data-testid=current-user]").inner_text() == "李明"
    assert page.locator("[data-testid=current-tenant]").inner_text() == "中国移动"  # the company, not its id
    assert page.locator(".who .groups").inner_text() == "运营商客户"  # the group in words, not its id
    page.click("text=退出")
    assert page.url.endswith("/login")
    assert "您已退出登录" in page.locator(".flash").inner_text()


def test_english_pages(new_page, users):
    users("wang", ["supervisor"])
    page = new_page(lang="en")
    assert page.locator("h1").inner_text() == "Sign in"
    sign_in(page, "wang")
    assert page.locator("button:has-text('Sign out')").count() == 1
    page.click("text=中文")
    expect(page.locator("button:has-text('退出')")).to_have_count(1)  # waits for the page in Chinese


def test_a_form_without_its_csrf_token_is_refused(live_server, users):
    import urllib.error
    import urllib.parse
    import urllib.request

    users("zhao", ["supervisor"])
    body = urllib.parse.urlencode({"username": "zhao", "password": "password123"}).encode()
    request = urllib.request.Request(f"{live_server}/login", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        assert error.code == 400
        return
    assert "current-user" not in text  # never signed in without the token
