"""`POST /v1/chat/completions` with `stream: true`: the agent's `answer_stream` as
`chat.completion.chunk`s, so a grounded model's tokens reach the client as it writes them.

The chunks: the role first; content deltas as the text comes (the model's pieces as
written; a finished answer — offline, a key action — in 48-character pieces, as before);
a last chunk with `finish_reason` and the `docsagent` extra; the usage chunk with
`stream_options.include_usage`; `[DONE]`. The content adds up to the non-streaming
reply's: the answer without whitespace at its ends, then what exists only once it is
finished (a pending action's how-to-decide line, the placeholder-key note, the sources),
then a new key's one-time link.

An OpenAI stream cannot take text back (there is no `reset`). When the finished answer
does not begin with the text already streamed — the model cited nothing, failed or ran
out of time and the extractive answer took its place, or a note was put before it — the
stream goes on with a horizontal rule, one line in italics saying the text above is not
the answer and why (`withdrawn`), then the finished reply in full. A finished answer that
begins with the streamed text just continues it: there is nothing to take back.

Streamed text is the model's as written, checked as it goes by the writer
(`agent.grounded`): once it holds a link `agent.links.safe_links` would defuse
(`javascript:`…), nothing more of it comes, and the finished answer, defused, continues or
follows it as above.

`max_tokens` is counted as the text goes and cuts it exactly where the non-streaming reply
is cut (`finish_reason: "length"`; a new key's link still follows). A cut while the model
is still writing stops the model: the answer is cancelled, so that turn is not kept in the
conversation (as when a client disconnects, which cancels it too); the history the client
then holds continues the conversation its request continued.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

from agent.errors import AgentError
from agent.models import Answer
from ingest.errors import IngestError
from server.errors import ServerError, error_body, to_server_error
from server.openai_reply import Exchange, render_content, reply_extra
from server.tokens import TokenCounter

STEP = 48  # characters per delta of a finished text
LIVE_MODE = "local"  # only a covered docs question's grounded model streams before it ends
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


class Outgoing:
    """The reply's text as the client gets it: whitespace at its start dropped and at its
    end held back (the reply's answer is stripped), cut at `limit` tokens exactly where
    `TokenCounter.truncate` would cut the whole text. Near the limit a word that may still
    be arriving waits for the next piece: its tokens depend on how it ends."""

    def __init__(self, tokens: TokenCounter, limit: int | None) -> None:
        self.tokens, self.limit = tokens, limit
        self.taken = ""  # all text so far
        self.sent = ""  # the part of it the client has
        self.cut = False

    def add(self, text: str) -> str:
        """Take the next piece of text; what to send now."""
        if self.cut:
            return ""
        self.taken = (self.taken + text).lstrip()
        return self._send(self._within(self.taken.rstrip()))

    def finish(self, reply: str, separator: str) -> str:
        """Take the finished `reply`: its rest when it continues the text sent so far,
        else `separator` (which starts with a line break) and `reply` after that text; what to
        send now, the last of it."""
        if self.cut:
            return ""
        sent, rest = self.sent, reply[len(self.sent) :]
        # nothing sent, nothing to take back; and a cut counted on the text taken stays
        # right for a reply that begins with that text, or with the text sent when its
        # last word ends there
        same = (
            not sent
            or reply.startswith(self.taken.rstrip())
            or (reply.startswith(sent) and (not rest or rest[0].isspace()))
        )
        self.taken = reply if same else sent + separator + reply
        whole = self.taken
        if self.limit is not None:
            whole, self.cut = self.tokens.truncate(whole, self.limit)
        return self._send(whole)

    def _within(self, text: str) -> str:
        """The longest prefix of `text` (ending in a non-space) sure to be in the cut of
        any text that begins with it."""
        if self.limit is None:
            return text
        space = _LAST_SPACE.search(text)
        words, tail = (text[: space.start()].rstrip(), text[space.end() :]) if space else ("", text)
        count = self.tokens.count(words)  # complete words: tokens a continuation keeps
        if count + len(tail) <= self.limit:  # a token has at least one character
            return text
        if count > self.limit:  # the cut falls inside complete words: it is final
            self.cut = True
            return self.tokens.truncate(words, self.limit)[0]
        return words

    def _send(self, upto: str) -> str:
        if not upto.startswith(self.sent):
            return ""  # never happens: sent text is a prefix of every later cut
        new, self.sent = upto[len(self.sent) :], upto
        return new


def withdrawn(answer: Answer) -> str:
    """What follows streamed text the finished `answer` does not begin with, before it."""
    why = answer.generation.removeprefix("extractive: ")
    if why != answer.generation:
        note = f"The text above is not the answer: {why}. What the docs say:"
    else:
        note = "The answer changed after the text above was sent. Here it is in full:"
    return f"\n\n---\n\n*{note}*\n\n"


async def completion_chunks(
    exchange: Exchange,
    head: dict[str, Any],
    first: str | Answer,
    items: AsyncGenerator[str | Answer, None],
    *,
    with_usage: bool,
    request_id: str = "",
) -> AsyncIterator[dict[str, str]]:
    """The reply to `exchange` as chunk events, from the stream `items` whose first item,
    `first`, was already read (so that errors before any text were HTTP errors)."""

    def chunk(choices: list[dict[str, Any]], **more: Any) -> dict[str, str]:
        body = {**head, "object": "chat.completion.chunk", "choices": choices, **more}
        return {"data": json.dumps(body)}

    def delta(value: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": value, "finish_reason": reason}]

    def pieces(text: str) -> Iterator[dict[str, str]]:
        for start in range(0, len(text), STEP):
            yield chunk(delta({"content": text[start : start + STEP]}))

    out = Outgoing(exchange.state.tokens, exchange.limit)
    conversation: str | None
    yield chunk(delta({"role": "assistant", "content": ""}))
    try:
        async with aclosing(items):
            item = first
            while isinstance(item, str):
                if text := out.add(item):
                    yield chunk(delta({"content": text}))
                if out.cut:
                    break  # leaving closes `items`: the answer is cancelled, the model stops
                item = await anext(items)
        if isinstance(item, Answer):
            full = render_content(item, placeholder_key=exchange.placeholder)
            notice = await exchange.notice(item)  # after the cut, never cut
            for event in pieces(out.finish(full, withdrawn(item)) + notice):
                yield event
            content, finish = out.sent + notice, "length" if out.cut else "stop"
            conversation, extra = item.conversation_id, reply_extra(item)
        else:  # cut while the model wrote: the turn was abandoned
            content, finish, conversation = out.sent, "length", exchange.found
            named = {"mode": LIVE_MODE, "conversation_id": conversation, "conversation_token": None}
            extra = {"docsagent": named}
        await exchange.record(conversation, content)
        yield chunk(delta({}, finish), **extra)
        if with_usage:
            yield chunk([], usage=await exchange.usage(content))
        yield {"data": "[DONE]"}
    except (AgentError, IngestError, ServerError) as exc:
        yield {"data": json.dumps(error_body(to_server_error(exc), request_id))}
