"""Fixtures of the agent tests: the real index (the shipped API Keys page ingested once per
session into a tmp Chroma with the real embedder), real services on a per-test SQLite
database with the real local key store, and a scripted and a streaming chat model that
record their inputs."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from agent.config import AgentSettings
from agent.keys.base import Principal
from agent.service import AgentServices, build_services
from ingest.store import DocIndex
from tests.conftest import CORPUS

PAGE = "https://docs.nexos.ai/workspace/settings/user-settings/api-keys"
SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"  # our own three sites
UPSTREAM = "https://docs.example.test"


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocIndex]:
    """The shipped corpus ingested once with the real pipeline and embedder."""
    from ingest.pipeline import ingest_sync

    root = tmp_path_factory.mktemp("index")
    shutil.copytree(CORPUS, root / "docs_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANONYMIZED_TELEMETRY", "False")
    settings = AgentSettings(data_dir=root / "data", docs_cache=root / "docs_cache")
    from ingest.embed import make_embeddings
    from ingest.store import open_index

    index = open_index(settings, make_embeddings(settings))
    report = ingest_sync(settings, [str(root / "docs_cache")], index=index)
    assert index.all_chunks(), f"nothing ingested: {report}"
    yield index
    mp.undo()


@pytest.fixture(scope="session")
def sites_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocIndex]:
    """The three fixture sites (no site profile) ingested once with the real pipeline."""
    from ingest.embed import make_embeddings
    from ingest.pipeline import ingest_sync
    from ingest.store import open_index

    root = tmp_path_factory.mktemp("sites")
    shutil.copytree(SITES, root / "docs_cache", ignore=shutil.ignore_patterns("*.py", "*.json"))
    mp = pytest.MonkeyPatch()
    mp.setenv("ANONYMIZED_TELEMETRY", "False")
    settings = make_settings(data_dir=root / "data", docs_cache=root / "docs_cache")
    index = open_index(settings, make_embeddings(settings))
    ingest_sync(settings, [str(root / "docs_cache")], index=index)
    assert len({c.page_url for c in index.all_chunks()}) == 27
    yield index
    mp.undo()


def make_settings(**overrides: Any) -> AgentSettings:
    """Settings from the (isolated) environment, plus overrides."""
    base: dict[str, Any] = {"upstream_url": UPSTREAM}
    base.update(overrides)
    return AgentSettings(**base)


@pytest.fixture
def settings() -> AgentSettings:
    return make_settings()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def services(
    settings: AgentSettings, real_index: DocIndex, http_client: httpx.AsyncClient
) -> AgentServices:
    """Real services (SQLite in tmp_path, local key store) over the session index."""
    return build_services(settings, index=real_index, http_client=http_client)


@pytest.fixture
def alice() -> Principal:
    return Principal(owner="alice", key_id=None)


@pytest.fixture
def bob() -> Principal:
    return Principal(owner="bob", key_id=None)


class ScriptedChatModel(BaseChatModel):
    """Returns the scripted AIMessages in order and records every message list it got."""

    script: list[AIMessage]
    received: list[list[BaseMessage]] = []  # noqa: RUF012 - a pydantic field, copied per instance
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        if self.calls < len(self.script):
            message = self.script[self.calls]
        else:
            message = AIMessage(content="I have nothing more to add.")
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=message)])

    def seen_text(self) -> str:
        """Everything the model was ever shown, as one string."""
        return "\n".join(
            str(m.content) + str(getattr(m, "tool_calls", ""))
            for batch in self.received
            for m in batch
        )


class StreamingChatModel(BaseChatModel):
    """Streams `reply` a word at a time (`pause` seconds apart); records its inputs, the
    keyword arguments it got, and whether a stream was abandoned half way."""

    reply: str = "Open the API Keys tab and choose Rotate [1]. The old key stops working [1]."
    pause: float = 0.0
    fail: bool = False
    received: list[list[BaseMessage]] = []  # noqa: RUF012 - a pydantic field, per instance
    kwargs: list[dict[str, Any]] = []  # noqa: RUF012
    abandoned: list[bool] = []  # noqa: RUF012

    @property
    def _llm_type(self) -> str:
        return "streaming-test"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError  # only the async path is used

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.received.append(list(messages))
        self.kwargs.append(kwargs)
        if self.fail:
            raise RuntimeError("model crashed")
        finished = False
        try:
            for word in re.findall(r"\S+\s*", self.reply):
                await asyncio.sleep(self.pause)
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))
            finished = True
        finally:
            self.abandoned.append(not finished)

    def shown(self) -> str:
        return "\n".join(str(m.content) for batch in self.received for m in batch)


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def scripted(*messages: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(script=list(messages), received=[])


def page_path() -> Path:
    return CORPUS / "docs.nexos.ai" / "workspace" / "settings" / "user-settings" / "api-keys.md"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the routing figures per action class when the routing eval ran."""
    ran = any(
        "test_routing_eval.py" in report.nodeid
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "nodeid")
    )
    if ran:
        from tests.agent.routing_eval import SPLITS, report

        terminalreporter.write_sep("-", "routing evaluation")
        for split in SPLITS:
            terminalreporter.write_line(report(split))
