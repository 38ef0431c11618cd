"""Exact word-piece counts for the chunker, memoised per whitespace-separated word.

The BERT tokenizer (normaliser, then whitespace/punctuation pre-tokenizer, then
WordPiece per word) never lets a word piece span whitespace, so a text's count is the
sum of its words' counts. Documentation repeats its vocabulary, so after a few pages
nearly every word is a dictionary hit and the tokenizer (~0.4 µs per character) only
sees words it has not met yet. Counts are identical to encoding the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tokenizers import Tokenizer

# Whitespace to `str.split()` but control characters to BERT's normaliser, which deletes
# them and so joins their neighbours into one word: such texts are encoded whole.
_JOINING_SPACE_RE = re.compile("[\x0b\x0c\x1c-\x1f\x85]")


class WordPieceCounter:
    """Word pieces of texts (no special tokens, no truncation), with a bounded word memo.

    `tokenizer` must be a BERT-style tokenizer without padding or truncation. The memo
    holds at most about `max_words` words (it starts afresh when full), so memory stays
    bounded on any corpus.
    """

    def __init__(self, tokenizer: Tokenizer, *, max_words: int = 100_000) -> None:
        self._tokenizer = tokenizer
        self.max_words = max_words
        self._known: dict[str, int] = {}

    def count(self, text: str) -> int:
        """Word pieces of one text."""
        if not _JOINING_SPACE_RE.search(text):
            try:  # the usual case while splitting a long section: every word is known
                return sum(map(self._known.__getitem__, text.split()))
            except KeyError:
                pass
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text; words not seen before go to the tokenizer in one batch."""
        splits = [None if _JOINING_SPACE_RE.search(t) else t.split() for t in texts]
        words = {w for ws in splits if ws is not None for w in ws}
        known = self._known  # local: another thread may start a fresh memo meanwhile
        missing = {w for w in words if w not in known}  # not `- known.keys()`: O(len(known))
        if len(known) + len(missing) > self.max_words:
            known = self._known = {}
            missing = words
        if missing:
            new = list(missing)
            known.update(zip(new, self._encode(new), strict=True))
        whole = iter(self._encode([t for t, ws in zip(texts, splits, strict=True) if ws is None]))
        return [next(whole) if ws is None else sum(map(known.__getitem__, ws)) for ws in splits]

    def _encode(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [len(enc.ids) for enc in encoded]
