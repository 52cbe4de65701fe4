"""wirefilter as a frame stage on switch ports: the sans-I/O engine with a fake clock, the
``wf/*`` commands, and the timer service under trio's MockClock."""

from __future__ import annotations

import errno
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
import trio

from vdex._core.engine import SwitchEngine
from vdex._core.port import Port
from vdex.errors import ConfigError, MgmtError
from vdex.stash import Stash
from vdex_plugins.wirefilter import _stage
from vdex_plugins.wirefilter._stage import WF_STATE, cmd_add, cmd_del, cmd_set, cmd_show


@attrs.define(eq=False)
class Endpoint:
    id: int
    clock: Any = None
    uid: int | None = 0
    frames: list[tuple[float, bytes]] = attrs.Factory(list)

    def send(self, frame: bytes) -> None:
        self.frames.append((self.clock() if self.clock else 0.0, bytes(frame)))


class FakeSwitch:
    """What the plugin uses of a switch: stash, engine, recompile."""

    def __init__(self, clock: Any) -> None:
        self.stash = Stash()
        self.engine = SwitchEngine(numports=8)
        self.recompiles = 0
        _stage.configure(self, {"seed": "7"})
        self.state = self.stash[WF_STATE]
        self.state.clock = clock
        self.engine.set_stages([("wirefilter", _stage.frame_stage(self))])

    def recompile(self, port: Port | None = None) -> None:
        self.recompiles += 1
        self.engine.recompile(port)

    def connect(self, number: int) -> tuple[Port, Endpoint]:
        port, _created = self.engine.ports.choose_for_client(0, number)
        self.engine.add_port(port)
        endpoint = Endpoint(id=number, clock=self.state.clock)
        self.engine.attach(port, endpoint)
        return port, endpoint

    def command(self, handler: Any, args: str) -> Any:
        return handler(SimpleNamespace(switch=self), args)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def bcast(src: int, n: int, size: int = 64) -> bytes:
    head = b"\xff" * 6 + bytes((2, 0, 0, 0, 0, src)) + b"\x88\xb5"
    return head + n.to_bytes(4, "big") + bytes(size - len(head) - 4)


def unicast(dst: int, src: int, n: int) -> bytes:
    head = bytes((2, 0, 0, 0, 0, dst)) + bytes((2, 0, 0, 0, 0, src)) + b"\x88\xb5"
    return head + n.to_bytes(4, "big") + bytes(46)


def run_due(sw: FakeSwitch, clock: Clock) -> None:
    """What the service does: at each deadline, release what is due."""
    while (deadline := sw.state.next_deadline()) is not None:
        clock.t = deadline
        sw.state.release()


def test_ports_without_a_filter_get_no_stage() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, _e1 = sw.connect(1)
    assert p1.receive.__name__ != "wirefilter"
    sw.command(cmd_add, "1 delay=10")
    assert p1.receive.__name__ == "wirefilter" and p1.send.__name__ == "wirefilter"
    p2, _e2 = sw.connect(2)
    assert p2.receive.__name__ != "wirefilter"


def test_ingress_delay_into_the_switch_is_exact() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, _e1 = sw.connect(1)
    _p2, e2 = sw.connect(2)
    sw.command(cmd_add, "1 delay=LR50")
    p1.receive(bcast(1, 1))
    assert e2.frames == []
    assert sw.state.next_deadline() == pytest.approx(100.05)
    run_due(sw, clock)
    assert [(round((t - 100.0) * 1e6), f) for t, f in e2.frames] == [(50_000, bcast(1, 1))]


def test_egress_bandwidth_out_to_the_port_is_spaced() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    _p1, e1 = sw.connect(1)
    p2, _e2 = sw.connect(2)
    sw.command(cmd_add, "1 bandwidth=RL100000")
    for n in range(5):
        p2.receive(bcast(2, n, size=998))
    run_due(sw, clock)
    times = [round((t - 100.0) * 1e6) for t, _f in e1.frames]
    assert times == [10_000, 20_000, 30_000, 40_000, 50_000]


