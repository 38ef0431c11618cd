"""The memoised word-piece counter: the same counts as tokenizing the whole text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from ingest.embed import TOKENIZER_PATH
from ingest.wordpieces import WordPieceCounter

# every character Python's str.split() breaks on, plus text the BERT normaliser rewrites,
# deletes or treats specially (controls, accents, CJK, added tokens, over-long words)
SPACES = [c for c in map(chr, range(0x3001)) if c.isspace()]
TRICKY = [
    *SPACES, "\x00", "\x01", "\u200b", "\ufeff", "\ufffd", "\u0301", "e\u0301", "İ", "ß",
    "漢字", "한국어", "🙂", "[CLS]", "[UNK]", "[", "]", "##", "Ä", "naïve", "x" * 101,
    "supercalifragilistic" * 6, "API", "keys", ".", ",", "(", ")", "`", "-", "_", "1.5",
]  # fmt: skip
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=12)), max_size=40).map("".join)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.no_padding()
    tok.no_truncation()
    return tok


def whole(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, max_size=6), st.sampled_from([4, 100_000]))
def test_counts_equal_tokenizing_the_whole_text(
    tokenizer: Tokenizer, texts: list[str], max_words: int
) -> None:
    counter = WordPieceCounter(tokenizer, max_words=max_words)  # 4: the memo keeps restarting
    expected = [whole(tokenizer, t) for t in texts]
    assert counter.count_many(texts) == expected
    assert [counter.count(t) for t in texts] == expected  # now from the memo
    assert counter.count_many(texts[::-1]) == expected[::-1]


class SpyTokenizer:
    """Delegates to the real tokenizer and records every batch it was asked to encode."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []

    def encode_batch_fast(self, texts: list[str], add_special_tokens: bool) -> Any:
        self.batches.append(list(texts))
        return self.inner.encode_batch_fast(texts, add_special_tokens=add_special_tokens)


def test_only_unseen_words_reach_the_tokenizer(tokenizer: Tokenizer) -> None:
    spy = SpyTokenizer(tokenizer)
    counter = WordPieceCounter(spy)  # type: ignore[arg-type]
    texts = ["Rotate the API key.", "Revoke the key.", "Rotate the key.", "Rotate the new key"]
    assert counter.count_many(texts[:2]) == [whole(tokenizer, t) for t in texts[:2]]
    assert sorted(spy.batches[0]) == ["API", "Revoke", "Rotate", "key.", "the"]
    assert counter.count(texts[2]) == whole(tokenizer, texts[2])
    assert counter.count_many(texts[3:]) == [whole(tokenizer, texts[3])]
    assert len(spy.batches) == 2 and sorted(spy.batches[1]) == ["key", "new"]


def test_memo_stays_bounded(tokenizer: Tokenizer) -> None:
    counter = WordPieceCounter(tokenizer, max_words=50)
    for i in range(40):
        text = " ".join(f"w{i}x{j}" for j in range(10))
        assert counter.count(text) == whole(tokenizer, text)
    assert len(counter._known) <= 50
