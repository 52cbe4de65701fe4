"""FSTP plugin: vde_switch's per-VLAN "fast spanning tree", wire-compatible (spec §6).

The hook implementations are wired once the trio runtime lands; the sans-I/O parts live in
``_bpdu`` (codec), ``_machine`` (protocol machine), ``_commands`` (console commands) and
``_controller`` (binding a machine to a SwitchEngine).
"""
