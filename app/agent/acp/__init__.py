"""The ACP link: any agent that speaks the Agent Client Protocol (JSON-RPC over its stdio) put
behind the console. The core never knows ACP exists: the link turns the agent's requests into
ordinary proposals and the results back into ACP answers. See docs/acp.md."""
