"""Yes/no replies to a pending key action, and which suggestions may be offered at all.

A reply only ever decides the pending action of the immediately preceding assistant turn
(the service checks that); here is only what counts as a yes or a no. A suggestion the
user can click (a follow-up question, from our composer or from the docs site) must never
be a confirmation: one click would approve whatever happens to be pending.
"""

from __future__ import annotations

import re
from typing import Literal

Reply = Literal["confirm", "deny"]

_YES = re.compile(
    r"^\s*(?:yes|y|yeah|yep|yup|sure|ok|okay|confirm(?:ed)?|approve(?:d)?|go\s+ahead|"
    r"do\s+it|proceed|i\s+confirm|please\s+do)\b[\s.!,]*(?:please|do\s+it|go\s+ahead|proceed)?"
    r"[\s.!]*$",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^\s*(?:no|n|nope|nah|cancel|reject|abort|stop|don'?t|do\s+not|never\s*mind)\b[\w\s.!,']{0,30}$",
    re.IGNORECASE,
)
# how a confirmation starts, for suggestions: "Yes, rotate it", "Sure!", "OK, go ahead"
_CONFIRMISH = re.compile(
    r"^\s*[\"'“]?(?:yes|y|yeah|yep|yup|sure|ok|okay|confirm\w*|approve\w*|go\s+ahead|do\s+it|"
    r"proceed|please\s+do|no|n|nope|nah|cancel|reject|abort|don'?t|never\s*mind)\b",
    re.IGNORECASE,
)


def reply_to_pending(text: str) -> Reply | None:
    """'confirm' for a bare yes, 'deny' for a bare no, None for anything else."""
    if _YES.match(text):
        return "confirm"
    if _NO.match(text):
        return "deny"
    return None


def suggestable(followups: list[str]) -> list[str]:
    """The follow-ups that may be offered as clickable suggestions (no confirmations)."""
    return [f for f in followups if f.strip() and not _CONFIRMISH.match(f)]
