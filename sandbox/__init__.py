"""The OS sandbox approved commands run in. Knows nothing of app/ (checked by lint-imports)."""
