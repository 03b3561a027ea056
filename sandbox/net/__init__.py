"""Network allow-list proxy (runs in the console process) and its rules."""
