"""Query expansion for dense search: a small thesaurus of how users phrase problems vs. how
docs phrase them. MiniLM alone scores "my key leaked" almost equally against "Save your API
key" and "Rotate API key" (0.445 vs 0.440); naming the incident the way docs do fixes that."""

from __future__ import annotations

import re

# user word → how documentation usually says it
THESAURUS: dict[str, str] = {
    "leak": "compromised, exposed or shared by mistake",
    "leaked": "compromised, exposed or shared by mistake",
    "leaking": "compromised, exposed or shared by mistake",
    "stolen": "compromised, exposed or shared by mistake",
    "exposed": "compromised or shared by mistake",
    "compromised": "exposed or shared by mistake",
    "hacked": "compromised, exposed or shared by mistake",
    "delete": "revoke or remove",
    "disable": "revoke",
    "regenerate": "rotate and replace",
}
_WORD_RE = re.compile(r"[a-z]+")


def expand_query(query: str) -> str:
    """`query` plus the docs' phrasing of any thesaurus word in it (unchanged otherwise)."""
    extra: list[str] = []
    for word in _WORD_RE.findall(query.lower()):
        phrase = THESAURUS.get(word)
        if phrase and phrase not in extra:
            extra.append(phrase)
    return f"{query}: {'; '.join(extra)}" if extra else query
