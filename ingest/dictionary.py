"""Words that are spelt right although a site never uses them: the whole-word entries of
the bundled BERT WordPiece vocabulary (the embedding model's own, about 20,000 lower-case
English words and names). The typo corrector leaves these alone, so "stick", "patch" or
"mind" are never turned into the site's "stock", "path" or "find"; a misspelling such as
"subscripton" is not a vocabulary word and is still corrected.
"""

from __future__ import annotations

import functools
import json

from ingest.embed import TOKENIZER_PATH, TOKENIZER_SHA256, verify_file


@functools.cache
def dictionary_words() -> frozenset[str]:
    """The vocabulary's whole words of letters only (no "##" pieces, digits or marks)."""
    verify_file(TOKENIZER_PATH, TOKENIZER_SHA256, "tokenizer file")
    vocab = json.loads(TOKENIZER_PATH.read_text(encoding="utf-8"))["model"]["vocab"]
    return frozenset(w for w in vocab if w.isascii() and w.isalpha())
