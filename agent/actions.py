"""Key actions of the offline agent's chat, on the key tools of `agent/toolbox`: generate
and list run at once; rotate and revoke become a pending action (`registry.stage`) that
only the user's approval executes (`execute`, through the registry's approval gate).

Secrets go to `Answer.secret` and nowhere else: the answer text only says that the secret
is shown once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.approvals import Pending
from agent.errors import KeyManagementError, KeyNameError, KeyNotFoundError, KeyRequiredError
from agent.keys.base import APIKeyRecord, Channel, KeyManager, Principal
from agent.keys.lookup import resolve_key
from agent.models import Answer
from agent.routing import Intent
from agent.toolbox import keys as key_tools
from agent.toolbox.host import PlainHost
from agent.toolbox.registry import ToolCall, invoke, stage

if TYPE_CHECKING:
    from agent.service import AgentServices

SIGN_IN = KeyRequiredError.MESSAGE
# Each surface delivers the secret its own way, apart from the message (a pop-up, a
# terminal panel, an MCP dialog, a one-time link): the message says only that.
SHOWN_ONCE = (
    "The new secret is shown to you **once**, apart from this message: copy it and store it "
    "somewhere safe. It cannot be shown again."
)
TOOL_FOR = {"rotate": key_tools.rotate_api_key, "revoke": key_tools.revoke_api_key}
_APPROVED = {spec.name: spec for spec in TOOL_FOR.values()}


@dataclass
class Outcome:
    """An action answer plus the meta the next turn needs (awaiting, key ref, pending id)."""

    answer: Answer
    meta: dict[str, Any] = field(default_factory=dict)


def _listing(records: list[APIKeyRecord]) -> str:
    live = [r for r in records if not r.removed]
    if not live:
        return "You have no API keys yet."
    rows = [
        f"- **{r.name}** (`{r.api_key}`, id `{r.id}`){'' if r.enabled else ' — disabled'}"
        for r in live
    ]
    return "\n".join(rows)


def _call(
    services: AgentServices,
    principal: Principal,
    channel: Channel,
    conversation_id: str,
    approval: Pending | None = None,
) -> ToolCall:
    host = PlainHost(services)
    return ToolCall(services, principal, channel, host, conversation_id, approval=approval)


async def key_action(
    services: AgentServices,
    intent: Intent,
    *,
    principal: Principal,
    channel: Channel,
    conversation_id: str,
) -> Outcome:
    """Carry out (generate, list) or stage (rotate, revoke) a signed-in user's offline key
    request (signed out, `service` answers from the docs and says how to sign in); the
    key store is read and written off the event loop."""
    call = _call(services, principal, channel, conversation_id)
    try:
        if intent.kind == "list":
            records = await asyncio.to_thread(
                services.keys.list, principal.owner, principal=principal
            )
            return Outcome(Answer(answer=_listing(records), mode="action"))
        if intent.kind == "generate":
            if not intent.name:
                text = "What should the new key be called? Reply with a name, e.g. “Production”."
                return Outcome(Answer(answer=text, mode="action"), {"awaiting": "name"})
            made = await invoke(key_tools.generate_api_key, call, {"name": intent.name})
            text = f"Created the key **{made.data['name']}** (`{made.data['masked_key']}`). "
            return Outcome(
                Answer(answer=text + SHOWN_ONCE, mode="action", secret=made.secret),
                {"key_ref": str(made.data["id"])},
            )
        return await asyncio.to_thread(_stage, services, call, intent)
    except KeyNameError as exc:
        return Outcome(Answer(answer=f"I could not create that key: {exc}", mode="action"))


def _stage(services: AgentServices, call: ToolCall, intent: Intent) -> Outcome:
    owner, verb = call.owner, intent.kind
    if intent.every_key or not intent.key_ref:
        records = services.keys.list(owner, principal=call.principal)
        lead = (
            f"I change one key at a time, each after your confirmation. Which key should I {verb}?"
            if intent.every_key
            else f"Which key should I {verb}? Reply with its name or id."
        )
        return Outcome(
            Answer(answer=f"{lead}\n\n{_listing(records)}", mode="action"), {"awaiting": verb}
        )
    try:
        record = resolve_key(services.keys, owner, intent.key_ref, principal=call.principal)
    except KeyManagementError as exc:
        records = services.keys.list(owner, principal=call.principal)
        problem = "is ambiguous" if not isinstance(exc, KeyNotFoundError) else "was not found"
        text = (
            f"The key “{intent.key_ref}” {problem}. Which key should I {verb}? "
            f"Reply with its name or id.\n\n{_listing(records)}"
        )
        return Outcome(Answer(answer=text, mode="action"), {"awaiting": verb})
    assert call.conversation_id is not None
    pending = stage(TOOL_FOR[verb], call, record, conversation_id=call.conversation_id)
    return Outcome(
        staged_answer(pending, services.approvals.ttl),
        {"pending_id": pending.id, "key_ref": record.id},
    )


def staged_answer(pending: Pending, ttl_seconds: int) -> Answer:
    """The answer that shows a pending action and asks for a yes/no."""
    minutes = max(1, round(ttl_seconds / 60))
    text = (
        f"{pending.preview}\n\nReply **yes** to confirm or **no** to cancel. Nothing changes "
        f"until you confirm; this request expires in {minutes} minute{'s' if minutes > 1 else ''}."
    )
    return Answer(answer=text, mode="action", pending_action=pending.to_model())


async def execute(
    services: AgentServices, pending: Pending, *, principal: Principal, channel: Channel
) -> Answer:
    """Run an approved pending action (bound to its key id) and report the outcome."""
    spec = _APPROVED[pending.tool]
    call = _call(services, principal, channel, pending.conversation_id, approval=pending)
    done = await invoke(spec, call, {"key": pending.key_id})
    if spec is key_tools.rotate_api_key:
        text = (
            f"Rotated **{done.data['name']}**: the old key no longer works and the new one is "
            f"`{done.data['masked_key']}`. {SHOWN_ONCE}"
        )
        return Answer(answer=text, mode="action", secret=done.secret)
    return Answer(answer=f"Revoked **{done.data['name']}**: it no longer works.", mode="action")


def cancelled(pending: Pending) -> Answer:
    return Answer(answer=f"Cancelled. The key '{pending.key_name}' was not changed.", mode="action")


VERB_OF = {"rotate_api_key": "rotate", "revoke_api_key": "revoke"}
NOTHING_PENDING = "There is nothing waiting for your confirmation in this conversation."


def request_of(pending: Pending) -> str:
    """'rotate the key 'X'' — what a pending action would do, in words."""
    return f"{VERB_OF.get(pending.tool, 'change')} the key '{pending.key_name}'"


def moved_on(pending: Pending) -> str:
    """The note on the turn that cancelled a pending action by asking something else."""
    return (
        f"*I cancelled the request to {request_of(pending)} because you asked something "
        "else; nothing was changed. Ask again if you still want it.*"
    )


def not_waiting(previous: dict[str, Any], reply: str) -> Answer:
    """The answer to a yes/no that has no pending action of the previous turn to decide."""
    awaiting = previous.get("awaiting")
    if awaiting and reply == "deny":
        return Answer(answer="Okay, nothing was changed.", mode="action")
    if awaiting in ("rotate", "revoke"):
        text = f"Which key should I {awaiting}? Reply with its name or id; nothing was changed."
        return Answer(answer=text, mode="action")
    text = NOTHING_PENDING
    if previous.get("cancelled"):
        text += (
            f" The request to {previous['cancelled']} was cancelled when you asked something else."
        )
    elif previous.get("pending_id"):
        text += " The last request is no longer waiting (it expired or was already decided)."
    return Answer(answer=f"{text} Nothing was changed.", mode="action")


def _names(records: list[APIKeyRecord], limit: int = 6) -> str:
    names = [f"“{r.name}”" for r in records if not r.removed][:limit]
    more = len([r for r in records if not r.removed]) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def clarify(intent: Intent, *, keys: KeyManager, principal: Principal) -> Outcome:
    """One short question back when a message may or may not be a key request."""
    verb = intent.action or "change"
    if verb == "generate":
        if intent.suggested:
            text = (
                f"Do you want a new API key named “{intent.suggested}”? Reply **yes** to create "
                "it, another name to use that, or ask your docs question in full."
            )
            return Outcome(
                Answer(answer=text, mode="action"),
                {"awaiting": "name", "suggested": intent.suggested},
            )
        text = "Do you want a new API key? Reply with a name for it, or ask your docs question."
        return Outcome(Answer(answer=text, mode="action"), {"awaiting": "name"})
    if intent.candidates:
        named = " or ".join(f"“{n}”" for n in intent.candidates)
        text = f"Which key should I {verb}: {named}? I change one key at a time."
        return Outcome(Answer(answer=text, mode="action"), {"awaiting": verb})
    records = keys.list(principal.owner, principal=principal)
    lead = f"You have no API key named “{intent.suggested}”. " if intent.suggested else ""
    names = _names(records)
    text = (
        f"{lead}Which of your API keys should I {verb}{f' ({names})' if names else ''}? Reply "
        "with its name, or ask your docs question in full."
    )
    return Outcome(Answer(answer=text, mode="action"), {"awaiting": verb})
