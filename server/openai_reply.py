"""One answered turn of the OpenAI-compatible surface, streamed or not: the message text
(`render_content`), a new key's one-time link, the `docsagent` extra, `usage`, and the
conversation head recorded for a client that resends its history (`agent.threads`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from agent.errors import KeyRequiredError
from agent.links import is_safe_url
from agent.models import Answer
from agent.threads import Turn
from server.openai_state import OpenAIState


def secret_notice(link: str) -> str:
    """Where a standard client's user gets a new key (never cut by max_tokens)."""
    return (
        f"\n\n**Your new key is not in this message.** Open {link} in a browser and sign in "
        "with your API key to see and copy it: the link works once, within 10 minutes."
    )


def render_content(answer: Answer, *, placeholder_key: bool = False) -> str:
    """The answer (which shows a pending action's preview), how to decide a pending action
    here, and sources as a markdown list."""
    text = answer.answer.strip()
    if answer.pending_action:
        text += (
            f"\n\nPending action `{answer.pending_action.id}`: reply yes or no as your next "
            "message in this conversation, or approve or reject it in the web chat."
        )
    if placeholder_key and KeyRequiredError.MESSAGE in answer.answer:
        text += (
            "\n\n(Your client sent a placeholder instead of a docsagent API key, so you were "
            "answered as signed out. Set the client's API key to your docsagent key to manage "
            "keys.)"
        )
    safe = [s for s in answer.sources if is_safe_url(s.url)]
    if safe:
        lines = [f"- [{s.title}{' › ' + s.section if s.section else ''}]({s.url})" for s in safe]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


def reply_extra(answer: Answer) -> dict[str, Any]:
    """The reply's (or the stream's last chunk's) docsagent fields."""
    extra: dict[str, Any] = {
        "docsagent": {
            "mode": answer.mode,
            "conversation_id": answer.conversation_id,
            "conversation_token": answer.conversation_token,
        }
    }
    if answer.secret:
        extra["docsagent_secret"] = answer.secret.model_dump()
    return extra


@dataclass(frozen=True)
class Exchange:
    """One request and what its reply needs besides the Answer."""

    state: OpenAIState
    owner: str
    history: list[Turn]  # the user/assistant turns before the question
    question: str
    found: str | None  # the conversation the history continues
    placeholder: bool  # the client sent a placeholder, not a docsagent key
    limit: int | None  # max_tokens
    site: str  # base URL of the one-time secret links
    prompt_tokens: int

    async def content(self, answer: Answer) -> tuple[str, bool]:
        """The whole message, cut at `limit` tokens before a new key's link; whether cut."""
        content, cut = render_content(answer, placeholder_key=self.placeholder), False
        if self.limit is not None:
            limit = self.limit
            content, cut = await anyio.to_thread.run_sync(
                lambda: self.state.tokens.truncate(content, limit)
            )
        return content + await self.notice(answer), cut

    async def notice(self, answer: Answer) -> str:
        """A new key's one-time link (its secret sealed with the ticket), or ''."""
        if answer.secret is None:
            return ""
        secret = answer.secret
        ticket = await anyio.to_thread.run_sync(lambda: self.state.tickets.seal(self.owner, secret))
        return secret_notice(f"{self.site}/#secret={ticket}")

    async def record(self, conversation_id: str | None, content: str) -> None:
        """The history through `content`, the reply the client got, is the conversation's
        head: the client's next request, resending it, continues the conversation."""
        if not conversation_id:
            return
        conv, owner = conversation_id, self.owner
        replied = [*self.history, ("user", self.question), ("assistant", content)]
        await anyio.to_thread.run_sync(lambda: self.state.threads.advance(conv, owner, replied))

    async def usage(self, content: str) -> dict[str, int]:
        completion = await anyio.to_thread.run_sync(lambda: self.state.tokens.count(content))
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
