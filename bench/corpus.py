"""A GitBook-synced docs repository → a docs-cache layout the ingest reads as a site.

GitBook publishes the pages its `SUMMARY.md` lists, at URLs derived from their paths
(`a/b.md` → `/a/b`, `a/README.md` → `/a`), and an `llms.txt` listing them under the
summary's `##` groups. This module writes exactly that into `<out>/<host>/`, so an
evaluation ingests a repository the way it would ingest the published site:

    python bench/corpus.py REPO_DIR HOST OUT_DIR

Nothing here is fetched: REPO_DIR is a checkout the caller made (see README, evaluation).
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_ENTRY = re.compile(r"^(?P<indent>\s*)[*+-]\s+\[(?P<title>[^\]]*)\]\((?P<target>[^)\s]+)\)")
_GROUP = re.compile(r"^##\s+(?P<name>.+?)\s*$")


@dataclass(frozen=True)
class NavEntry:
    """One page of the site's navigation."""

    path: str  # file path in the repository, e.g. "core/tasks/README.md"
    title: str
    group: str  # the SUMMARY.md `##` group it is listed under ("" for none)
    trail: tuple[str, ...]  # titles of the entries it is nested under


def summary_root(repo: Path) -> Path:
    """The docs root: `.gitbook.yaml`'s `root:` if set, else the repository root."""
    config = repo / ".gitbook.yaml"
    if config.is_file():
        for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.match(r"^root:\s*['\"]?([^'\"#]+?)['\"]?\s*$", line)
            if m:
                return (repo / m[1].strip()).resolve()
    return repo.resolve()


def read_summary(root: Path) -> list[NavEntry]:
    """The pages SUMMARY.md lists (local .md targets only), in navigation order."""
    summary = root / "SUMMARY.md"
    if not summary.is_file():
        raise SystemExit(f"{root}: no SUMMARY.md (not a GitBook-synced repository?)")
    entries: list[NavEntry] = []
    group = ""
    stack: list[tuple[int, str]] = []
    for line in summary.read_text(encoding="utf-8", errors="replace").splitlines():
        if g := _GROUP.match(line):
            group, stack = _clean(g["name"]), []
            continue
        m = _ENTRY.match(line)
        if not m:
            continue
        indent = len(m["indent"].expandtabs(4))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        title = _clean(m["title"])
        target = m["target"].split("#", 1)[0].lstrip("/")
        if target.endswith(".md") and "://" not in target and (root / target).is_file():
            entries.append(NavEntry(target, title, group, tuple(t for _, t in stack)))
        stack.append((indent, title))
    return entries


def _clean(title: str) -> str:
    """A navigation title without leading emoji and markup."""
    title = re.sub(r"^[^\w(\"'`]+", "", title.replace("\\", "")).strip()
    return title.strip("*_ ")


def url_path(path: str) -> str:
    """The published path of a page file: `a/b.md` → `a/b`, `a/README.md` → `a`."""
    p = PurePosixPath(path)
    if p.name.lower() == "readme.md":
        return "readme" if str(p.parent) == "." else str(p.parent)
    return str(p.with_suffix(""))


def page_url(host: str, path: str) -> str:
    return f"https://{host}/{url_path(path)}"


# a link target in markdown ("](x.md", "](<x y.md>") or in a GitBook tag or HTML attribute
# (url="x.md", src="…", href="…")
_TARGET = re.compile(r"(?P<lead>\]\(<?|\b(?:url|src|href)=[\"'])(?P<target>[^)\s\"'>]+)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")  # https:, mailto:, …


def rebase_links(markdown: str, folder: str) -> str:
    """Relative link targets of a page moved up out of `folder` ("jira.md" →
    "folder/jira.md"); absolute URLs, site-absolute paths and #fragments stay."""

    def rebase(match: re.Match[str]) -> str:
        target = match["target"]
        if target.startswith(("/", "#")) or _SCHEME.match(target):
            return match[0]
        return f"{match['lead']}{folder}/{target}"

    return _TARGET.sub(rebase, markdown)


def prepare(repo: Path, host: str, out: Path) -> list[NavEntry]:
    """Write the site's pages and llms.txt under `out/host/`; returns the navigation."""
    root = summary_root(repo)
    nav = read_summary(root)
    site = out / host
    if site.exists():
        shutil.rmtree(site)
    seen: set[str] = set()
    lines = [f"# {root.name}", ""]
    group = None
    for entry in nav:
        target = url_path(entry.path)
        if target in seen:
            continue
        seen.add(target)
        dest = site / f"{target}.md"
        dest.parent.mkdir(parents=True, exist_ok=True)
        source = PurePosixPath(entry.path)
        if source.name.lower() == "readme.md" and str(source.parent) != ".":
            # `a/README.md` is published at `/a`: its relative links, written from inside
            # `a/`, now start one folder up
            text = (root / entry.path).read_text(encoding="utf-8", errors="replace")
            dest.write_text(rebase_links(text, source.parent.name), encoding="utf-8")
        else:
            shutil.copyfile(root / entry.path, dest)
        if entry.group != group:
            group = entry.group
            lines += ["", f"## {group or 'Docs'}", ""]
        lines.append(f"- [{entry.title}](https://{host}/{target}.md)")
    (site / "llms.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return nav


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    pages = prepare(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    print(f"{len(pages)} pages → {Path(sys.argv[3]) / sys.argv[2]}")
