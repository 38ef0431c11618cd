"""A key change a client asked for through a tool (REST, MCP), staged for the user: a
pending action in a conversation of its own, recorded there as a turn, so the user can
approve it in the web chat (the link it returns) or by elicitation (MCP)."""

from __future__ import annotations

from agent.actions import staged_answer
from agent.keys.base import APIKeyRecord
from agent.service import record_turn
from agent.toolbox.registry import ToolCall, ToolResult, ToolSpec, stage


def stage_for_client(spec: ToolSpec, call: ToolCall, record: APIKeyRecord) -> ToolResult:
    """Stage `spec` on `record`; nothing changes until the user approves."""
    services = call.services
    conversation = services.conversations.ensure(call.conversation_id, call.owner)
    pending = stage(spec, call, record, conversation_id=conversation)
    answer = staged_answer(pending, services.approvals.ttl)
    answer.conversation_id = conversation
    verb = spec.name.removesuffix("_api_key")
    # bound to its turn: a yes typed next in this conversation (the web chat the approval
    # link opens) confirms it
    meta = {"intent": verb, "pending_id": pending.id}
    record_turn(services, conversation, f"{verb} key {record.name}", answer, meta)
    link = call.host.approve_url(conversation, pending.id)
    where = f" in the web UI: {link}" if link else ""
    text = (
        f"Nothing changed yet. {pending.preview}\n"
        f"The user must approve this pending action ({pending.id}){where}"
    )
    data = {
        "status": "pending_approval",
        "preview": pending.preview,
        "approve_url": link,
        "pending_action": answer.pending_action.model_dump() if answer.pending_action else None,
        "conversation_id": conversation,
    }
    return ToolResult(data, text=text, pending=answer.pending_action, conversation_id=conversation)
