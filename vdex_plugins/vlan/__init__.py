"""VLAN plugin: 802.1Q segmentation and vde_switch's vlan/* console commands (spec §5).

The hook implementations are wired once the trio runtime lands; the sans-I/O parts live in
``_dot1q`` (the classify/adapt frame stages) and ``_commands`` (the console commands).
"""
