"""A docs site's optional profile: what its users call the things its docs name.

The answering core works without one. A site may ship `docsagent.yaml` next to its pages
in the docs cache (`docs_cache/<host>/docsagent.yaml`):

    synonyms:                  # words that mean one thing on this site; the first is
      - [rotate, regenerate, replace, renew]   # the docs' own word
      - [shared by mistake, leaked, exposed, compromised, stolen]

Keyword search treats the single words of a group as alternatives of each other (a
phrase of several words would drag its common words along). Dense search appends the
docs' own phrase to a question that names the concept only in other words ("my key
leaked" → "my key leaked: shared by mistake"), because a small embedding model alone may
not place a user's word next to the docs' phrase. A bad file is an error naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from agent.errors import ProfileError
from ingest.terms import terms

PROFILE_FILE = "docsagent.yaml"
MAX_GROUPS = 1000


@dataclass(frozen=True)
class Synonyms:
    """One group: the docs' phrase and the stems of every phrasing of it."""

    docs_phrase: str
    stems: frozenset[str]  # of the group's single words: keyword alternatives
    user_stems: frozenset[str]  # of every phrasing but the docs' own: they trigger it
    docs_stems: frozenset[str]


@dataclass(frozen=True)
class SiteProfile:
    """The synonym groups of every site in the cache (empty when none ships a profile)."""

    groups: tuple[Synonyms, ...] = ()
    sources: tuple[str, ...] = field(default=())  # files read, for `docsagent stats`

    def expand(self, stems: Iterable[str]) -> set[str]:
        """The stems plus every stem of each group they touch."""
        base = set(stems)
        out = set(base)
        for group in self.groups:
            if base & group.stems:
                out |= group.stems
        return out

    def expand_query(self, query: str) -> str:
        """`query` plus the docs' phrase of each group it names only in other words."""
        used = set(terms(query))
        extra = [
            g.docs_phrase
            for g in self.groups
            if used & (g.user_stems - g.docs_stems) and not g.docs_stems <= used
        ]
        return f"{query}: {'; '.join(extra)}" if extra else query


def _groups(path: Path, data: object) -> list[Synonyms]:
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("synonyms", []), list):
        raise ProfileError(f"{path}: expected a mapping with a 'synonyms' list")
    out = []
    for n, group in enumerate(data.get("synonyms", []), start=1):
        if (
            not isinstance(group, list)
            or len(group) < 2
            or not all(isinstance(w, str) and w.strip() for w in group)
        ):
            raise ProfileError(f"{path}: synonyms entry {n} must be a list of two or more words")
        words = [terms(phrase) for phrase in group]
        singles = frozenset(w[0] for w in words if len(w) == 1)
        users = frozenset(s for w in words[1:] for s in w)
        out.append(Synonyms(group[0].strip(), singles, users, frozenset(words[0])))
    if len(out) > MAX_GROUPS:
        raise ProfileError(f"{path}: more than {MAX_GROUPS} synonym groups")
    return out


def load_profile(docs_cache: Path) -> SiteProfile:
    """Every `<host>/docsagent.yaml` under the docs cache, merged."""
    groups: list[Synonyms] = []
    sources: list[str] = []
    if docs_cache.is_dir():
        for path in sorted(docs_cache.glob(f"*/{PROFILE_FILE}")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ProfileError(f"{path}: cannot read the site profile: {exc}") from exc
            groups += _groups(path, data)
            sources.append(str(path))
    return SiteProfile(tuple(groups), tuple(sources))
