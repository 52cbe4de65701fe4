"""tap plugin: vdex ports on Linux tap interfaces (tap://IFNAME, vdex switch -t, vdex plug2tap).

Phase 1 holds the device side only (``_device``: TUNSETIFF; ``_link``: MTU, addresses, up); the
port type and hooks arrive with the runtime's endpoint interface.
"""
