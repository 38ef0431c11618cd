"""The docs cache on disk: `<root>/<host>/<path>.md`, `<root>/<host>/llms.txt` and
`<root>/<host>/manifest.json` (url → sha256, fetched_at, etag, last_modified).

Every write is atomic (temp file + rename), so a killed fetch never leaves half a page."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ingest.errors import FetchError
from ingest.parse import normalize_urls

MANIFEST = "manifest.json"
LLMS_TXT = "llms.txt"


@dataclass(frozen=True)
class CachedPage:
    url: str  # https://host/path (no .md)
    md_url: str  # https://host/path.md
    path: Path


@dataclass
class ManifestEntry:
    sha256: str
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None


def page_url_of(url: str) -> str:
    """Canonical page URL: no query, no fragment, no trailing '.md' or '/'."""
    return normalize_urls(url)[0]


def md_url_of(url: str) -> str:
    """The '.md' variant GitBook serves for a page (the site root's is '/readme.md')."""
    return normalize_urls(url)[1]


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DocsCache:
    """Read and write fetched pages under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._manifests: dict[str, dict[str, ManifestEntry]] = {}

    def path_for(self, url: str) -> Path:
        """Where a page URL (or its .md URL) lives; refuses paths that escape the root."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host or parts.scheme not in ("http", "https"):
            raise FetchError(url, "not an http(s) URL")
        segments = [s for s in PurePosixPath(urlsplit(md_url_of(url)).path).parts if s != "/"]
        if any(s in ("..", ".") or s.startswith(".") for s in segments) or not segments:
            raise FetchError(url, "unsafe path")
        return self.root.joinpath(host, *segments)

    def read(self, url: str) -> str | None:
        path = self.path_for(url)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(
        self, url: str, body: str, etag: str | None = None, last_modified: str | None = None
    ) -> Path:
        """Store a page body and its manifest entry (keyed by the page's .md URL)."""
        path = self.path_for(url)
        data = body.encode("utf-8")
        atomic_write(path, data)
        host = urlsplit(url).hostname or ""
        manifest = self.manifest(host)
        manifest[md_url_of(url)] = ManifestEntry(
            sha256=hashlib.sha256(data).hexdigest(),
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            etag=etag,
            last_modified=last_modified,
        )
        self._save_manifest(host)
        return path

    def remove(self, url: str) -> None:
        """Forget a page that its site no longer lists."""
        self.path_for(url).unlink(missing_ok=True)
        host = urlsplit(url).hostname or ""
        if self.manifest(host).pop(md_url_of(url), None) is not None:
            self._save_manifest(host)

    def manifest(self, host: str) -> dict[str, ManifestEntry]:
        """url → entry for one host; an absent or unreadable manifest is empty."""
        if host not in self._manifests:
            entries: dict[str, ManifestEntry] = {}
            try:
                raw = json.loads((self.root / host / MANIFEST).read_text(encoding="utf-8"))
                for url, entry in raw.items():
                    entries[url] = ManifestEntry(**entry)
            except (OSError, ValueError, TypeError):
                entries = {}
            self._manifests[host] = entries
        return self._manifests[host]

    def _save_manifest(self, host: str) -> None:
        data = {url: asdict(entry) for url, entry in sorted(self.manifest(host).items())}
        atomic_write(self.root / host / MANIFEST, json.dumps(data, indent=1).encode())

    def llms_txt(self, host: str) -> str | None:
        try:
            return (self.root / host / LLMS_TXT).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_llms_txt(self, host: str, text: str) -> None:
        atomic_write(self.root / host / LLMS_TXT, text.encode("utf-8"))

    def hosts(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and "." in p.name)

    def pages(self, host: str | None = None) -> list[CachedPage]:
        """Every cached page, sorted by URL."""
        found: list[CachedPage] = []
        for name in [host] if host else self.hosts():
            base = self.root / name
            for path in base.rglob("*.md"):
                rel = path.relative_to(base).as_posix()
                if any(part.startswith(".") for part in rel.split("/")):
                    continue
                md_url = f"https://{name}/{rel}"
                found.append(CachedPage(url=page_url_of(md_url), md_url=md_url, path=path))
        return sorted(found, key=lambda page: page.url)
