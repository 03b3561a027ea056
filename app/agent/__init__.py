"""Agent links: OpenAI Responses, Chat Completions, and the scripted demo session."""
