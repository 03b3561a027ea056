"""Patch engine: V4A and unified diffs parsed into one model, applied atomically, undoable."""
