"""Deterministic intent routing for offline mode.

A key request is an imperative whose verb is a key action (generate / list / rotate /
revoke, with their synonyms) and whose object names a key: one of the signed-in user's
actual keys (`agent.key_refs`), "it" for the key of the previous turn, or the word "key"
itself. A verb whose object is something else ("delete this page", "create a table with
a primary key") is a docs question; a message that could be either ("delete it" after a
docs answer) gets one short question back (`clarify`). Signed out (`keys` is None) the
user's keys are unknown, so only an unmistakable key request is one, and it is refused.
Questions *about* keys ("how do I rotate a key?") are docs questions. Follow-ups ("and
how do I rotate it?") borrow the previous turn's topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Literal

from agent.key_refs import KeyObject, NamedKey, read_object
from agent.replies import reply_to_pending

Kind = Literal["docs", "generate", "list", "rotate", "revoke", "confirm", "deny", "clarify"]
ACTIONS: tuple[Kind, ...] = ("generate", "list", "rotate", "revoke")
KeyLister = Callable[[], Sequence[NamedKey]]

_VERBS: dict[Kind, tuple[str, ...]] = {
    "generate": ("generate", "create", "make", "issue", "add", "mint"),
    "rotate": ("rotate", "regenerate", "roll", "renew", "replace", "cycle", "refresh", "reissue"),
    "revoke": (
        "revoke",
        "delete",
        "disable",
        "remove",
        "deactivate",
        "destroy",
        "kill",
        "invalidate",
    ),
    "list": ("list", "show", "display", "enumerate", "view"),
}
_KIND_OF = {verb: kind for kind, verbs in _VERBS.items() for verb in verbs}
_POLITE = (
    r"(?:(?:please|pls|kindly|now|then|and|also|ok(?:ay)?|hey|yes|sure|right)[,.!]?\s+|"
    r"(?:it'?s\s+)?time\s+to\s+)*"
)
_I_WANT = r"(?:i|we)(?:\s+want|\s+would\s+like|\s+need|'d\s+like|\s+'d\s+like|\s+wanna)"
_REQUEST = re.compile(
    rf"^\s*{_POLITE}(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
    rf"{_I_WANT}\s+(?:you\s+)?to\s+|go\s+ahead\s+and\s+|let'?s\s+|help\s+me\s+)?"
    r"(?P<verb>[a-z]+)\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# "I need a new key", "give me an API key", "new key please": the verb left out
_WANT = re.compile(
    rf"^\s*{_POLITE}(?:(?:{_I_WANT}|give\s+me|get\s+me|"
    r"can\s+i\s+(?:have|get)|could\s+i\s+(?:have|get))\s+(?P<rest>(?:a|an|another|one|new)\b.*)|"
    r"(?P<bare>(?:a\s+)?new\s+(?:api\s+)?key(?:\s+(?:named|called)\s+.+?)?)(?:\s+please)?[\s.!]*)$",
    re.IGNORECASE | re.DOTALL,
)
_QUESTION = re.compile(
    r"^\s*(?:how|what|why|where|when|which|who|is|are|was|does|do|did|should|shall|"
    r"can\s+i|could\s+i|may\s+i|might)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"^\s*(?:what|which)\s+(?:api\s+)?keys\s+do\s+i\s+have|^\s*(?:show|list|display)\s+(?:me\s+)?"
    r"(?:all\s+)?(?:of\s+)?my\s+(?:api\s+)?keys\b|^\s*my\s+(?:api\s+)?keys\s*\??\s*$",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|that|this|that\s+one|this\s+one|the\s+same\s+(?:one|key))\b", re.I)
_CALL_IT = re.compile(r"^\s*(?:call\s+it|name\s+it|named|called|it'?s)\s+", re.IGNORECASE)
_FOLLOWUP = re.compile(r"^\s*(?:and|also|what\s+about|how\s+about|then)\b", re.IGNORECASE)


@dataclass
class Intent:
    """What a message asks for; `query` is the docs question after follow-up resolution.

    A `clarify` intent is a question back: `action` is what the message may have asked for,
    `candidates` the keys it may have meant, `suggested` the name it may have given.
    """

    kind: Kind
    key_ref: str | None = None  # id (or, unresolved, the name) of an existing key
    name: str | None = None  # name for a new key (generate)
    query: str = ""
    every_key: bool = False  # "rotate every key": never executed in bulk, asked back
    action: Kind | None = None
    candidates: list[str] = field(default_factory=list)
    suggested: str | None = None


class _Keys:
    """The user's live keys, listed at most once per message and only when needed."""

    def __init__(self, lister: KeyLister | None) -> None:
        self.lister = lister
        self.cached: Sequence[NamedKey] | None = None

    @property
    def signed_in(self) -> bool:
        return self.lister is not None

    def __call__(self) -> Sequence[NamedKey] | None:
        if self.lister is not None and self.cached is None:
            self.cached = list(self.lister())
        return self.cached


def _verb(word: str) -> Kind | None:
    """The action a verb names; one slip of the keyboard in a long verb is forgiven."""
    word = word.lower()
    if word in _KIND_OF:
        return _KIND_OF[word]
    if len(word) >= 5:
        close = get_close_matches(word, [v for v in _KIND_OF if len(v) >= 5], n=1, cutoff=0.8)
        if close:
            return _KIND_OF[close[0]]
    return None


def request_of(text: str) -> tuple[Kind, str] | None:
    """(action, the words after its verb) when `text` is an imperative with a key verb."""
    if want := _WANT.match(text):
        return "generate", want.group("rest") or want.group("bare")
    if _QUESTION.match(text):
        return None
    match = _REQUEST.match(text)
    if match is None:
        return None
    kind = _verb(match.group("verb"))
    return None if kind is None else (kind, match.group("rest"))


