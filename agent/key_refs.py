"""What the object of a key request refers to, resolved against the user's actual keys.

`read_object` looks at the words after a request's verb ("the cli-key key", "'My app'",
"key staging-2", "it", "3f2a…", "this page") and says which of the signed-in user's keys
they name — by id, by name (any case, quoted or not, with or without the word "key", one
slip of the keyboard allowed), or by pronoun — and what else they contain: the word "key"
as the object's head noun, other words that are not a key's name, a container phrase
("… to the dictionary"). The only vocabulary here is the product's own: API keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Protocol


class NamedKey(Protocol):
    """Anything with a key's id and name (an `APIKeyRecord`, or a test's stand-in)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


KEY_NOUNS = frozenset(
    {"key", "keys", "apikey", "apikeys", "api-key", "api-keys", "token", "tokens"}
)
# words that say nothing about *which* key: determiners, "new", "api", quantities
GENERIC = frozenset(
    """a an the my our your this that these those new another one ones more fresh api all
    every each any existing current old personal extra of me us same other its some both
    second""".split()
)
DETERMINERS = frozenset("a an the my our your this that these those".split())
EVERY = frozenset({"every", "all", "each", "both"})
# where the object ends; the first group also says the object sits inside something else
CONTAINERS = frozenset({"to", "into", "in", "inside", "within", "from", "on", "onto"})
BOUNDARIES = CONTAINERS | frozenset(
    """with using via so because when if where which that who at by about for after before
    without then while like as than since until faster slower better""".split()
)
NAMING = frozenset({"named", "called", "titled", "labelled", "labeled"})
FILLERS = frozenset(
    "please pls now asap immediately today again right away thanks thank you".split()
)
PRONOUNS = frozenset(
    {
        "it",
        "that",
        "this",
        "them",
        "that one",
        "this one",
        "the one",
        "same one",
        "the same one",
        "the same key",
        "the same",
        "it again",
    }
)
NEW_ONE = frozenset({"one", "another", "another one", "a new one", "new one", "one more"})
_QUOTED = re.compile(r"(?<!\w)[\"'“‘`](?P<q>[^\"'”’`]{1,100})[\"'”’`](?!\w)")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_CLAUSE = re.compile(r"[,;:!?]|\.(?:\s|$)")
_TOKEN = re.compile(r"\x00\d+\x00|[\w][\w.-]*[\w]|[\w]")
FUZZY = 0.85  # SequenceMatcher ratio: one wrong, missing or swapped letter in a name


@dataclass
class KeyObject:
    """What a request's object says about keys."""

    keys: list[NamedKey] = field(default_factory=list)  # the user's keys it names
    fuzzy: bool = False  # named with a slip ("cli-kye")
    ref: str | None = None  # a name or id it gives that is none of the user's keys
    by_id: bool = False  # `ref` is shaped like a key id
    explicit: bool = False  # `ref` was quoted, an id, or introduced by "named" / "key X"
    key_noun: bool = False  # "key" / "keys" / "token" is the object's head
    api: bool = False  # it says "API key"
    pronoun: bool = False  # "it", "that one", …
    new_one: bool = False  # "another one", "a new one"
    every: bool = False  # "every key", "all my keys"
    plural: bool = False  # "keys"
    container: bool = False  # "… to the dictionary", "… in the table"
    other_words: list[str] = field(default_factory=list)  # words that name nothing known
    tail_words: list[str] = field(default_factory=list)  # "… from the *page*", "… with an *image*"


_SEPARATORS = frozenset(" \t\n\r_-")
_SEPARATED = re.compile(r"[\s_-]+")


