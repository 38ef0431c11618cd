"""Words and search terms, the same for the index and for questions.

`words` are lower-case tokens of the readable text (markup dropped; identifiers such as
`onSave` or `max_retries` also give their parts); `terms` are those words minus English
function words, each stemmed once with the Snowball English stemmer (PyStemmer, the
stemmer bm25s uses). Nothing here knows what any one docs site talks about: which words
are frequent on a site comes from its index (`agent.lexicon`), and what a site's users
call things comes from its optional profile file (`agent.profile`).
"""

from __future__ import annotations

import re
import threading

import Stemmer

_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_MARKUP = re.compile(r"\*\*|__|`|<[^>]+>|\]\([^)]*\)|!\[")
_COMPOUND = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b")

STOPWORDS = frozenset(
    """a about above again all also am an and any are as at be been being
    below between both but by can could did do does doing done down during each else ever
    few for from further get gets give go goes going had has have having he her here hers
    him his how i if in into is it its itself just let lets me might mine more most must my
    myself no nor not now of off on once only or other our ours out over own please same
    shall she should so some such than that the their theirs them then there these they
    this those through to too under until up upon us very want wants was way we were what
    when where which while who whom why will with would yes you your yours yourself
    yourselves tell know need needs thing things something anything someone happen happens
    really actually possible way ways using use used ok okay one ones""".split()
)
# English contractions, also as typed without the apostrophe ("dont", "whats", "ive"):
# function words too, never content, and never typos of a site word
CONTRACTIONS = frozenset(
    """dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt havent
    hasnt hadnt whats thats theres hows wheres whos im ive youre theyre lets""".split()
)


def is_function_word(word: str) -> bool:
    """A lower-case word that carries no topic: "the", "it's", "what's", "dont"."""
    if word in STOPWORDS:
        return True
    if "'" in word:
        return word.split("'", 1)[0] in STOPWORDS or word.replace("'", "") in CONTRACTIONS
    return word in CONTRACTIONS


_local = threading.local()
_cache: dict[str, str] = {}
_CACHE_MAX = 200_000


def stem(word: str) -> str:
    """The Snowball English stem of one lower-case word (memoised; thread-safe)."""
    found = _cache.get(word)
    if found is not None:
        return found
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # PyStemmer objects must not be shared between threads
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    found = stemmer.stemWord(word.replace("'", ""))
    if len(_cache) < _CACHE_MAX:
        _cache[word] = found
    return found


def words(text: str) -> list[str]:
    """Lower-case word tokens of `text`; `camelCase` and `snake_case` also give their parts."""
    out: list[str] = []
    text = _MARKUP.sub(" ", text)
    if "-" in text:  # "pop-up" is also "popup", "sign-in" also "signin"
        text = _COMPOUND.sub(lambda m: f"{m[0]} {m[0].replace('-', '')}", text)
    for token in _WORD.findall(text):
        lower = token.lower()
        out.append(lower)
        if not token.islower() and not token.isupper() and not token.isdigit():
            parts = _CAMEL.findall(token.split("'", 1)[0])
            if len(parts) > 1:
                out.extend(p.lower() for p in parts if len(p) > 1)
    return out


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms of `text`, in order (function words dropped unless asked)."""
    return [stem(w) for w in words(text) if keep_stopwords or not is_function_word(w)]
