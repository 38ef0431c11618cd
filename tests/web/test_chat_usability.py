"""What a new user tripped over on the pages, in a real browser: a new answer hidden behind
the input box, a conversation lost at sign-in (or shown twice when asked during start-up),
approval and key links opened signed out, the input limit, feedback, revoke confirmation,
and the narrow-screen header."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.conftest import remember_secret
from tests.web.conftest import LiveServer, sign_in_storage
from tests.web.test_chat_page import ask, take_secret

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

QUESTIONS = [
    "How do I rotate my API key?",
    "How do I generate an API key?",
    "What happens to the old key when I rotate it?",
    "How do I revoke an API key?",
]


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).last.bounding_box()
    assert found is not None, selector
    return found


def sign_in_with_dialog(page: Page, secret: str) -> None:
    dialog = page.get_by_role("dialog", name="Sign in with an API key")
    dialog.get_by_label("API key").fill(secret)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_have_count(0)


def test_each_new_answer_is_scrolled_into_view_above_the_input(page: Page) -> None:
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto("/")
    for question in QUESTIONS:
        ask(page, question)
        page.wait_for_timeout(100)  # the last scroll happens right after the answer settles
        answer = box(page, '[data-testid="assistant-turn"]')
        composer = box(page, "#composer")
        assert -1 <= answer["y"] < composer["y"], (question, answer, composer)  # sub-pixel
        if answer["height"] + composer["height"] < 680:  # it fits: all of it is visible
            assert answer["y"] + answer["height"] <= composer["y"] + 1, (question, answer)


def test_signing_in_keeps_the_conversation_started_signed_out(
    page: Page, live_server: LiveServer
) -> None:
    not_found: list[str] = []
    page.on(
        "response",
        lambda r: not_found.append(r.url) if r.status == 404 and "/v1/" in r.url else None,
    )
    page.goto("/")
    ask(page, QUESTIONS[0])
    token = page.evaluate("sessionStorage.getItem('docsagent.conversation_token')")
    assert token  # what opens (and claims) the anonymous conversation, kept by this tab
    page.locator("#account").get_by_role("button", name="Sign in").click()
    sign_in_with_dialog(page, live_server.new_user("erin-signs-in"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("erin-signs-in")
    expect(page.get_by_test_id("user-turn")).to_have_text([QUESTIONS[0]])
    ask(page, QUESTIONS[1])
    page.reload()
    expect(page.get_by_test_id("user-turn")).to_have_text(QUESTIONS[:2])
    expect(page.get_by_test_id("assistant-turn")).to_have_count(2)
    assert not_found == []
    # the conversation is now erin's alone: signed out, it is not readable by its id
    conversation = page.evaluate("sessionStorage.getItem('docsagent.conversation_id')")
    assert live_server.http.get(f"/v1/conversations/{conversation}").status_code == 404
    # nor with the token it was started with, which the tab no longer keeps
    headers = {"X-Conversation-Token": token}
    assert (
        live_server.http.get(f"/v1/conversations/{conversation}", headers=headers).status_code
        == 404
    )
    assert page.evaluate("sessionStorage.getItem('docsagent.conversation_token')") is None


def test_a_question_asked_while_the_page_starts_up_is_shown_once(
    page: Page, live_server: LiveServer
) -> None:
    """The page's start-up (its settings, then the stored conversation) may finish after
    the first answer: what is on the page then is not restored a second time."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/ui/config.json", hold)
    page.goto("/", wait_until="domcontentloaded")
    ask(page, QUESTIONS[0])
    assert len(held) == 1  # the start-up is still waiting for its settings
    held[0].fulfill(status=200, content_type="application/json", body='{"max_question_chars": 333}')
    expect(page.locator("#composer-count")).to_have_text("0 / 333")  # start-up finished
    expect(page.get_by_test_id("user-turn")).to_have_text([QUESTIONS[0]])
    expect(page.get_by_test_id("assistant-turn")).to_have_count(1)


def test_an_approval_link_opened_signed_out_asks_to_sign_in_then_shows_the_action(
    page: Page, live_server: LiveServer
) -> None:
    login = live_server.new_user("frank-follows-a-link")
    owner = "frank-follows-a-link"
    _record, secret = live_server.keys.create(owner, "Deploy", actor=owner, channel="cli")
    remember_secret(secret)
    staged = live_server.http.post(
        "/v1/tools/rotate_api_key",
        json={"key": "Deploy"},
        headers={"Authorization": f"Bearer {login}"},
    ).json()
    page.goto(staged["result"]["approve_url"])
    notice = page.locator("#auth-notice")
    expect(notice).to_contain_text("Sign in with your API key to see the action waiting")
    expect(page.locator("#chat-error")).to_be_empty()  # not "not pending … or not yours"
    notice.get_by_role("button", name="Sign in").click()
    sign_in_with_dialog(page, login)
    pending = page.get_by_test_id("pending-action")
    expect(pending).to_contain_text("Rotate the key “Deploy”?")
    expect(pending.get_by_role("button", name="Approve")).to_be_focused()
    assert live_server.status_with(secret) == 200  # nothing happens without the click
    pending.get_by_role("button", name="Approve").click()
    rotated = take_secret(page)
    assert live_server.status_with(secret) == 401 and live_server.status_with(rotated) == 200