def _normal(text: str) -> tuple[str, list[int]]:
    """`text` lower-cased with each run of spaces, dashes and underscores as one space, and
    for each of its characters the index of the character it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        if char in _SEPARATORS:
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            continue
        for lowered in char.lower():
            out.append(lowered)
            where.append(i)
    return "".join(out), where


def _joins(char: str) -> bool:
    """Whether `char` next to a mention makes it part of a longer word ("cli-key-2")."""
    return char.isalnum() or char in "_-"


def _mark_known(rest: str, keys: Sequence[NamedKey]) -> tuple[str, list[tuple[NamedKey, bool]]]:
    """`rest` with each mention of a known key's id or name (any case; spaces, dashes and
    underscores alike) replaced by a placeholder; the mentioned keys in order, each with
    whether it was named by its id."""
    normal, where = _normal(rest)
    found: list[tuple[int, int, NamedKey, bool]] = []
    for key in keys:
        for text, by_id in ((key.id, True), (key.name, False)):
            wanted = _SEPARATED.sub(" ", text.strip()).lower()
            if not any(c.isalnum() for c in wanted):
                continue
            at = normal.find(wanted)
            while at != -1:
                start, end = where[at], where[at + len(wanted) - 1] + 1
                if not (start and _joins(rest[start - 1])) and not (
                    end < len(rest) and _joins(rest[end])
                ):
                    found.append((start, end, key, by_id))
                at = normal.find(wanted, at + 1)
    # longest mentions first; a shorter one inside a longer one is dropped
    found.sort(key=lambda item: (item[0] - item[1], item[0]))
    taken: list[tuple[int, int, NamedKey, bool]] = []
    for mention in found:
        if all(mention[1] <= s or mention[0] >= e for s, e, _, _ in taken):
            taken.append(mention)
    out: list[str] = []
    marked: list[tuple[NamedKey, bool]] = []
    last = 0
    for start, end, key, by_id in sorted(taken, key=lambda item: item[0]):
        out += [rest[last:start], f" \x00{len(marked)}\x00 "]
        marked.append((key, by_id))
        last = end
    out.append(rest[last:])
    return "".join(out), marked


def _segments(text: str) -> int:
    return len([part for part in re.split(r"[\s_-]+", text) if part])


def _fuzzy(candidates: list[str], keys: Sequence[NamedKey]) -> NamedKey | None:
    """The one key whose name is one slip away from a candidate, if exactly one is. A slip
    is inside the words ("cli-kye", "old labtop"), never a missing word ("staging" is not
    "staging-2")."""
    for wanted in dict.fromkeys(c.casefold() for c in candidates if len(c) >= 4):
        matcher = SequenceMatcher(None, b=wanted)  # b is the side SequenceMatcher indexes
        close: list[NamedKey] = []
        for key in keys:
            if _segments(key.name) != _segments(wanted):
                continue
            matcher.set_seq1(key.name.casefold())
            if (
                matcher.real_quick_ratio() >= FUZZY
                and matcher.quick_ratio() >= FUZZY
                and matcher.ratio() >= FUZZY
            ):
                close.append(key)
                if len(close) > 1:
                    break
        if len(close) == 1:
            return close[0]
        if close:
            return None  # two keys are about as likely: ask instead
    return None


_GIVEN = re.compile(r"\b(?:named|called|titled|labell?ed)\s+(?P<n>.+)$", re.IGNORECASE | re.DOTALL)


def given_name(text: str) -> str | None:
    """The name after "named" / "called" as typed: quoted whole, else up to a boundary word."""
    match = _GIVEN.search(text)
    if match is None:
        return None
    given = match.group("n").strip()
    if quoted := _QUOTED.match(given):
        return quoted.group("q").strip() or None
    kept: list[str] = []
    for word in given.split():
        if word.lower().strip(".,!?") in BOUNDARIES | FILLERS:
            break
        kept.append(word)
    return " ".join(kept).strip(" .!?,\"'“”‘’`") or None


def _typed(rest: str) -> dict[str, str]:
    """Lower-cased word → the word as the user typed it (names keep their case)."""
    return {t.lower(): t for t in _TOKEN.findall(rest)}


def _head_and_tail(marked: str) -> tuple[list[str], list[str], bool]:
    """The object's words (up to the first boundary word of the first clause), the words
    after it, and whether the object sits inside something ("… to the dictionary")."""
    clause = _CLAUSE.split(marked, maxsplit=1)[0]
    tokens = [t.lower() for t in _TOKEN.findall(clause)]
    while tokens and tokens[0] in ("me", "us"):
        tokens.pop(0)
    cut = next((i for i, t in enumerate(tokens) if i > 0 and t in BOUNDARIES), len(tokens))
    head, tail = tokens[:cut], tokens[cut:]
    while head and head[-1] in FILLERS:
        head.pop()
    return head, tail, bool(tail) and tail[0] in CONTAINERS


def read_object(rest: str, keys: Sequence[NamedKey] | None) -> KeyObject:
    """Read the words after a verb; `keys` is None when nobody is signed in."""
    known = list(keys or [])
    marked, mentioned = _mark_known(rest, known)
    obj = KeyObject()
    head, tail, obj.container = _head_and_tail(marked)
    named = next((i for i, t in enumerate(head) if t in NAMING), None)
    if named is not None:  # "… named Old laptop": the name is what follows
        given, head = head[named + 1 :], head[:named]
        name = given_name(rest)
        if given and name and not any(t.startswith("\x00") for t in given):
            obj.ref, obj.explicit = name, True
        else:
            head += given
    phrase = " ".join(head)
    obj.tail_words = [t for t in tail if t not in BOUNDARIES | GENERIC | FILLERS | KEY_NOUNS]
    if phrase in PRONOUNS or phrase in NEW_ONE:
        obj.pronoun, obj.new_one = phrase in PRONOUNS, phrase in NEW_ONE
        return obj
    quoted = _QUOTED.search(marked)
    if obj.ref is None and quoted is not None and "\x00" not in quoted.group("q"):
        obj.ref, obj.explicit = quoted.group("q").strip(), True
        quoted_words = {t.lower() for t in _TOKEN.findall(quoted.group("q"))}
        head = [t for t in head if t not in quoted_words]
    names = _scan(obj, head, mentioned)
    # a key named by its id counts wherever it stands ("the key with id 3f2a…")
    for token in tail:
        if token.startswith("\x00") and mentioned[int(token.strip("\x00"))][1]:
            key = mentioned[int(token.strip("\x00"))][0]
            if all(k.id != key.id for k in obj.keys):
                obj.keys.append(key)
    if obj.ref is None and not obj.keys and (uuid := UUID.search(marked)):
        obj.ref, obj.by_id, obj.explicit = uuid.group(0), True, True
    if not obj.keys and obj.ref is None and names and known:
        loose = " ".join(t for t in head if t not in DETERMINERS and t not in KEY_NOUNS)
        slip = _fuzzy([" ".join(names), loose], known)
        if slip is not None:
            obj.keys, obj.fuzzy = [slip], True
            return obj
    content = [t for t in head if t not in GENERIC]
    typed = _typed(rest)
    names = [typed.get(w, w) for w in names]
    if obj.ref is None and len(content) >= 2 and content[0] in KEY_NOUNS:
        obj.ref, obj.explicit = " ".join(names), True  # "key staging-2", "api key CI bot"
    elif obj.ref is None:
        obj.other_words = names
    return obj


def _scan(obj: KeyObject, head: list[str], mentioned: list[tuple[NamedKey, bool]]) -> list[str]:
    """Note the known keys, key nouns and quantities in the object; return its other words."""
    names: list[str] = []
    for i, token in enumerate(head):
        if token.startswith("\x00"):
            key = mentioned[int(token.strip("\x00"))][0]
            if all(k.id != key.id for k in obj.keys):
                obj.keys.append(key)
        elif token in KEY_NOUNS:
            last = i == len(head) - 1
            obj.key_noun = obj.key_noun or last or all(t not in GENERIC for t in head[i + 1 :])
            # "one of my keys" is one key
            obj.plural = obj.plural or (token.endswith("s") and head[:2] != ["one", "of"])
            obj.api = obj.api or token.startswith("api")
        elif UUID.fullmatch(token):
            obj.ref, obj.by_id, obj.explicit = token, True, True
        elif token not in GENERIC:
            names.append(token)
        obj.every = obj.every or token in EVERY
        obj.api = obj.api or token in ("api",)
    return names
