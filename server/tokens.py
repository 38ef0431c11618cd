"""Token counts and limits of the OpenAI-compatible surface (`usage`, `max_tokens`),
measured with the bundled WordPiece tokenizer (the embedding model's: no download, and
the same counts on every run). Its tokens are not the calling client's model's tokens,
but they are real counts of the text sent and returned."""

from __future__ import annotations

from typing import Any

from ingest.embed import TOKENIZER_PATH, TOKENIZER_SHA256, verify_file


class TokenCounter:
    """`count` tokens of a text; `truncate` a text to at most N tokens."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        verify_file(TOKENIZER_PATH, TOKENIZER_SHA256, "tokenizer file")
        self._tokenizer: Any = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids) if text else 0

    def truncate(self, text: str, limit: int) -> tuple[str, bool]:
        """The longest prefix of `text` with at most `limit` tokens, and whether it was cut."""
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= limit:
            return text, False
        end = offsets[limit - 1][1] if limit > 0 else 0
        return text[:end].rstrip(), True