def test_a_new_keys_one_time_link_asks_to_sign_in_then_shows_the_key_once(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    login = live_server.new_user("gina")
    reply = live_server.http.post(
        "/v1/chat/completions",
        json={
            "model": "docsagent",
            "messages": [{"role": "user", "content": "create a key named Phone"}],
        },
        headers={"Authorization": f"Bearer {login}"},
    ).json()
    remember_secret(reply["docsagent_secret"]["api_key"])
    content = reply["choices"][0]["message"]["content"]
    link = re.search(r"(http://\S+/#secret=[A-Za-z0-9_\-]+)", content)
    assert link is not None, content
    page.goto(link.group(1))
    notice = page.locator("#auth-notice")
    expect(notice).to_contain_text("see your new API key")
    assert "#secret" not in page.url  # the ticket leaves the address bar at once
    notice.get_by_role("button", name="Sign in").click()
    sign_in_with_dialog(page, login)
    secret = take_secret(page)
    assert live_server.status_with(secret) == 200
    page.goto("about:blank")
    page.goto(link.group(1))  # the second time it opens nothing
    expect(page.locator("#chat-error")).to_contain_text("cannot be opened")
    expect(page.locator("dialog.secret-dialog")).to_have_count(0)


def test_the_input_counts_to_the_servers_limit_and_keeps_text_on_error(page: Page) -> None:
    page.goto("/")
    box_ = page.get_by_label("Your question")
    expect(page.locator("#composer-count")).to_have_text("0 / 512")
    box_.fill("x" * 700)
    assert len(box_.input_value()) == 512  # the box takes no more than the server allows
    expect(page.locator("#composer-count")).to_have_text("512 / 512")

    def fail(route: Route) -> None:
        body = (
            '{"error": {"code": "unavailable", "message": "The index is busy.", "request_id": ""}}'
        )
        route.fulfill(status=503, content_type="application/json", body=body)

    page.route("**/v1/chat", fail)
    typed = "How do I rotate my API key?\nAnd what happens to the old one?"
    box_.fill(typed)
    box_.press("Enter")
    expect(page.locator("#chat-error")).to_contain_text("The index is busy.")
    expect(box_).to_have_value(typed)  # nothing lost
    expect(page.get_by_test_id("user-turn")).to_have_count(0)
    page.unroute("**/v1/chat")
    box_.press("Enter")
    expect(page.get_by_test_id("user-turn")).to_have_count(1)
    expect(box_).to_have_value("")


def test_thumbs_down_is_recorded_at_once_and_a_comment_replaces_it(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/")
    ask(page, QUESTIONS[2])
    answer = page.get_by_test_id("assistant-turn").last
    with page.expect_request("**/v1/feedback") as sent:
        answer.get_by_role("button", name="Not helpful").click()
    assert sent.value.post_data_json["rating"] == "down"
    expect(answer.locator(".feedback")).to_contain_text("Thanks for the feedback.")
    conversation = page.evaluate("sessionStorage.getItem('docsagent.conversation_id')")

    def ratings() -> list[dict[str, Any]]:
        rows = live_server.app.state.insights.summary(1)["feedback"]
        return [r for r in rows if r.get("question") == QUESTIONS[2]]

    assert [(r["rating"], r["comment"]) for r in ratings()] == [("down", "")], conversation
    answer.get_by_label("Comment (optional)").fill("Show the API call too")
    with page.expect_response("**/v1/feedback"):
        answer.get_by_role("button", name="Add comment").click()
    assert [(r["rating"], r["comment"]) for r in ratings()] == [("down", "Show the API call too")]


def test_revoking_a_key_says_it_was_revoked(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("hank"))
    _record, secret = live_server.keys.create("hank", "Old laptop", actor="hank", channel="cli")
    remember_secret(secret)
    page.goto("/settings/api-keys")
    page.get_by_role("button", name="Revoke Old laptop").click()
    page.get_by_role("dialog", name="Revoke API key?").get_by_role(
        "button", name="Revoke", exact=True
    ).click()
    status = page.locator("#keys-status")
    expect(status).to_be_visible()
    expect(status).to_contain_text("“Old laptop”")
    expect(status).to_contain_text("was revoked: it no longer works")
    assert live_server.status_with(secret) == 401


def admin_login(live_server: LiveServer, name: str) -> str:
    """A sign-in key of the admin owner the web server knows (one per test)."""
    _record, secret = live_server.keys.create("insights-admin", name, actor="x", channel="cli")
    return remember_secret(secret)


@pytest.mark.parametrize("path", ["/", "/settings/api-keys", "/insights"])
def test_the_narrow_header_is_compact_and_the_placeholder_fits(
    page: Page, context: BrowserContext, live_server: LiveServer, path: str
) -> None:
    sign_in_storage(context, admin_login(live_server, f"narrow {path}"))
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(path)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    header = box(page, ".site-header")
    assert header["height"] <= 100, header  # was ~235 px in three rows
    if path == "/":
        fits = page.evaluate(
            """() => {
              const box = document.getElementById('question');
              const style = getComputedStyle(box);
              const ctx = document.createElement('canvas').getContext('2d');
              ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
              const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
              const room = box.clientWidth - pad;
              return ctx.measureText(box.placeholder).width <= room;
            }"""
        )
        assert fits


def test_the_insights_period_picker_sits_at_the_right_of_the_heading(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, admin_login(live_server, "picker"))
    page.goto("/insights")
    expect(page.locator("#days")).to_be_visible()
    head, picker, title = box(page, ".page-head"), box(page, ".toolbar"), box(page, "main h1")
    assert abs((picker["x"] + picker["width"]) - (head["x"] + head["width"])) <= 2, (head, picker)
    assert abs(picker["y"] - title["y"]) <= 12, (picker, title)
