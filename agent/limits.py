"""Length limits of every string argument a surface accepts (REST routes, tools, MCP), in
one place so a tool registry and the routes check the same numbers. A longer value is a
400 before any work is done on it."""

from __future__ import annotations

MAX_QUESTION_CHARS = 2048  # questions, queries and goals (the settings' limit may be lower)
MAX_URL_CHARS = 2048  # a page URL or path
MAX_KEY_REF_CHARS = 300  # a key's id, name or masked form
MAX_NAME_CHARS = 255  # a key name (agent.keys.format.NAME_MAX)
MAX_ID_CHARS = 64  # conversation, pending action and key ids
MAX_COMMENT_CHARS = 2048  # feedback comments
MAX_TOOL_NAME_CHARS = 64

# per tool argument, for the tool surfaces
TOOL_ARGUMENT_CHARS: dict[str, int] = {
    "query": MAX_QUESTION_CHARS,
    "question": MAX_QUESTION_CHARS,
    "goal": MAX_QUESTION_CHARS,
    "url": MAX_URL_CHARS,
    "key": MAX_KEY_REF_CHARS,
    "name": MAX_NAME_CHARS,
    "approval_id": MAX_ID_CHARS,
    "conversation_id": MAX_ID_CHARS,
    "rating": 8,
    "comment": MAX_COMMENT_CHARS,
}
