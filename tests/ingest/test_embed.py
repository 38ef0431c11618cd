"""The bundled MiniLM embedder: verified files, correct vectors, batching that changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from langchain_openai import OpenAIEmbeddings

from ingest.config import IngestSettings
from ingest.embed import (
    MODEL_SHA256,
    TOKENIZER_PATH,
    TOKENIZER_SHA256,
    MiniLMEmbeddings,
    default_model_path,
    make_embeddings,
)
from ingest.errors import ConfigError


def test_vectors_are_normalised_384d_and_semantic(minilm: MiniLMEmbeddings) -> None:
    vecs = np.array(
        minilm.embed_documents(
            [
                "How do I rotate my API key?",
                "Rotating replaces the old key with a new one.",
                "Invoices are sent at the start of each month.",
            ]
        )
    )
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_batching_and_padding_do_not_change_vectors(minilm: MiniLMEmbeddings) -> None:
    texts = ["short", "a much longer sentence " * 20, "medium length text about keys"]
    together = minilm.embed_array(texts)
    alone = np.stack([minilm.embed_array([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert np.allclose(minilm.embed_query(texts[2]), alone[2], atol=1e-5)


def test_long_text_is_truncated_not_rejected(minilm: MiniLMEmbeddings) -> None:
    long = "key " * 2000
    assert minilm.count_tokens(long) == 2000  # the counter never truncates
    before = minilm.tokens_embedded
    (vec,) = minilm.embed_documents([long])
    assert len(vec) == 384
    assert minilm.tokens_embedded - before == 256


def test_count_tokens_counts_word_pieces(minilm: MiniLMEmbeddings) -> None:
    assert minilm.count_tokens("") == 0
    assert minilm.count_tokens("API keys") == 2
    assert minilm.count_tokens("unbelievably") > 1  # split into word pieces


def test_wrong_model_hash_is_refused(tmp_path: Path) -> None:
    tampered = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), tampered)
    with tampered.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ConfigError) as err:
        MiniLMEmbeddings(model_path=tampered)
    message = str(err.value)
    assert str(tampered) in message and MODEL_SHA256 in message
    assert "has sha256 " in message and message.split("has sha256 ")[1][:64] != MODEL_SHA256


def test_wrong_tokenizer_hash_is_refused(tmp_path: Path) -> None:
    tampered = tmp_path / "tokenizer.json"
    tampered.write_bytes(TOKENIZER_PATH.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    with pytest.raises(ConfigError, match=TOKENIZER_SHA256):
        MiniLMEmbeddings(tokenizer_path=tampered)


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        MiniLMEmbeddings(model_path=tmp_path / "nope.onnx")


def test_make_embeddings_local(minilm: MiniLMEmbeddings) -> None:
    emb = make_embeddings(IngestSettings())
    assert isinstance(emb, MiniLMEmbeddings)
    assert np.allclose(emb.embed_query("keys"), minilm.embed_query("keys"), atol=1e-5)


def test_make_embeddings_openai_uses_configured_endpoint() -> None:
    settings = IngestSettings(
        embeddings="openai:emb-small",
        embeddings_base_url="http://gateway.test/v1",
        embeddings_api_key="sk-test",
    )
    emb = make_embeddings(settings)
    assert isinstance(emb, OpenAIEmbeddings)
    assert emb.model == "emb-small"
    assert emb.openai_api_base == "http://gateway.test/v1"
    assert emb.openai_api_key is not None and emb.openai_api_key.get_secret_value() == "sk-test"
    assert emb.check_embedding_ctx_length is False  # no tiktoken download, plain text sent


def test_openai_embeddings_without_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="DOCSAGENT_EMBEDDINGS_API_KEY"):
        make_embeddings(IngestSettings(embeddings="openai:emb-small"))
