"""slirp: unprivileged internet access for the virtual LAN, on the system libslirp.

Phase 1 is the library part, usable on its own: the ctypes binding (``_libslirp``), the bridge
between libslirp's poll/timer callbacks and trio (``_bridge``), and slirpvde's options
(``_settings``, ``_options``). The port type, the ``vdex slirp`` command and the console commands come with the
switch runtime. See docs/slirp.md.
"""

from __future__ import annotations

from ._bridge import FrameSink as FrameSink
from ._bridge import SlirpBridge as SlirpBridge
from ._bridge import SlirpStatistics as SlirpStatistics
from ._bridge import open_slirp as open_slirp
from ._libslirp import load_libslirp as load_libslirp
from ._options import USAGE as USAGE
from ._options import SlirpvdeCommand as SlirpvdeCommand
from ._options import parse_forward as parse_forward
from ._options import parse_slirpvde_args as parse_slirpvde_args
from ._options import settings_for_host as settings_for_host
from ._settings import HostForward as HostForward
from ._settings import SlirpSettings as SlirpSettings
from ._settings import UnixForward as UnixForward
from ._settings import X11Forward as X11Forward
