"""Pure text helpers of the GitBook-compatible surfaces: page bodies with our pointer line
and "Agent Instructions" footer, `?ask=` answers in GitBook's shape, not-found text, and
the links of the documents this server serves.

The one rule for links (README "Links and sources"): a *source* — what an answer cites,
what a search finds — is the docs site's page with its section anchor on every surface and
is never rewritten. Inside a markdown document this server serves (a page, `llms.txt`,
`llms-full.txt`), a link to another docs page is navigation and points to this server's
`.md` copy, while images and files (`/files/…`, anything with a file extension other than
`.md`) point to the docs site, which hosts them (they are not ingested)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from agent.links import is_safe_url, safe_links
from agent.models import Answer
from agent.pages import strip_upstream

PLACEHOLDERS = frozenset({"", "<question>", "{question}", "question", "<q>", "?"})
_MD_LINK = re.compile(r"\]\((?P<url>[^)\s]+)\)")
_HTML_LINK = re.compile(r"""(?P<attr>\b(?:src|href))=(?P<q>["'])(?P<url>[^"'\s>]+)(?P=q)""")
_FILE_PATH = re.compile(r"(^|/)(files|~gitbook|\.gitbook)/|\.(?!md$)[A-Za-z0-9]{2,5}$")


def is_placeholder(question: str) -> bool:
    return question.strip().lower() in PLACEHOLDERS


def local_md_url(url: str, site_url: str, base: str) -> str:
    """A docs-site page URL (with optional #anchor) as this server's `.md` URL; any other
    URL unchanged."""
    site = site_url.rstrip("/")
    if not url.startswith(site):
        return url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(".md"):
        path = (path or "/readme") + ".md"
    anchor = f"#{parts.fragment}" if parts.fragment else ""
    return f"{base}{path}{anchor}"


def document_link(url: str, site_url: str, base: str) -> str:
    """Where a link inside a served markdown document points (the module's rule): a docs
    page → this server's `.md`, an image or file → the docs site, anything else as is."""
    site = site_url.rstrip("/")
    if url.startswith("/") and not url.startswith("//"):
        url = f"{site}{url}"
    if not url.startswith(f"{site}/") and url != site:
        return url
    if _FILE_PATH.search(urlsplit(url).path):
        return url
    return local_md_url(url, site, base)


def rewrite_links(markdown: str, site_url: str, base: str) -> str:
    """Links and images of a served document, by `document_link` (markdown and HTML);
    links that are not http(s) or site-relative are defused first (`agent.links`)."""
    text = _MD_LINK.sub(
        lambda m: f"]({document_link(m.group('url'), site_url, base)})", safe_links(markdown)
    )
    return _HTML_LINK.sub(
        lambda m: (
            f"{m.group('attr')}={m.group('q')}"
            f"{document_link(m.group('url'), site_url, base)}{m.group('q')}"
        ),
        text,
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


def ask_document(question: str, answer: Answer, *, md_url: str) -> str:
    """GitBook's `?ask=` shape: question, answer, follow-up links (asking again here), and
    the sources as cited: the docs site's pages with their anchors."""
    parts = [f"# {question.strip()}", "", answer.answer.strip()]
    if answer.followups:
        parts += ["", "# Suggested Follow-up Questions:", ""]
        parts += [f"- [{f}]({md_url}?ask={quote(f, safe='')})" for f in answer.followups]
    if answer.sources:
        parts += ["", "# Sources:", ""]
        seen: set[str] = set()
        for source in answer.sources:
            if source.url not in seen and is_safe_url(source.url):
                seen.add(source.url)
                title = f"{source.title} › {source.section}" if source.section else source.title
                parts.append(f"- [{title}]({source.url})")
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
