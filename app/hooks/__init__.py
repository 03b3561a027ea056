"""The console as the reviewer behind other agents' hooks (Claude Code, Gemini CLI, Codex).

`lockgate serve` opens the console with no agent of its own and listens on a private unix
socket; `lockgate hook AGENT` is the command the agent runs before each tool call. The hook
client (`client.py`, `endpoint.py`, `wire.py`) imports only the standard library, because it
runs once per tool call and its start-up time is the agent's waiting time. Everything that needs
the review core (`service.py`, `mapping.py`, `handoff.py`, `server.py`) runs in the console.
"""
