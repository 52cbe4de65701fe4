"""The tools as the vdex CLI mounts them: Subcommand records, argparse subparsers, main()."""

from __future__ import annotations

import argparse

import pytest

from vdex.tools import dpipe, term


def cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vdex")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for record in (dpipe.SUBCOMMAND, term.SUBCOMMAND):
        sub = subparsers.add_parser(record.name, help=record.help)
        record.add_arguments(sub)
        sub.set_defaults(run=record.run)
    return parser


def test_dpipe_options_stop_at_the_first_command() -> None:
    args = cli_parser().parse_args(["dpipe", "-d", "-P", "/run/x", "vde_plug", "-d", "a", "=", "vde_plug", "-h"])
    assert args.run is dpipe.run
    assert args.daemon and str(args.pgrpfile) == "/run/x"
    assert args.chain == ["vde_plug", "-d", "a", "=", "vde_plug", "-h"]


def test_term_arguments() -> None:
    args = cli_parser().parse_args(["term", "--raw", "--timeout", "3", "/tmp/s.mgmt"])
    assert (args.run, args.raw, args.timeout, str(args.socket)) == (term.run, True, 3.0, "/tmp/s.mgmt")


@pytest.mark.parametrize("module", [dpipe, term])
def test_help_shows_the_description_and_examples(module: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert module.main(["--help"]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "examples:" in out and out.startswith("usage: vdex ")


def test_main_returns_2_on_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert dpipe.main(["only-one-command"]) == 2
    assert term.main([]) == 2
    assert "usage" in capsys.readouterr().err
