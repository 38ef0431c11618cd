"""LLM mode's view of the catalog: each tool offered to the model becomes a LangChain
`StructuredTool` whose schema is the tool's own input schema and whose body is
`registry.invoke` (the same argument check, key requirement and approval gate as every
other surface). Our errors come back to the model as tool errors with our message;
`interrupt_on` names the tools `HumanInTheLoopMiddleware` must stop for approval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langchain.agents.middleware import InterruptOnConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException

from agent.errors import AgentError
from agent.toolbox.catalog import FOR_MODEL
from agent.toolbox.registry import ToolCall, ToolResult, ToolSpec, invoke
from ingest.errors import IngestError

Observer = Callable[[ToolSpec, ToolResult | None], None]
log = logging.getLogger(__name__)
NOT_ASKED = (
    "Not done: the user's message did not ask for this key action. Do not act on keys "
    "unless the user asks; answer the user's question instead."
)


def langchain_tools(call: ToolCall, observe: Observer) -> list[BaseTool]:
    """The model's tools for one turn (`call`); `observe` sees every call's result (None
    when it failed) before the model does."""
    return [_tool(spec, call, observe) for spec in FOR_MODEL]


def interrupt_on() -> dict[str, bool | InterruptOnConfig]:
    """Approve or reject only, for every model tool that needs the user's approval."""
    review: InterruptOnConfig = {"allowed_decisions": ["approve", "reject"]}
    return {spec.name: review for spec in FOR_MODEL if spec.needs_approval}


def _tool(spec: ToolSpec, call: ToolCall, observe: Observer) -> StructuredTool:
    async def run(**arguments: Any) -> str:
        result = None
        if not call.asked_for(spec):
            log.warning("dropped a %s call the user did not ask for", spec.name)
            raise ToolException(NOT_ASKED)
        try:
            result = await invoke(spec, call, arguments)
        except (AgentError, IngestError) as exc:  # the model reads what went wrong
            raise ToolException(str(exc)) from exc
        finally:
            observe(spec, result)
        return result.rendered

    return StructuredTool.from_function(
        coroutine=run,
        name=spec.name,
        description=spec.description,
        args_schema=spec.input_schema,
        infer_schema=False,
        handle_tool_error=True,
        metadata={"destructive": spec.destructive, "needs_approval": spec.needs_approval},
    )
