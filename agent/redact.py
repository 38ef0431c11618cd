"""Secrets a user pastes, found and replaced before the text goes anywhere.

One definition for every boundary: a question is redacted before it is routed, searched,
sent to the docs site, handed to a model, stored in a conversation, the fallback cache or
insights, echoed in an answer, or logged. What counts as a secret:

- a token that starts with a key prefix (ours, `nexos-`, `nexos-team-`, `sk-`, and any
  prefix a caller adds) followed by a random-looking body;
- any other long token (letters and digits in a run of 20 or more, spread out enough to
  look random), which covers our `dak_…` keys, most provider tokens and hex digests.

Key ids (UUIDs), words, paths and slugs are left alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

REDACTED = "[redacted]"
PREFIXES = ("nexos-team-", "nexos-", "sk-proj-", "sk-ant-", "sk-")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{12,}(?![A-Za-z0-9_\-])")
_RUN = re.compile(r"[A-Za-z0-9]{20,}")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[A-Za-z]")
MIN_BITS_PER_CHAR = 3.0


def _entropy(text: str) -> float:
    """Shannon entropy of `text` in bits per character."""
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _random_run(run: str) -> bool:
    return (
        bool(_HAS_DIGIT.search(run))
        and bool(_HAS_LETTER.search(run))
        and _entropy(run) >= MIN_BITS_PER_CHAR
    )


def _prefixed(token: str, prefixes: tuple[str, ...]) -> bool:
    for prefix in prefixes:
        if token.startswith(prefix):
            body = token[len(prefix) :]
            return len(body) >= 8 and (len(body) >= 24 or bool(_HAS_DIGIT.search(body)))
    return False


def _secret(token: str, prefixes: tuple[str, ...]) -> bool:
    return _prefixed(token, prefixes) or any(_random_run(run) for run in _RUN.findall(token))


@lru_cache(maxsize=16)
def _all_prefixes(extra: tuple[str, ...]) -> tuple[str, ...]:
    # longest first, so `nexos-team-` is tried before `nexos-`
    return tuple(sorted({*PREFIXES, *(p for p in extra if p)}, key=len, reverse=True))


def redact(text: str, prefixes: Iterable[str] = ()) -> str:
    """`text` with every secret-looking token replaced by `[redacted]`."""
    if len(text) < 12:
        return text
    wanted = _all_prefixes(tuple(prefixes))
    return _TOKEN.sub(lambda m: REDACTED if _secret(m.group(0), wanted) else m.group(0), text)


def contains_secret(text: str, prefixes: Iterable[str] = ()) -> bool:
    """Whether `redact` would change `text`."""
    return redact(text, prefixes) != text
