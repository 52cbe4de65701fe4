"""vdex dpipe carrying real frames between two real vde_switches through real vde_plugs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .helpers import (
    PYTHON,
    RunningSwitch,
    dpipe_argv,
    group_is_empty,
    port_sockets,
    stop_process,
    wait_for,
)
from .vdeclient_helper import BROADCAST, VdeTestClient, frame, mac

pytestmark = pytest.mark.interop

SCRIPTS = Path(__file__).parent / "scripts"


@contextmanager
def cable(*chain: str, session_leader: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``vdex dpipe CHAIN`` and stop it (and check nothing is left) at the end."""
    proc = subprocess.Popen(dpipe_argv(*chain), stderr=subprocess.PIPE, start_new_session=session_leader)
    try:
        yield proc
    finally:
        stop_process(proc)
        wait_for(lambda: group_is_empty(proc.pid), what="the cable's commands to end")
        if proc.stderr is not None:
            proc.stderr.close()


def two_switches(start: Callable[..., RunningSwitch]) -> tuple[RunningSwitch, RunningSwitch]:
    return start("a"), start("b")


def wait_plugged(*switches: RunningSwitch) -> None:
    """Each switch has its vde_plug attached (one port socket), before the test clients join."""
    for switch in switches:
        wait_for(lambda s=switch: len(port_sockets(s.dir)) >= 1, what=f"vde_plug on {switch.dir}")


def assert_frames_cross(left: VdeTestClient, right: VdeTestClient, tag: bytes = b"") -> None:
    """A broadcast from each side reaches the other side unchanged."""
    there = frame(BROADCAST, mac(1), b"left to right " + tag)
    back = frame(BROADCAST, mac(2), b"right to left " + tag)
    # vde_plug may still be settling when the first frame leaves: retry until one crosses.
    deadline = time.monotonic() + 10
    while not right.recv_until(there, timeout=0.2):
        assert time.monotonic() < deadline, "no frame crossed left to right"
        left.send(there)
        left.drain()
    right.drain()
    right.send(back)
    assert left.recv_until(back, timeout=5), "no frame crossed right to left"


def test_cable_between_two_switches_carries_broadcasts_both_ways(vde_switch: Callable[..., RunningSwitch]) -> None:
    a, b = two_switches(vde_switch)
    with cable("vde_plug", str(a.dir), "=", "vde_plug", str(b.dir), session_leader=True) as proc:
        wait_plugged(a, b)
        with VdeTestClient(switch_dir=a.dir) as left, VdeTestClient(switch_dir=b.dir) as right:
            assert_frames_cross(left, right)
        assert proc.poll() is None


def test_python_middle_stage_on_alternate_fds_relays_both_ways(
    vde_switch: Callable[..., RunningSwitch], tmp_path: Path
) -> None:
    a, b = two_switches(vde_switch)
    log = tmp_path / "relay.log"
    relay = [PYTHON, str(SCRIPTS / "alt_relay.py"), str(log)]
    with cable("vde_plug", str(a.dir), "=", *relay, "=", "vde_plug", str(b.dir)):
        wait_plugged(a, b)
        with VdeTestClient(switch_dir=a.dir) as left, VdeTestClient(switch_dir=b.dir) as right:
            assert_frames_cross(left, right)
    tags = {line.split()[0] for line in log.read_text().splitlines()}
    assert tags == {"LR", "RL"}


def test_one_way_stages_each_see_one_direction(vde_switch: Callable[..., RunningSwitch], tmp_path: Path) -> None:
    a, b = two_switches(vde_switch)
    log = tmp_path / "oneway.log"
    relay = [PYTHON, str(SCRIPTS / "oneway_relay.py"), str(log)]
    # a -> toB -> b -> toA -> a (man dpipe: "a =} b }={ c {= d")
    chain = ["vde_plug", str(a.dir), "=}", *relay, "toB", "}={", *relay, "toA", "{=", "vde_plug", str(b.dir)]
    with cable(*chain):
        wait_plugged(a, b)
        with VdeTestClient(switch_dir=a.dir) as left, VdeTestClient(switch_dir=b.dir) as right:
            assert_frames_cross(left, right)
    lines = log.read_text().splitlines()
    assert not [line for line in lines if "unexpected" in line]
    assert {line.split()[0] for line in lines} == {"toA", "toB"}


def test_real_wirefilter_as_middle_stage(vde_switch: Callable[..., RunningSwitch], short_tmp: Path) -> None:
    a, b = two_switches(vde_switch)
    mgmt = short_tmp / "wf.mgmt"
    with cable("vde_plug", str(a.dir), "=", "wirefilter", "-M", str(mgmt), "=", "vde_plug", str(b.dir)):
        wait_plugged(a, b)
        wait_for(mgmt.exists, what="wirefilter's management socket")
        with VdeTestClient(switch_dir=a.dir) as left, VdeTestClient(switch_dir=b.dir) as right:
            assert_frames_cross(left, right)
        # wirefilter really is in the path: showinfo says it runs bidirectionally (dpipe mode).
        out = subprocess.run(
            [PYTHON, "-m", "vdex.tools.term", str(mgmt)], input="showinfo\n", capture_output=True,
            text=True, timeout=30,
        )
        assert "WireFilter: bidirectional" in out.stdout, out


def test_cable_ends_when_a_switch_goes_away(vde_switch: Callable[..., RunningSwitch]) -> None:
    a, b = two_switches(vde_switch)
    with cable("vde_plug", str(a.dir), "=", "vde_plug", str(b.dir)) as proc:
        wait_plugged(a, b)
        assert b.proc.stdin is not None
        b.proc.stdin.close()  # switch b exits; its vde_plug ends, then the other one
        b.proc.wait(10)
        assert proc.wait(10) is not None
        assert group_is_empty(proc.pid)
    assert not os.path.exists(b.dir)
