"""Risk engine: shell parsing, findings, typosquats, patch risk, policy rules."""
