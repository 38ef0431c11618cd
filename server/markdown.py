"""Pure text helpers of the GitBook-compatible surfaces: page bodies with our pointer line
and "Agent Instructions" footer, `?ask=` answers in GitBook's shape, not-found text, and
link rewriting from the docs site to this server."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from agent.links import is_safe_url, safe_links
from agent.models import Answer
from agent.pages import strip_upstream

PLACEHOLDERS = frozenset({"", "<question>", "{question}", "question", "<q>", "?"})
_MD_LINK = re.compile(r"\]\((?P<url>[^)\s]+)\)")


def is_placeholder(question: str) -> bool:
    return question.strip().lower() in PLACEHOLDERS


def local_md_url(url: str, site_url: str, base: str) -> str:
    """A docs-site page URL (with optional #anchor) as this server's `.md` URL."""
    site = site_url.rstrip("/")
    if not url.startswith(site):
        return url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(".md") and not re.search(r"\.[a-z0-9]{2,4}$", path):
        path = (path or "/readme") + ".md"
    anchor = f"#{parts.fragment}" if parts.fragment else ""
    return f"{base}{path}{anchor}"


def rewrite_links(markdown: str, site_url: str, base: str) -> str:
    """Point links at the docs site to this server's `.md` pages; links that are not
    http(s) or site-relative are defused (`agent.links.safe_links`)."""
    return _MD_LINK.sub(
        lambda m: f"]({local_md_url(m.group('url'), site_url, base)})", safe_links(markdown)
    )


def pointer_line(base: str) -> str:
    return f"> For the complete documentation index, see [llms.txt]({base}/llms.txt)"


def ask_footer(md_url: str) -> str:
    return (
        "# Agent Instructions: Querying This Documentation\n\n"
        "If you need additional information that is not directly available in this page, "
        "you can query the documentation dynamically by asking a question.\n\n"
        "Perform an HTTP GET request on the current page URL with the `ask` query parameter:\n\n"
        f"```\nGET {md_url}?ask=<question>\n```\n\n"
        "The question should be specific, self-contained, and written in natural language.\n"
        "The response will contain a direct answer to the question and relevant excerpts "
        "and sources from the documentation.\n"
    )


def page_document(body: str, *, md_url: str, site_url: str, base: str) -> str:
    """A page as GitBook serves `<page>.md`: pointer line, content, footer (our links)."""
    content = rewrite_links(strip_upstream(body), site_url, base)
    return f"{pointer_line(base)}\n\n{content}\n\n{ask_footer(md_url)}"


def help_text(md_url: str) -> str:
    """What an empty or placeholder `?ask=` gets: how to ask."""
    return (
        "# Ask this documentation\n\n"
        "Add a question in natural language to the `ask` query parameter, for example:\n\n"
        f"```\nGET {md_url}?ask=How%20do%20I%20rotate%20an%20API%20key%3F\n```\n\n"
        "Optionally add `&goal=` to say what you are trying to achieve. Questions are "
        "limited to 512 characters.\n"
    )


def ask_document(question: str, answer: Answer, *, md_url: str, site_url: str, base: str) -> str:
    """GitBook's `?ask=` shape: question, answer, follow-up links, source links."""
    parts = [f"# {question.strip()}", "", rewrite_links(answer.answer.strip(), site_url, base)]
    if answer.followups:
        parts += ["", "# Suggested Follow-up Questions:", ""]
        parts += [f"- [{f}]({md_url}?ask={quote(f, safe='')})" for f in answer.followups]
    if answer.sources:
        parts += ["", "# Sources:", ""]
        seen: set[str] = set()
        for source in answer.sources:
            link = local_md_url(source.url, site_url, base)
            if link not in seen and is_safe_url(link):
                seen.add(link)
                title = f"{source.title} › {source.section}" if source.section else source.title
                parts.append(f"- [{title}]({link})")
    return "\n".join(parts) + "\n"


def failure_document(question: str, reason: str) -> str:
    return f"# {question.strip()}\n\nThis question could not be answered right now ({reason}).\n"


def not_found_document(path: str, closest: Sequence[tuple[str, str]], base: str) -> str:
    """Status-200 body for a missing page (agents often discard 404 bodies)."""
    lines = [
        "# Page not found",
        "",
        f"There is no page at `{path}` in this documentation.",
    ]
    if closest:
        lines += ["", "The closest pages are:", ""]
        lines += [f"- [{title}]({url})" for title, url in closest]
    lines += ["", f"See [llms.txt]({base}/llms.txt) for every page."]
    return "\n".join(lines) + "\n"
