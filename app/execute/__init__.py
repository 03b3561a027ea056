"""Adapters from the pipeline ports to the real sandbox, patch engine and network proxy."""