def test_learning_still_works_through_a_delayed_port() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, e1 = sw.connect(1)
    p2, e2 = sw.connect(2)
    _p3, e3 = sw.connect(3)
    sw.command(cmd_add, "1 delay=20")
    p1.receive(bcast(1, 0))  # the switch learns MAC 1 on port 1 when the frame gets in
    run_due(sw, clock)
    e2.frames.clear()
    e3.frames.clear()
    p2.receive(unicast(1, 2, 1))
    assert e3.frames == [] and e1.frames == []
    run_due(sw, clock)
    assert [f for _t, f in e1.frames] == [unicast(1, 2, 1)] and e3.frames == []


def test_loss_on_a_port_with_a_seed_is_repeatable() -> None:
    def delivered(seed: str) -> list[int]:
        clock = Clock()
        sw = FakeSwitch(clock)
        p1, _e1 = sw.connect(1)
        _p2, e2 = sw.connect(2)
        sw.command(cmd_add, f"1 loss=50 seed={seed}")
        for n in range(200):
            p1.receive(bcast(1, n))
        return [int.from_bytes(f[14:18], "big") for _t, f in e2.frames]

    first = delivered("1")
    assert first == delivered("1") and first != delivered("2")
    assert 70 < len(first) < 130


def test_set_changes_a_running_filter_and_del_removes_it() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, _e1 = sw.connect(1)
    _p2, e2 = sw.connect(2)
    sw.command(cmd_add, "1")
    p1.receive(bcast(1, 1))
    assert len(e2.frames) == 1
    sw.command(cmd_set, "1 delay 30")
    sw.command(cmd_set, "1 markov-numnodes 2")
    p1.receive(bcast(1, 2))
    assert len(e2.frames) == 1
    run_due_until = sw.state.filters[1].model.next_deadline()
    assert run_due_until is not None
    clock.t = 100.03
    sw.state.release()
    assert len(e2.frames) == 2
    p1.receive(bcast(1, 3))
    sw.command(cmd_del, "1")
    assert sw.state.filters == {} and p1.receive.__name__ != "wirefilter"
    p1.receive(bcast(1, 4))
    assert [int.from_bytes(f[14:18], "big") for _t, f in e2.frames] == [1, 2, 4]


def test_port_down_loses_frames_in_flight() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, e1 = sw.connect(1)
    sw.connect(2)
    sw.command(cmd_add, "1 delay=100")
    p1.receive(bcast(1, 1))
    sw.engine.detach(p1, e1)
    _stage.port_down(sw, p1)
    assert sw.state.next_deadline() is None
    assert sw.state.filters[1].model.stats[0].drop_flushed == 1


def test_filter_can_be_set_before_the_port_exists() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    sw.command(cmd_add, "5 delay=10")
    p5, _e5 = sw.connect(5)
    assert p5.receive.__name__ == "wirefilter"


@pytest.mark.parametrize(
    ("handler", "args", "code"),
    [
        (cmd_add, "", errno.EINVAL),
        (cmd_add, "x delay=1", errno.EINVAL),
        (cmd_add, "99 delay=1", errno.EINVAL),
        (cmd_add, "1 delay", errno.EINVAL),
        (cmd_add, "1 delay=abc", errno.EINVAL),
        (cmd_add, "1 colour=red", errno.EINVAL),
        (cmd_add, "1 backlog=-1", errno.EINVAL),
        (cmd_set, "3 delay 10", errno.ENOENT),
        (cmd_del, "3", errno.ENOENT),
        (cmd_show, "3", errno.ENOENT),
    ],
)
def test_bad_commands_get_errors(handler: Any, args: str, code: int) -> None:
    sw = FakeSwitch(Clock())
    with pytest.raises(MgmtError) as exc:
        sw.command(handler, args)
    assert exc.value.errno == code
    assert sw.state.filters == {}


