"""The sans-I/O switching core: frames, MAC table, ports, forwarding.

Nothing in this package imports trio, socket, select, time or any other I/O or clock module; a test
enforces it. Time is an argument (whole seconds), output goes to injected callables.
"""
