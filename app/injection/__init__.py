"""Prompt-injection defences: the output scanner and the session's untrusted-content tracking."""
