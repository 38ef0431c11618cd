"""Feedback under answers and the admins' Insights page, in a real browser."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.web.conftest import LiveServer, sign_in_storage
from tests.web.test_chat_page import ask

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

UNANSWERED = "What is the capital of France?"


def test_questions_feedback_and_gaps_show_up_in_insights(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    sign_in_storage(context, live_server.new_user("insights-admin"))
    page.goto("/")
    ask(page, "How do I rotate my API key?")
    ask(page, "How do I generate an API key?")
    ask(page, UNANSWERED)
    expect(page.get_by_test_id("assistant-turn").last.get_by_test_id("mode")).to_have_text(
        "Not found"
    )

    first = page.get_by_test_id("assistant-turn").first
    first.get_by_role("button", name="Not helpful").click()
    first.get_by_label("Comment (optional)").fill("Needs an example <b>please</b>")
    with page.expect_response("**/v1/feedback") as sent:
        first.get_by_role("button", name="Add comment").click()
    assert sent.value.status == 200
    expect(first.locator(".feedback")).to_contain_text("Thanks for the feedback.")
    expect(first.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )

    page.get_by_role("link", name="Insights").click()
    expect(page).to_have_url(re.compile(r"/insights$"))
    expect(page.locator("#insights")).to_be_visible()
    assert int(page.locator("#total").inner_text()) >= 3

    chart = page.locator("#per-day svg")
    expect(chart.locator('rect[data-series="local"]').first).to_be_visible()
    expect(chart.locator('rect[data-series="none"]').first).to_be_visible()
    expect(page.locator("#latency svg")).to_contain_text("p95")
    expect(page.locator("#fallback-rate")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))

    gap = page.get_by_test_id("unanswered-item").filter(has_text=UNANSWERED)
    expect(gap).to_have_count(1)
    expect(gap.locator(".closest").get_by_role("link").first).to_have_attribute(
        "href", re.compile(r"^https://docs\.nexos\.ai/")
    )
    again = gap.get_by_role("link", name="Ask again")
    # The server groups questions case-insensitively, so the link may be lower-cased.
    href = f"/?q={quote(UNANSWERED, safe='')}"
    expect(again).to_have_attribute("href", re.compile(f"^{re.escape(href)}$", re.I))

    bad = page.get_by_test_id("feedback-item").filter(has_text="Needs an example")
    expect(bad).to_contain_text("How do I rotate my API key?")
    expect(bad).to_contain_text("<b>please</b>")  # shown as text, not markup
    assert page.locator("#feedback b").count() == 0

    again.click()
    expect(page.get_by_label("Your question")).to_have_value(
        re.compile(re.escape(UNANSWERED), re.I)
    )


def test_insights_are_for_admins_only(
    page: Page, context: BrowserContext, live_server: LiveServer
) -> None:
    page.goto("/insights")
    expect(page.locator("#auth-notice")).to_contain_text("Sign in with an admin's API key")
    sign_in_storage(context, live_server.new_user("not-an-admin"))
    page.reload()
    expect(page.locator("#auth-notice")).to_contain_text("Insights are for admins")
    expect(page.locator("#insights")).to_be_hidden()
