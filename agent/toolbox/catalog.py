"""Every tool, in the order surfaces list them: the one list LangChain (LLM mode),
`GET /v1/tools`, `POST /v1/tools/{name}`, MCP and the README's tool table come from.
It is every tool `docs.py` and `keys.py` declare, in the order they declare them: adding
a tool is its function there (and its tests)."""

from __future__ import annotations

from agent.toolbox import docs, keys
from agent.toolbox.registry import ToolSpec

TOOLS: tuple[ToolSpec, ...] = tuple(
    value
    for module in (docs, keys)
    for value in vars(module).values()
    if isinstance(value, ToolSpec)
)
BY_NAME = {spec.name: spec for spec in TOOLS}
FOR_CLIENTS = tuple(spec for spec in TOOLS if spec.for_clients)
FOR_MODEL = tuple(spec for spec in TOOLS if spec.for_model)


def client_tool(name: str) -> ToolSpec | None:
    """The tool a client (REST, MCP) calls by this name, if there is one."""
    spec = BY_NAME.get(name)
    return spec if spec is not None and spec.for_clients else None
