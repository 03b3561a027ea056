"""Theme files (one TOML file each) shipped with the package; loaded by app.ui.themes."""
