"""Length limits of the string arguments the HTTP routes take outside the tool registry
(path and query parameters); the tools' own limits are on their argument models
(`agent/toolbox`). A longer value is a 400 before any work is done on it."""

from __future__ import annotations

MAX_QUESTION_CHARS = 2048  # ?ask= and &goal= (the settings' limit may be lower)
MAX_URL_CHARS = 2048  # a page path
MAX_ID_CHARS = 64  # key and conversation ids
MAX_TOOL_NAME_CHARS = 64
