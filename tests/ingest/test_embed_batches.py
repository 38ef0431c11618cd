"""The embedder's batches stay within their memory caps and still embed every text once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ingest.embed import MiniLMEmbeddings


def record_shapes(
    minilm: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch, releases: list[bool] | None = None
) -> list[list[int]]:
    """Patch `run_batch` to record each batch's row lengths (word pieces incl. specials)
    and, into `releases`, whether the batch gave the arena's memory back."""
    batches: list[list[int]] = []
    run_batch = minilm.run_batch

    def recording(ids: Sequence[Sequence[int]], *, release: bool = False) -> np.ndarray:
        batches.append([len(row) for row in ids])
        if releases is not None:
            releases.append(release)
        return run_batch(ids, release=release)

    monkeypatch.setattr(minilm, "run_batch", recording)
    return batches


def test_long_texts_go_few_at_a_time_short_ones_many(
    minilm: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases: list[bool] = []
    batches = record_shapes(minilm, monkeypatch, releases)
    minilm.embed_array(["key " * 254] * 12 + ["api key"] * 64)
    widths_rows = sorted((max(b), len(b)) for b in batches)
    # 64 short texts (4 word pieces) in two full batches, 12 of 256 in three batches of 4
    assert widths_rows == [(4, 32), (4, 32), (256, 4), (256, 4), (256, 4)]
    assert releases == [False] * 4 + [True]  # memory goes back once, after the last batch
    minilm.embed_query("rotate a key")
    assert releases[-1] is False  # a query keeps the arena warm


def test_every_batch_within_the_caps_and_every_text_embedded_once(
    minilm: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = record_shapes(minilm, monkeypatch)
    texts = [("rotate the workspace key " * (1 + n % 50))[: 7 * n + 5] for n in range(150)]
    together = minilm.embed_array(texts)
    assert sum(len(b) for b in batches) == len(texts)
    for rows in batches:
        width = max(rows)
        assert len(rows) <= minilm.batch_size
        assert len(rows) * width <= minilm.max_batch_tokens
        assert len(rows) * width * width <= minilm.max_batch_cells
    assert len(batches) > 150 // minilm.batch_size + 1  # the width caps did split batches
    alone = np.stack([minilm.embed_array([t])[0] for t in texts[::10]])
    assert np.allclose(together[::10], alone, atol=1e-4)
