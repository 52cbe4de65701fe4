"""vdex_plugins."""
