"""Plain data passed between parse → chunk → index → agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """The smallest heading-delimited part of a page (a step of a stepper is its own)."""

    title: str  # heading text, tags stripped ("Rotate API key"); page title for the intro
    anchor: str  # GitBook-style anchor without '#': "rotate-api-key" ("" for the intro)
    level: int  # heading level (1 for the page intro)
    path: list[str]  # heading titles from the page title down to this one
    text: str  # clean readable text/markdown of the body; no {% %} or HTML tags outside code
    step: tuple[int, int] | None = None  # (n, total) when the section is a stepper step
    meta: dict[str, Any] = field(default_factory=dict)  # images, tab titles, hint styles...


@dataclass
class Page:
    """A parsed docs page."""

    url: str  # canonical page URL without '.md', e.g. https://docs.nexos.ai/workspace/.../api-keys
    md_url: str  # the '.md' URL
    title: str
    description: str
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)  # supports_ask, llms_txt, front matter
    warnings: list[str] = field(default_factory=list)  # malformed input noticed, never silent


@dataclass
class Chunk:
    """One indexed unit; `text` is what a reader sees, `embed_text` what is embedded."""

    id: str
    text: str
    embed_text: str
    page_url: str
    md_url: str
    title: str  # page title
    section: str  # section title
    anchor_url: str  # page_url + '#' + anchor (page_url when no anchor)
    breadcrumb: str  # "API Keys › How to generate your API key › Rotate API key"
    position: int  # order within the page
    sha256: str  # of embed_text
    step: tuple[int, int] | None = None

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata as stored in Chroma."""
        meta: dict[str, str | int] = {
            "page_url": self.page_url,
            "md_url": self.md_url,
            "title": self.title,
            "section": self.section,
            "anchor_url": self.anchor_url,
            "breadcrumb": self.breadcrumb,
            "position": self.position,
            "sha256": self.sha256,
            "text": self.text,
        }
        if self.step:
            meta["step_n"], meta["step_total"] = self.step
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, embed_text: str, meta: dict[str, Any]) -> Chunk:
        step = None
        if "step_n" in meta and "step_total" in meta:
            step = (int(meta["step_n"]), int(meta["step_total"]))
        return cls(
            id=chunk_id,
            text=str(meta["text"]),
            embed_text=embed_text,
            page_url=str(meta["page_url"]),
            md_url=str(meta["md_url"]),
            title=str(meta["title"]),
            section=str(meta["section"]),
            anchor_url=str(meta["anchor_url"]),
            breadcrumb=str(meta["breadcrumb"]),
            position=int(meta["position"]),
            sha256=str(meta["sha256"]),
            step=step,
        )


@dataclass
class Hit:
    """A search result: a chunk and its similarity (higher is better, cosine in [-1, 1])."""

    chunk: Chunk
    score: float
