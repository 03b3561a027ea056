"""Dependency checks against the real registries: does the package an action would install
exist, how new is it, is it quarantined, deprecated or yanked. The console asks the registry's
public metadata (never from inside the sandbox), respects private indexes, and caches answers."""
