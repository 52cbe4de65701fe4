"""vxlan plugin: ``vxlan://`` ports and cables, RFC 7348, compatible with vdeplug4 and Linux.

Phase 1 holds the sans-I/O parts: ``_codec`` (the 8-byte header), ``_learning`` (MAC -> remote
endpoint with expiry; learns the real sender, which vdeplug4 does not) and ``_options`` (the
VNL). The endpoint and hooks arrive with the runtime's endpoint interface.
"""
