"""What a tool is, and the one way every surface runs one.

A tool (`ToolSpec`, made by `@tool`) is a plain typed function with a one-paragraph
docstring (its description), a pydantic argument model (a description and a limit on
every field: the input schema every surface publishes), its annotations (read-only,
destructive, idempotent, open-world), whether it needs the caller's API key, and whether
it needs the user's approval. `invoke` is the only way to run one, the same for LangChain,
`/v1/tools` and MCP: it checks the arguments against the model (`ArgumentError`), refuses
an anonymous caller a key tool (`KeyRequiredError`), and applies the approval gate.

The gate, for tools that need approval (they change one key, named by `key`): the
function runs only with `ToolCall.approval`, the user's own approval of exactly this tool
on exactly this key (`agent.approvals`: bound to owner, action and key, single-use, never
forgeable by a model), and only once per approval. Without one, the call stages a pending
action for the user to approve (`unapproved="stage"`: REST, MCP) or is refused
(`unapproved="refuse"`: LLM mode, where `HumanInTheLoopMiddleware` stages it first).
`{"approval_id": ...}` instead of `key` reports what the user decided.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.approvals import Pending, preview_for
from agent.errors import ApprovalError, ApprovalPendingError, ArgumentError, KeyRequiredError
from agent.keys.base import APIKeyRecord, Channel, Principal
from agent.keys.lookup import resolve_key
from agent.models import NewSecret, PendingAction, Source

if TYPE_CHECKING:
    from agent.service import AgentServices
    from agent.toolbox.host import ToolHost

NOT_APPROVED = "Not done: this change needs the user's approval, which was not given."


class ToolArgs(BaseModel):
    """Base of every argument model: arguments the tool does not take are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ToolResult:
    """What a tool returns: `data` (model-safe JSON, the same on every surface; `/v1/tools`
    returns it as `result`), `text` (how text surfaces show it: MCP content, the model's
    tool message; JSON of `data` when None), and what only the user may see or decide:
    a new `secret`, a `pending` action awaiting approval in `conversation_id`."""

    data: Any
    text: str | None = None
    secret: NewSecret | None = None
    pending: PendingAction | None = None
    conversation_id: str | None = None

    @property
    def rendered(self) -> str:
        if self.text is not None:
            return self.text
        return json.dumps(self.data, ensure_ascii=False, default=str)


@dataclass
class ToolCall:
    """Who calls, through which surface, and what the surface provides (`host`). One per
    request on REST and MCP; one per turn in LLM mode, so citation numbers (`sources`) run
    on across the turn's tool calls and an approval is spent once within it."""

    services: AgentServices
    principal: Principal | None
    channel: Channel
    host: ToolHost
    conversation_id: str | None = None
    approval: Pending | None = None
    unapproved: Literal["stage", "refuse"] = "stage"
    sources: list[Source] = field(default_factory=list)
    # LLM mode: the key tools the user's own message asked for (None: a client called the
    # tool by name, which is the asking). A key tool outside it is refused, never run.
    requested: frozenset[str] | None = None

    def asked_for(self, spec: ToolSpec) -> bool:
        return not spec.needs_key or self.requested is None or spec.name in self.requested

    def cite(self, source: Source) -> int:
        """Number a source for `[n]` citations (1-based, in the order cited)."""
        self.sources.append(source)
        return len(self.sources)

    @property
    def owner(self) -> str:
        if self.principal is None:
            raise KeyRequiredError()
        return self.principal.owner


@dataclass(frozen=True)
class Approved:
    """What an approval tool's function gets: the key the user approved the change of."""

    record: APIKeyRecord
    approval_id: str


