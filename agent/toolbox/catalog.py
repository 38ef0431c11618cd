"""Every tool, in the order surfaces list them: the one list LangChain (LLM mode),
`GET /v1/tools`, `POST /v1/tools/{name}`, MCP and the README's tool table come from.
Adding a tool is its function in `docs.py` or `keys.py` plus a line here."""

from __future__ import annotations

from agent.toolbox import docs, keys
from agent.toolbox.registry import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    docs.search_documentation,
    docs.get_page,
    docs.ask_question,
    docs.send_feedback,
    docs.ask_docs_site,
    keys.list_api_keys,
    keys.generate_api_key,
    keys.rotate_api_key,
    keys.revoke_api_key,
)
BY_NAME = {spec.name: spec for spec in TOOLS}
FOR_CLIENTS = tuple(spec for spec in TOOLS if spec.for_clients)
FOR_MODEL = tuple(spec for spec in TOOLS if spec.for_model)


def client_tool(name: str) -> ToolSpec | None:
    """The tool a client (REST, MCP) calls by this name, if there is one."""
    spec = BY_NAME.get(name)
    return spec if spec is not None and spec.for_clients else None
