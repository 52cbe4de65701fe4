"""vdex: a VDE-compatible virtual switch and its plugins."""
