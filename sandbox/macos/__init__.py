"""macOS sandbox: a Seatbelt profile generated from the same policy."""