def route(
    message: str, previous: dict[str, Any] | None = None, keys: KeyLister | None = None
) -> Intent:
    """Classify a message; `previous` is the meta of the last assistant turn, if any, and
    `keys` lists the signed-in user's keys (None when nobody is signed in)."""
    previous = previous or {}
    text = message.strip()
    known = _Keys(keys)
    reply = reply_to_pending(text)
    if reply == "confirm" and previous.get("awaiting") == "name" and previous.get("suggested"):
        return Intent("generate", name=str(previous["suggested"]), query=text)
    # a yes/no answers our last question; after a docs answer it is just more conversation
    waiting = ("pending_id", "awaiting", "cancelled")
    if reply is not None and any(previous.get(k) for k in waiting):
        return Intent(reply, query=text)
    if previous.get("awaiting") and (awaited := _awaited(text, previous, known)) is not None:
        return awaited
    if _LIST.search(text):
        return Intent("list", query=text)
    request = request_of(text)
    if request is None:
        return _docs(text, previous)
    kind, rest = request
    # a new key's name may equal an existing one's: generate never looks keys up
    obj = read_object(rest, None if kind == "generate" else known())
    if kind == "list":
        listed = obj.keys or (obj.key_noun and not obj.other_words and not obj.container)
        return Intent("list", query=text) if listed else _docs(text, previous)
    if kind == "generate":
        return _generate(obj, text, previous, known)
    return _change(kind, obj, text, previous, known)


def _clarify(
    kind: Kind, text: str, previous: dict[str, Any], known: _Keys, **details: Any
) -> Intent:
    """A question back when signed in; signed out there is nothing to ask about: docs."""
    if not known.signed_in:
        return _docs(text, previous)
    return Intent("clarify", action=kind, query=text, **details)


def _change(
    kind: Kind, obj: KeyObject, text: str, previous: dict[str, Any], known: _Keys
) -> Intent:
    """Rotate or revoke: staged only for a key the message names (or asked back)."""
    if len(obj.keys) == 1:
        return Intent(kind, key_ref=obj.keys[0].id, query=text)
    if obj.keys:
        return _clarify(kind, text, previous, known, candidates=[k.name for k in obj.keys])
    before = previous.get("key_ref")
    if obj.pronoun and obj.tail_words:
        return _docs(text, previous)  # "replace it with a new image", "remove it from the page"
    if obj.pronoun:
        if before:
            return Intent(kind, key_ref=str(before), query=text)
        return _clarify(kind, text, previous, known)
    if obj.ref is not None and (obj.by_id or (obj.explicit and obj.key_noun)):
        return Intent(kind, key_ref=obj.ref, query=text)  # "the key named X" that is not there
    if obj.key_noun and (obj.every or obj.plural) and not obj.other_words:
        return Intent(kind, query=text, every_key=True)
    if obj.key_noun and not obj.other_words and not obj.ref:
        if obj.container and not obj.api:
            return _clarify(kind, text, previous, known)  # "remove the key from the dict"
        return Intent(kind, key_ref=str(before) if before else None, query=text)
    if obj.other_words and obj.container:  # "drop the primary key from the table"
        return _docs(text, previous)
    if obj.key_noun or obj.ref is not None:  # "the primary key", "'Getting started'"
        suggested = obj.ref or " ".join(obj.other_words)
        return _clarify(kind, text, previous, known, suggested=suggested)
    return _docs(text, previous)


def _generate(obj: KeyObject, text: str, previous: dict[str, Any], known: _Keys) -> Intent:
    """Generate: the object is a key ("a new API key called CI"), or it is not a request."""
    if obj.new_one:
        about_keys = previous.get("key_ref") or previous.get("intent") in ACTIONS
        return Intent("generate", query=text) if about_keys else _docs(text, previous)
    if not obj.key_noun:
        return _docs(text, previous)
    if obj.ref is not None and not obj.by_id:
        return Intent("generate", name=obj.ref, query=text)
    if (obj.other_words or obj.keys) and obj.container:
        return _docs(text, previous)  # "add a foreign key to the orders table"
    if obj.other_words or obj.keys:  # "a staging key", "a primary key"
        suggested = " ".join(obj.other_words) or obj.keys[0].name
        return _clarify("generate", text, previous, known, suggested=suggested)
    if obj.container and not obj.api:  # "add a key to the dictionary"
        return _clarify("generate", text, previous, known)
    return Intent("generate", query=text)


def _awaited(text: str, previous: dict[str, Any], known: _Keys) -> Intent | None:
    """The reply to our own question ("What should it be called?", "Which key?"), if it is one."""
    awaiting = previous["awaiting"]
    if text.endswith("?") or _QUESTION.match(text) or request_of(text) is not None:
        return None
    if awaiting == "name" and len(text) <= 64 and len(text.split()) <= 6:
        name = _CALL_IT.sub("", text).strip(" .!\"'“”‘’`")
        return Intent("generate", name=name or None, query=text)
    if awaiting in ("rotate", "revoke") and len(text.split()) <= 6:
        obj = read_object(text, known())
        kind: Kind = awaiting
        if len(obj.keys) == 1:
            return Intent(kind, key_ref=obj.keys[0].id, query=text)
        return Intent(kind, key_ref=obj.ref or text.strip(" .!\"'“”"), query=text)
    return None


def _docs(text: str, previous: dict[str, Any]) -> Intent:
    """A docs question; a follow-up borrows the previous question's topic."""
    query = text
    topic = previous.get("topic")
    if topic and (_FOLLOWUP.search(text) or _PRONOUN.search(text)) and len(text.split()) <= 12:
        query = f"{text} ({topic})"
    return Intent("docs", query=query)
