"""Stand-alone command line tools of vdex that are not part of the switch.

``dpipe`` (process plumbing for VDE cables) and ``term`` (a console client for vde_switch-style
management sockets). Each tool module has ``add_arguments(parser)``, ``run(namespace) -> int`` and
``main(argv) -> int`` so the ``vdex`` CLI can mount it as a subcommand or call it directly.
"""
