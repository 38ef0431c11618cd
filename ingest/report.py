"""What an ingest run did, page by page and in total (the CLI prints it as a table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PageStatus = Literal["new", "changed", "unchanged", "removed", "failed"]


@dataclass
class PageOutcome:
    url: str
    status: PageStatus
    chunks: int = 0  # chunks the page has now
    embedded: int = 0  # chunks (re-)embedded for it in this run
    reason: str = ""  # why it failed
    warnings: list[str] = field(default_factory=list)  # parser notes on malformed input


@dataclass
class IngestReport:
    pages: list[PageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    tokens_embedded: int = 0  # word pieces run through the embedder (when it counts them)
    dry_run: bool = False
    rebuilt: bool = False

    def count(self, status: PageStatus) -> int:
        return sum(1 for p in self.pages if p.status == status)

    @property
    def new(self) -> int:
        return self.count("new")

    @property
    def changed(self) -> int:
        return self.count("changed")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def removed(self) -> int:
        return self.count("removed")

    @property
    def failures(self) -> list[PageOutcome]:
        return [p for p in self.pages if p.status == "failed"]

    @property
    def chunks(self) -> int:
        """Chunks of the pages this run saw (not removed)."""
        return sum(p.chunks for p in self.pages if p.status in ("new", "changed", "unchanged"))

    @property
    def chunks_embedded(self) -> int:
        return sum(p.embedded for p in self.pages)

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"url": p.url, "reason": p.reason} for p in self.failures],
            "chunks": self.chunks,
            "chunks_embedded": self.chunks_embedded,
            "tokens_embedded": self.tokens_embedded,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
        }
