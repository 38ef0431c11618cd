"""The tools, defined once: `registry` (what a tool is and the one way to call it: argument
check, key requirement, approval gate, errors), `docs` and `keys` (the tools themselves),
`catalog` (the list every surface is generated from) and `langchain` (LLM mode's view).

The server derives `GET/POST /v1/tools` and the MCP tools from the same catalog.
"""
