"""The console's widgets; each styles its own insides (DEFAULT_CSS) and talks upward in messages."""
