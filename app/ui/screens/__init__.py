"""The console's screens: the main screen, its dialogs, help and the session diff."""
