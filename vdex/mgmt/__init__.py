"""mgmt."""