@dataclass(frozen=True)
class ToolSpec:
    """One tool; every surface is generated from it."""

    name: str
    func: Callable[..., Any]  # (ToolCall, args) or, for approval tools, (ToolCall, Approved)
    args: type[ToolArgs]
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False
    needs_key: bool = False
    needs_approval: bool = False
    for_model: bool = True  # offered to the LLM agent
    for_clients: bool = True  # offered on /v1/tools and MCP

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        """The arguments' JSON schema: properties with descriptions and limits (without
        pydantic's titles, which LangChain drops: every surface publishes the same)."""
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    def openai_function(self) -> dict[str, Any]:
        """The OpenAI function-calling schema (`GET /v1/tools`)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.input_schema,
            },
        }


def tool(
    name: str, args: type[ToolArgs], **flags: bool
) -> Callable[[Callable[..., Any]], ToolSpec]:
    """Declare a tool: `@tool("getPage", PageArgs, read_only=True)` over its function."""
    if flags.get("needs_approval") and "key" not in args.model_fields:
        raise TypeError(f"{name}: a tool that needs approval changes one key, named by `key`")

    def declare(func: Callable[..., Any]) -> ToolSpec:
        if not inspect.cleandoc(func.__doc__ or ""):
            raise TypeError(f"{name}: a tool's docstring is its description")
        return ToolSpec(name=name, func=func, args=args, **flags)

    return declare


def parse_arguments(spec: ToolSpec, arguments: object) -> ToolArgs:
    """The validated arguments, or ArgumentError naming what is wrong with them."""
    if not isinstance(arguments, Mapping):
        raise ArgumentError("the arguments must be a JSON object")
    try:
        return spec.args.model_validate(dict(arguments))
    except ValidationError as exc:
        raise ArgumentError.from_errors(exc.errors(include_input=False)) from exc


async def invoke(spec: ToolSpec, call: ToolCall, arguments: object) -> ToolResult:
    """Run `spec` for `call` with raw `arguments`: checked, gated, errors our own."""
    args = parse_arguments(spec, arguments)
    if spec.needs_key and call.principal is None:
        raise KeyRequiredError()
    if spec.needs_approval:
        return await asyncio.to_thread(_gate, spec, call, args)
    if inspect.iscoroutinefunction(spec.func):
        result: ToolResult = await spec.func(call, args)
        return result
    return await asyncio.to_thread(spec.func, call, args)


def stage(
    spec: ToolSpec,
    call: ToolCall,
    record: APIKeyRecord,
    *,
    conversation_id: str,
    source: str = "offline",
) -> Pending:
    """A pending action for the user to approve: `spec` on the key `record`, nothing run."""
    return call.services.approvals.create(
        conversation_id=conversation_id,
        owner=call.owner,
        tool=spec.name,
        key_id=record.id,
        key_name=record.name,
        preview=preview_for(spec.name, record.name, record.api_key),
        source=source,
    )


def _gate(spec: ToolSpec, call: ToolCall, args: Any) -> ToolResult:
    """The approval gate (see the module docstring); runs in a worker thread."""
    services, owner = call.services, call.owner
    if args.approval_id:
        return _decision(spec, call, args.approval_id)
    record = resolve_key(services.keys, owner, args.key, principal=call.principal)
    approval = call.approval
    if approval is None:
        if call.unapproved == "refuse":
            raise ApprovalError(NOT_APPROVED)
        from agent.toolbox.staging import stage_for_client  # it records a conversation turn

        return stage_for_client(spec, call, record)
    if approval.tool != spec.name or approval.owner != owner or approval.key_id != record.id:
        raise ApprovalError(NOT_APPROVED)
    call.approval = None  # spent: one approval, one change
    result: ToolResult = spec.func(call, Approved(record, approval.id))
    return result


def _decision(spec: ToolSpec, call: ToolCall, approval_id: str) -> ToolResult:
    """What the user decided about a pending action of this tool an earlier call staged."""
    pending = call.services.approvals.get(approval_id)
    if pending is None or pending.owner != call.owner or pending.tool != spec.name:
        raise ApprovalError("no such pending action for you")
    if pending.status == "pending":
        link = call.host.approve_url(pending.conversation_id, pending.id)
        raise ApprovalPendingError(
            "waiting for the user's approval" + (f": {link}" if link else "")
        )
    data = {"status": pending.status, "key_id": pending.key_id, "name": pending.key_name}
    return ToolResult(data)
