"""Screenshots of every page (desktop 1280 and narrow 390 wide, light and dark) for the
README, taken against the real server; each narrow page must fit without sideways scroll."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import remember_secret
from tests.web.conftest import SCREENSHOTS, LiveServer
from tests.web.test_chat_page import ask

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WIDTHS = {"desktop": 1280, "narrow": 390}
SCHEMES = ("light", "dark")


def fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url} scrolls sideways at {width}px ({overflow}px wide)"


def open_page(
    browser: Browser, server: LiveServer, secret: str, conversation: str, width: int, scheme: str
) -> Page:
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": width, "height": 860},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    context.set_default_timeout(15_000)
    context.add_init_script(
        f"sessionStorage.setItem('docsagent.api_key', {secret!r});"
        f"sessionStorage.setItem('docsagent.conversation_id', {conversation!r});"
    )
    return context.new_page()


def test_screenshots_of_every_page(browser: Browser, page: Page, live_server: LiveServer) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    secret = live_server.new_user("screens")
    for name in ("Production", "My app"):
        live_server.keys.create("screens", name, actor="screens", channel="cli")

    # One conversation with a docs answer, a gap and a pending key action, reused below.
    page.context.add_init_script(f"sessionStorage.setItem('docsagent.api_key', {secret!r})")
    page.goto("/")
    ask(page, "How do I rotate my API key?")
    ask(page, "What is the capital of France?")
    page.get_by_test_id("assistant-turn").nth(1).get_by_role("button", name="Not helpful").click()
    page.get_by_role("button", name="Add comment").click()
    ask(page, "Rotate my Production key")
    expect(page.get_by_test_id("pending-action")).to_be_visible()
    conversation = page.evaluate("sessionStorage.getItem('docsagent.conversation_id')")

    shots: list[tuple[str, str, Callable[[Page], None]]] = [
        ("chat", "/", lambda p: expect(p.get_by_test_id("pending-action")).to_be_visible()),
        (
            "api-keys",
            "/settings/api-keys",
            lambda p: expect(p.locator("#keys-body tr")).to_have_count(3),
        ),
        ("insights", "/insights", lambda p: expect(p.locator("#per-day svg")).to_be_visible()),
    ]
    taken = []
    for label, width in WIDTHS.items():
        for scheme in SCHEMES:
            shot = open_page(browser, live_server, secret, conversation, width, scheme)
            for name, path, ready in shots:
                shot.goto(path)
                ready(shot)
                fits(shot, width)
                target = SCREENSHOTS / f"{name}-{label}-{scheme}.png"
                if name == "chat":  # the composer is sticky: show a tall viewport instead
                    shot.set_viewport_size({"width": width, "height": 1500})
                    shot.screenshot(path=str(target))
                    shot.set_viewport_size({"width": width, "height": 860})
                else:
                    shot.screenshot(path=str(target), full_page=True)
                taken.append(target)
            # The dialogs of the key flow: name, the once-only key, the rotate confirmation.
            shot.goto("/settings/api-keys")
            shot.get_by_role("button", name="Generate API key").click()
            shot.get_by_label("Name", exact=True).fill("Staging")
            target = SCREENSHOTS / f"api-keys-generate-{label}-{scheme}.png"
            shot.screenshot(path=str(target))
            taken.append(target)
            shot.get_by_role("button", name="Generate", exact=True).click()
            popup = shot.locator("dialog.secret-dialog")
            remember_secret(popup.get_by_test_id("secret-value").inner_text().strip())
            target = SCREENSHOTS / f"api-keys-secret-{label}-{scheme}.png"
            shot.screenshot(path=str(target))
            taken.append(target)
            popup.get_by_role("button", name="I saved it, close").click()
            shot.get_by_role("button", name="Rotate Staging").click()
            expect(shot.get_by_role("dialog", name="Rotate API key?")).to_be_visible()
            target = SCREENSHOTS / f"api-keys-rotate-{label}-{scheme}.png"
            shot.screenshot(path=str(target))
            taken.append(target)
            shot.keyboard.press("Escape")
            shot.get_by_role("button", name="Revoke Staging").click()
            shot.get_by_role("dialog", name="Revoke API key?").get_by_role(
                "button", name="Revoke"
            ).click()
            expect(shot.locator("tr", has_text="Staging")).to_have_count(0)
            shot.context.close()
    assert all(path.stat().st_size > 10_000 for path in taken)
