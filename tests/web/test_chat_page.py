"""The chat page in a real browser: streamed answers with sources, key actions with
approval, secrets shown once, conversations kept across reloads, safe rendering."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import remember_secret
from tests.web.conftest import LiveServer, sign_in_storage

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FULL_KEY = re.compile(r"^dak_[A-Za-z0-9_-]{20,}$")


def ask(page: Page, question: str) -> None:
    """Type a question, send it with Enter, wait until its answer has finished."""
    answers = page.get_by_test_id("assistant-turn")
    before = answers.count()
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    expect(answers).to_have_count(before + 1)
    expect(answers.last).not_to_have_attribute("aria-busy", "true")


def take_secret(page: Page) -> str:
    """Read the key from the once-only dialog, close it, check it left the page."""
    dialog = page.locator("dialog.secret-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You will not be able to see the full key again")
    secret = remember_secret(dialog.get_by_test_id("secret-value").inner_text().strip())
    assert FULL_KEY.match(secret), secret
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("status")).to_have_text("Copied to clipboard")
    dialog.get_by_role("button", name="I saved it, close").click()
    expect(dialog).to_have_count(0)
    assert secret not in page.content()
    return secret


def test_docs_answer_streams_with_sources_and_survives_reload(page: Page) -> None:
    page.goto("/")
    expect(page.locator("#auth-notice")).to_contain_text("docs only")
    with page.expect_response("**/v1/chat") as response:
        ask(page, "How do I rotate my API key?")
    assert response.value.headers["content-type"].startswith("text/event-stream")
    answer = page.get_by_test_id("assistant-turn").last
    expect(answer.get_by_test_id("mode")).to_have_text("Local docs")
    expect(answer.locator(".answer")).to_contain_text("permanently disabled")
    source = answer.get_by_test_id("sources").get_by_role("link").first
    expect(source).to_have_attribute("href", re.compile(r"api-keys#rotate-api-key$"))
    followups = answer.locator(".followups").get_by_role("button")
    assert followups.count() >= 1

    page.reload()
    expect(page.get_by_test_id("user-turn")).to_have_text(["How do I rotate my API key?"])
    restored = page.get_by_test_id("assistant-turn")
    expect(restored).to_have_count(1)
    expect(restored.get_by_test_id("sources").get_by_role("link").first).to_have_attribute(
        "href", re.compile(r"#rotate-api-key$")
    )

    ask(page, "How do I generate an API key?")
    expect(page.get_by_test_id("assistant-turn")).to_have_count(2)
    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_test_id("assistant-turn")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('docsagent.conversation_id')") is None


def test_create_then_rotate_with_approval_shows_each_secret_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("bob"))
    page.goto("/")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("bob")

    ask(page, "Create a key named CI")
    expect(page.get_by_test_id("assistant-turn").last.get_by_test_id("mode")).to_have_text(
        "Key action"
    )
    created = take_secret(page)
    assert live_server.status_with(created) == 200

    ask(page, "Rotate my CI key")
    pending = page.get_by_test_id("pending-action")
    expect(pending).to_contain_text("Rotate the key “CI”?")
    staged = page.get_by_test_id("assistant-turn").last.inner_text()
    assert staged.count("permanently disabled and replaced with a new one") == 1  # once
    assert live_server.status_with(created) == 200  # nothing happens before approval
    pending.get_by_role("button", name="Approve").click()
    rotated = take_secret(page)
    assert rotated != created
    expect(pending.get_by_role("status")).to_have_text("Approved.")
    expect(pending.get_by_role("button")).to_have_count(0)
    assert live_server.status_with(created) == 401
    assert live_server.status_with(rotated) == 200

    page.reload()  # history never brings a secret back
    expect(page.get_by_test_id("user-turn").first).to_have_text("Create a key named CI")
    html = page.content()
    assert created not in html and rotated not in html


def test_rejected_rotation_leaves_the_key_working(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("carol"))
    page.goto("/")
    ask(page, "Create a key named CI")
    created = take_secret(page)
    ask(page, "Rotate my CI key")
    pending = page.get_by_test_id("pending-action")
    pending.get_by_role("button", name="Reject").click()
    expect(pending.get_by_role("status")).to_have_text("Rejected.")
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)
    assert live_server.status_with(created) == 200


def _signed_in_with_a_key(
    context: BrowserContext, live_server: LiveServer, owner: str, name: str
) -> str:
    """Sign `owner` in and give them a second key called `name`; returns its secret."""
    sign_in_storage(context, live_server.new_user(owner))
    _record, secret = live_server.keys.create(owner, name, actor=owner, channel="cli")
    return remember_secret(secret)


def test_a_typed_yes_turns_the_card_into_its_outcome_at_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    secret = _signed_in_with_a_key(context, live_server, "erin", "cli-key")
    page.goto("/")
    ask(page, "rotate CLI-KEY")
    card = page.get_by_test_id("pending-action")
    expect(card.get_by_role("button", name="Approve")).to_be_enabled()
    ask(page, "yes")
    rotated = take_secret(page)
    expect(card.get_by_role("status")).to_have_text("Approved.")
    expect(card.get_by_role("button")).to_have_count(0)  # not clickable any more
    assert live_server.status_with(secret) == 401 and live_server.status_with(rotated) == 200
    page.reload()  # the restored card shows the outcome too
    expect(page.get_by_test_id("pending-action").get_by_role("status")).to_have_text("Approved.")
    expect(page.get_by_test_id("pending-action").get_by_role("button")).to_have_count(0)


def test_a_stale_yes_rotates_nothing_and_the_card_says_cancelled(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    secret = _signed_in_with_a_key(context, live_server, "frank", "alice-second")
    page.goto("/")
    ask(page, "please rotate the key 'alice-second'")
    card = page.get_by_test_id("pending-action")
    expect(card.get_by_role("button", name="Approve")).to_be_enabled()
    ask(page, "How do I generate an API key?")
    expect(page.get_by_test_id("assistant-turn").last).to_contain_text("I cancelled the request")
    expect(card.get_by_role("status")).to_contain_text("Cancelled")
    expect(card.get_by_role("button")).to_have_count(0)
    for chip in page.locator(".followups .chip").all_inner_texts():
        assert not re.match(r"(?i)\s*(yes|sure|ok|confirm|approve|go ahead)\b", chip), chip
    ask(page, "yes")
    expect(page.get_by_test_id("assistant-turn").last).to_contain_text("nothing waiting")
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)
    assert live_server.status_with(secret) == 200


def test_markup_in_questions_and_answers_renders_as_text(page: Page) -> None:
    page.goto("/")
    ask(page, "<img src=x onerror=alert(1)> how do I rotate a key?")
    expect(page.get_by_test_id("user-turn").last).to_have_text(
        "<img src=x onerror=alert(1)> how do I rotate a key?"
    )
    assert page.locator("#log img").count() == 0


def test_markdown_renderer_allows_only_its_whitelist(page: Page) -> None:
    page.goto("/")
    html = page.evaluate(
        """async () => {
            const { renderMarkdown } = await import('/static/markdown.js');
            const box = document.createElement('div');
            box.append(renderMarkdown([
              'Hello **bold** and `code` <script>alert(1)</script>',
              '',
              '- [docs](https://docs.nexos.ai/a#rotate-api-key)',
              '- [bad](javascript:alert(1)) [data](data:text/html,x) [rel](/settings/api-keys)',
              '',
              '<img src=x onerror=alert(1)>',
            ].join('\\n')));
            return box.innerHTML;
        }"""
    )
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://docs.nexos.ai/a#rotate-api-key"' in html
    assert 'href="/settings/api-keys"' in html
    assert "javascript:" not in html.split("bad")[0] and 'href="javascript' not in html
    assert 'href="data:' not in html
    assert "<script" not in html and "<img" not in html
    assert "<li>" in html and "<ul>" in html


def test_approval_link_from_a_tool_call_opens_the_pending_action_and_needs_a_click(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    login = live_server.new_user("dave")
    auth = {"Authorization": f"Bearer {login}"}
    record, secret = live_server.keys.create("dave", "Deploy", actor="dave", channel="cli")
    remember_secret(secret)
    staged = live_server.http.post(
        "/v1/tools/rotate_api_key", json={"key": "Deploy"}, headers=auth
    ).json()
    link = staged["result"]["approve_url"]
    assert "approve=" in link and "conversation=" in link

    sign_in_storage(context, login)
    page.goto(link)
    pending = page.get_by_test_id("pending-action")
    expect(pending).to_contain_text("Rotate the key “Deploy”?")
    expect(page.get_by_test_id("assistant-turn").last).to_contain_text("permanently disabled")
    expect(pending.get_by_role("button", name="Approve")).to_be_focused()
    # Opening the link alone approves nothing.
    assert live_server.status_with(secret) == 200
    pending.get_by_role("button", name="Approve").click()
    rotated = take_secret(page)
    assert live_server.status_with(secret) == 401
    assert live_server.status_with(rotated) == 200
    assert record.id in {
        k["id"] for k in live_server.http.get("/v1/user/api_keys", headers=auth).json()
    }
