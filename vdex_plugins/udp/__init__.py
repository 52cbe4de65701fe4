"""udp plugin: ``udp://`` point-to-point cables, one raw Ethernet frame per UDP datagram.

Phase 1 holds the address syntax (``_address``); the endpoint and hooks arrive with the
runtime's endpoint interface.
"""