def test_set_refuses_unknown_commands_and_bad_values() -> None:
    sw = FakeSwitch(Clock())
    sw.command(cmd_add, "1 delay=5")
    for args, code in (("1 jump 5", errno.ENOSYS), ("1 delay x", errno.EINVAL),
                       ("1 showinfo", errno.EINVAL), ("1", errno.EINVAL)):
        with pytest.raises(MgmtError) as exc:
            sw.command(cmd_set, args)
        assert exc.value.errno == code, args
    assert sw.state.filters[1].model.value(2, 0).value == 5
    with pytest.raises(MgmtError) as exc:
        sw.command(cmd_add, "1 delay=6")
    assert exc.value.errno == errno.EEXIST


def test_show_lists_and_details() -> None:
    clock = Clock()
    sw = FakeSwitch(clock)
    p1, _e1 = sw.connect(1)
    sw.connect(2)
    sw.command(cmd_add, "1 loss=100")
    p1.receive(bcast(1, 1))
    assert sw.command(cmd_show, "") == [
        "PORT DIR   RECEIVED  DELIVERED    DROPPED  QUEUED",
        "   1 L->R          1          0          1       0",
        "   1 R->L          0          0          0       0",
    ]
    detail = sw.command(cmd_show, "1")
    assert detail[0] == "Port 1 (L->R: into the switch, R->L: out to the port)"
    assert "Loss   L->R 100+0U   R->L 100+0U" in detail
    assert any(line.startswith("L->R dropped 1: mtu 0 loss 1 ") for line in detail)


def test_configure_refuses_bad_arguments() -> None:
    sw = SimpleNamespace(stash=Stash())
    with pytest.raises(ConfigError):
        _stage.configure(sw, {"seed": "x"})
    with pytest.raises(ConfigError):
        _stage.configure(sw, {"speed": "1"})


def test_mgmt_commands_are_valid_records_under_a_new_menu() -> None:
    paths = [c.path for c in _stage.mgmt_commands()]
    assert paths == ["wf", "wf/add", "wf/set", "wf/del", "wf/show"]


# ---------------------------------------------------------------------- the service, MockClock


async def test_service_releases_on_time_and_wakes_for_earlier_deadlines(autojump_clock: Any) -> None:
    sw = FakeSwitch(trio.current_time)
    p1, _e1 = sw.connect(1)
    _p2, e2 = sw.connect(2)
    sw.command(cmd_add, "1 delay=LR1000")
    async with trio.open_nursery() as nursery:
        await nursery.start(_stage.run_timer, sw)
        t0 = trio.current_time()
        p1.receive(bcast(1, 1))  # due in 1 s: the service sleeps until then
        await trio.sleep(0.1)
        sw.command(cmd_set, "1 delay LR100")
        p1.receive(bcast(1, 2))  # FIFO: behind frame 1
        sw.command(cmd_add, "2 delay=LR50")  # another port, an earlier deadline
        _p2.receive(bcast(2, 3))
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    arrivals = [(round(t - t0, 6), int.from_bytes(f[14:18], "big")) for t, f in e2.frames]
    assert arrivals == [(1.0, 1), (1.0, 2)]
    e1_frames = [(round(t - t0, 6), int.from_bytes(f[14:18], "big")) for t, f in _e1.frames]
    assert e1_frames == [(0.15, 3)]


async def test_service_speed_backlog_drains_on_time(autojump_clock: Any) -> None:
    sw = FakeSwitch(trio.current_time)
    p1, _e1 = sw.connect(1)
    _p2, e2 = sw.connect(2)
    sw.command(cmd_add, "1 speed=LR100000 backlog=3")
    async with trio.open_nursery() as nursery:
        await nursery.start(_stage.run_timer, sw)
        t0 = trio.current_time()
        for n in range(6):
            p1.receive(bcast(1, n, size=998))
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    times = [round(t - t0, 6) for t, _f in e2.frames]
    assert times == [0.01, 0.02, 0.03, 0.04]
    assert sw.state.filters[1].model.stats[0].drop_backlog == 2
