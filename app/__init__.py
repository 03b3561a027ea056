"""lockgate: a terminal review console for code-executing AI agents."""

__version__ = "0.1.0"
