"""Deterministic intent routing for offline mode.

Decides whether a message is a docs question or a request to generate / list / rotate /
revoke a key, pulls out the key name or id, recognises yes/no answers to a pending action,
and resolves follow-ups ("and how do I rotate it?", "now revoke it") against the previous
turn. Questions *about* keys ("how do I rotate a key?") are docs questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["docs", "generate", "list", "rotate", "revoke", "confirm", "deny", "name"]
ACTIONS: tuple[Kind, ...] = ("generate", "list", "rotate", "revoke")

_VERBS: dict[str, str] = {
    "generate": r"generate|create|make|issue|add|mint",
    "rotate": r"rotate|regenerate|roll|renew|replace|cycle",
    "revoke": r"revoke|delete|disable|remove|deactivate|destroy|kill",
    "list": r"list|show|display|enumerate",
}
_ANY_VERB = "|".join(_VERBS.values())
_POLITE = r"(?:please\s+|pls\s+|kindly\s+|now\s+|then\s+|and\s+|ok(?:ay)?,?\s+|also\s+)*"
_REQUEST = re.compile(
    rf"^\s*{_POLITE}(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
    rf"i\s+(?:want|would\s+like|need|'d\s+like|wanna)\s+(?:you\s+)?to\s+|"
    rf"go\s+ahead\s+and\s+|let'?s\s+|help\s+me\s+)?(?P<verb>{_ANY_VERB})\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_LIST = re.compile(
    r"^\s*(?:what|which)\s+(?:api\s+)?keys\s+do\s+i\s+have|^\s*(?:show|list|display)\s+(?:me\s+)?"
    r"(?:all\s+)?(?:of\s+)?my\s+(?:api\s+)?keys|^\s*my\s+(?:api\s+)?keys\s*\??\s*$",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(?:yes|y|yeah|yep|yup|sure|ok|okay|confirm(?:ed)?|approve(?:d)?|go\s+ahead|do\s+it|"
    r"proceed|i\s+confirm|please\s+do)\b[\s.!,]*(?:please|do\s+it|go\s+ahead|proceed)?[\s.!]*$",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^\s*(?:no|n|nope|nah|cancel|reject|abort|stop|don'?t|do\s+not|never\s*mind)\b[\w\s.!,']{0,30}$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"'“‘`](?P<q>[^\"'”’`]{1,100})[\"'”’`]")
_NAMED = re.compile(
    r"\b(?:named|called|titled|labelled|labeled|name(?:d)?\s+it)\s+(?P<n>[\w .-]{1,64}?)\s*[.?!]?$",
    re.IGNORECASE,
)
_KEY_ID = re.compile(
    r"\b(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.I
)
_THE_X_KEY = re.compile(
    r"\b(?:the|my|our)\s+(?P<n>[\w-]{1,40}(?:\s+[\w-]{1,40})?)\s+(?:api\s+)?key\b", re.IGNORECASE
)
_KEY_X = re.compile(r"\b(?:api\s+)?key\s+(?P<n>[\w-]{1,64})\s*[.?!]?$", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(it|that|this|that\s+one|this\s+one|the\s+same\s+(?:one|key))\b", re.I)
_FOLLOWUP = re.compile(r"^\s*(?:and|also|what\s+about|how\s+about|then)\b", re.IGNORECASE)
_NOT_NAMES = {"a", "an", "the", "my", "new", "api", "one", "all", "every", "each", "any", "this"}


@dataclass
class Intent:
    """What a message asks for; `query` is the docs question after follow-up resolution."""

    kind: Kind
    key_ref: str | None = None  # name or id of an existing key (rotate / revoke)
    name: str | None = None  # name for a new key (generate)
    query: str = ""
    every_key: bool = False  # "rotate every key": never executed in bulk, asked back


def _verb_kind(verb: str) -> Kind:
    for kind, pattern in _VERBS.items():
        if re.fullmatch(pattern, verb, re.IGNORECASE):
            return kind  # type: ignore[return-value]
    return "docs"


def key_reference(text: str) -> str | None:
    """The key a message names: an id, a quoted name, 'named X', 'the X key', 'key X'."""
    for pattern, group in ((_KEY_ID, "id"), (_QUOTED, "q"), (_NAMED, "n")):
        if match := pattern.search(text):
            return match.group(group).strip()
    for pattern in (_THE_X_KEY, _KEY_X):
        if match := pattern.search(text):
            name = match.group("n").strip()
            if name.lower() not in _NOT_NAMES and name.lower().split()[0] not in _NOT_NAMES:
                return name
    return None


def route(message: str, previous: dict[str, Any] | None = None) -> Intent:
    """Classify a message; `previous` is the meta of the last assistant turn, if any."""
    previous = previous or {}
    text = message.strip()
    if previous.get("pending_id") and _YES.match(text):
        return Intent("confirm", query=text)
    if previous.get("pending_id") and _NO.match(text):
        return Intent("deny", query=text)
    awaiting = previous.get("awaiting")
    if awaiting == "name" and not text.endswith("?") and len(text) <= 64:
        return Intent("generate", name=key_reference(text) or text.strip(" .!\"'"), query=text)
    if awaiting in ("rotate", "revoke") and not text.endswith("?") and len(text.split()) <= 6:
        ref = key_reference(text) or text.strip(" .!\"'")
        return Intent(awaiting, key_ref=ref, query=text)
    if _LIST.search(text):
        return Intent("list", query=text)
    match = _REQUEST.match(text)
    if match and not re.match(r"^\s*(how|what|why|where|when|is|are|does|do\s+i)\b", text, re.I):
        kind = _verb_kind(match.group("verb"))
        rest = match.group("rest")
        if kind == "list":
            if re.search(r"\bkeys\b", rest, re.IGNORECASE):
                return Intent("list", query=text)
            return _docs(text, previous)
        mentions_key = re.search(r"\b(key|keys|token|it|that|this|one)\b|[\"'“‘]", rest, re.I)
        if not mentions_key and not _KEY_ID.search(rest):
            return _docs(text, previous)
        every = bool(re.search(r"\b(every|all|each)\b", rest, re.IGNORECASE))
        if kind == "generate":
            return Intent("generate", name=key_reference(rest), query=text)
        named: str | None = key_reference(rest)
        if named is None and _PRONOUN.search(rest) and previous.get("key_ref"):
            named = str(previous["key_ref"])
        return Intent(kind, key_ref=named, query=text, every_key=every and named is None)
    return _docs(text, previous)


def _docs(text: str, previous: dict[str, Any]) -> Intent:
    """A docs question; a follow-up borrows the previous question's topic."""
    query = text
    topic = previous.get("topic")
    if topic and (_FOLLOWUP.search(text) or _PRONOUN.search(text)) and len(text.split()) <= 12:
        query = f"{text} ({topic})"
    return Intent("docs", query=query)
