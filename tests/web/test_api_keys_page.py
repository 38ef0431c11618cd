"""Settings → API Keys in a real browser: the docs' generate / save / rotate / revoke flow."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import remember_secret
from tests.web.conftest import LiveServer, sign_in_storage

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FULL_KEY = re.compile(r"^dak_[A-Za-z0-9_-]{20,}$")
XSS_NAME = "<img src=x onerror=alert(1)>"


def secret_in_dialog(page: Page) -> str:
    """The full key shown in the open pop-up (registered with the log-leak watch)."""
    dialog = page.locator("dialog.secret-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You will not be able to see the full key again")
    secret = dialog.get_by_test_id("secret-value").inner_text().strip()
    assert FULL_KEY.match(secret), secret
    return remember_secret(secret)


def open_generate(page: Page) -> None:
    page.get_by_role("button", name="Generate API key").click()
    expect(page.get_by_role("dialog", name="Generate API key")).to_be_visible()


def test_generate_copy_rotate_revoke_flow(page: Page, live_server: LiveServer) -> None:
    login = live_server.new_user("alice")
    page.goto("/settings/api-keys")
    expect(page.get_by_role("button", name="Generate API key")).to_be_disabled()

    # Sign in by pasting a key.
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("API key", exact=True).fill(login)
    page.get_by_role("dialog").get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("alice")

    # 1. Generate API key → name dialog with the docs' examples and validation.
    open_generate(page)
    dialog = page.get_by_role("dialog", name="Generate API key")
    expect(dialog).to_contain_text("Production")
    expect(dialog).to_contain_text("My app")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(dialog.get_by_test_id("name-error")).to_have_text("Enter a name for the key.")
    dialog.get_by_label("Name", exact=True).fill("x" * 256)
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(dialog.get_by_test_id("name-error")).to_contain_text("too long")

    # 2. Generate → pop-up with the full key, Copy, the warning.
    dialog.get_by_label("Name", exact=True).fill("Production")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    first = secret_in_dialog(page)
    popup = page.locator("dialog.secret-dialog")
    popup.get_by_role("button", name="Copy").click()
    expect(popup.get_by_role("status")).to_have_text("Copied to clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == first
    popup.get_by_role("button", name="I saved it, close").click()
    expect(popup).to_have_count(0)

    # 3. The list: masked only, nowhere the full key.
    row = page.locator("tr", has_text="Production")
    expect(row).to_have_count(1)
    masked = row.get_by_test_id("masked-key").inner_text()
    assert masked.startswith("dak_") and "…" in masked and masked != first
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Never")  # last used, expiry
    assert first not in page.content()
    assert live_server.status_with(first) == 200

    # A duplicate name is refused by the server (409) with a message in the dialog.
    open_generate(page)
    dialog = page.get_by_role("dialog", name="Generate API key")
    dialog.get_by_label("Name", exact=True).fill("Production")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(dialog.get_by_test_id("name-error")).to_contain_text("already exists")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # 4. Rotate → confirmation window → the new key once in the same pop-up.
    row.get_by_role("button", name="Rotate Production").click()
    confirm = page.get_by_role("dialog", name="Rotate API key?")
    expect(confirm).to_contain_text("will be permanently disabled and replaced with a new one")
    confirm.get_by_role("button", name="Rotate", exact=True).click()
    second = secret_in_dialog(page)
    assert second != first
    page.locator("dialog.secret-dialog").get_by_role("button", name="I saved it, close").click()
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)
    html = page.content()
    assert first not in html and second not in html
    assert live_server.status_with(first) == 401
    assert live_server.status_with(second) == 200

    # 5. Revoke, with its own confirmation.
    page.locator("tr", has_text="Production").get_by_role(
        "button", name="Revoke Production"
    ).click()
    confirm = page.get_by_role("dialog", name="Revoke API key?")
    expect(confirm).to_contain_text("stop working immediately")
    confirm.get_by_role("button", name="Revoke", exact=True).click()
    expect(page.locator("tr", has_text="Production")).to_have_count(
        0
    )  # revoked keys leave the list
    assert live_server.status_with(second) == 401
    assert live_server.status_with(login) == 200


def test_cancelled_rotation_changes_nothing(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    login = live_server.new_user("dora")
    sign_in_storage(context, login)
    page.goto("/settings/api-keys")
    page.get_by_role("button", name="Rotate dora-login").click()
    expect(page.get_by_role("dialog", name="Rotate API key?")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="Rotate dora-login")).to_be_focused()
    assert live_server.status_with(login) == 200


def test_key_name_with_markup_renders_as_text(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("mallory"))
    page.goto("/settings/api-keys")
    open_generate(page)
    page.get_by_label("Name", exact=True).fill(XSS_NAME)
    page.get_by_role("button", name="Generate", exact=True).click()
    popup = page.locator("dialog.secret-dialog")
    expect(popup).to_contain_text(XSS_NAME)
    secret_in_dialog(page)
    popup.get_by_role("button", name="I saved it, close").click()
    name_cell = page.locator("td .name", has_text="onerror")
    expect(name_cell).to_have_text(XSS_NAME)
    assert page.locator("img").count() == 0


def test_dialog_keeps_focus_and_escape_returns_it(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("kim"))
    page.goto("/settings/api-keys")
    generate = page.get_by_role("button", name="Generate API key")
    expect(generate).to_be_enabled()  # once the page knows who is signed in
    generate.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Generate API key")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    for _ in range(7):  # more Tabs than the dialog has controls
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(generate).to_be_focused()


def test_signed_out_page_asks_for_a_key_and_sign_out_clears_it(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    page.goto("/settings/api-keys")
    expect(page.locator("#auth-notice")).to_contain_text("Sign in with an API key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("API key", exact=True).fill("dak_not-a-real-key-0000000000000000")
    page.get_by_role("dialog").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("dialog")).to_contain_text("That key was not accepted.")
    page.keyboard.press("Escape")

    sign_in_storage(context, live_server.new_user("sam"))
    page.goto("/settings/api-keys")
    expect(page.locator("tr", has_text="sam-login")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('docsagent.api_key')") is None
    expect(page.locator("tr", has_text="sam-login")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("button", name="Generate API key")).to_be_disabled()


def test_rotating_the_session_key_keeps_the_page_signed_in(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    login = live_server.new_user("rhea")
    sign_in_storage(context, login)
    page.goto("/settings/api-keys")
    row = page.locator("tr", has_text="rhea-login")
    expect(row).to_contain_text("this session")
    row.get_by_role("button", name="Rotate rhea-login").click()
    page.get_by_role("dialog", name="Rotate API key?").get_by_role(
        "button", name="Rotate", exact=True
    ).click()
    replacement = secret_in_dialog(page)
    page.locator("dialog.secret-dialog").get_by_role("button", name="I saved it, close").click()
    expect(page.locator("tr", has_text="rhea-login")).to_contain_text("this session")
    assert live_server.status_with(login) == 401
    assert live_server.status_with(replacement) == 200
    page.reload()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("rhea")
