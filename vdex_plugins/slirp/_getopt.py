"""glibc's ``getopt_long_only`` as a pure function, so that VDE command lines keep working.

vde-2's tools (slirpvde among them) parse with ``getopt_long_only``: a long option may be written
with one dash (``-dhcp``, ``-sock /tmp/sw``) as well as two, unambiguous abbreviations are
accepted, and an element such as ``-dq`` that matches no long option falls back to short options.
This module reproduces glibc's rules (argument permutation included; ``POSIXLY_CORRECT`` is not
honoured), and a differential test drives glibc itself through ctypes to prove it.

The rules, in the order glibc applies them to each command-line element:

1. ``--`` ends the options; ``-`` alone and anything not starting with ``-`` is an operand
   (operands may appear anywhere: they are collected, not an end of options).
2. ``--name[=value]`` is always a long option.
3. ``-x`` where ``x`` is a short option is that short option (so ``-d`` is never an abbreviation of
   ``-daemon``). Any other ``-text`` is first tried as a long option: an exact name wins, a prefix
   of exactly one name is that option, a prefix of two or more names is ambiguous (with
   ``getopt_long_only``, even when both names mean the same thing). When no name matches and the
   first character is a short option, the element is a cluster of short options instead.
4. In a cluster, a short option that takes an argument uses the rest of the element, or else the
   next element.
5. A long option's required argument follows ``=`` or is the next element; an optional argument
   (``has_arg == 2``) must follow ``=``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vdex.errors import UsageError

NO_ARGUMENT = 0
REQUIRED_ARGUMENT = 1
OPTIONAL_ARGUMENT = 2


@attrs.frozen
class LongOption:
    name: str
    has_arg: int
    key: str
    """What the option reports: its short letter, or any identifier for long-only options."""


@attrs.frozen
class ParsedArgs:
    options: tuple[tuple[str, str | None], ...]
    """``(key, argument)`` in command-line order."""
    operands: tuple[str, ...]


def getopt_long_only(
    args: Sequence[str], shortopts: str, longopts: Sequence[LongOption], *, program: str
) -> ParsedArgs:
    """Parse ``args`` (without the program name) like glibc's ``getopt_long_only``.

    :raises UsageError: at the first element glibc would report with ``?``; the message names
        the element, as glibc's own diagnostics do.
    """
    options: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    n = len(args)
    while i < n:
        arg = args[i]
        if arg == "--":
            operands.extend(args[i + 1 :])
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            i += 1
            continue
        if arg.startswith("--"):
            i = _long(args, i, arg[2:], "--", shortopts, longopts, options, program, fallback=False)
            continue
        if len(arg) > 2 or not _is_short_letter(shortopts, arg[1]):
            consumed = _long(
                args, i, arg[1:], "-", shortopts, longopts, options, program, fallback=True
            )
            if consumed != i:
                i = consumed
                continue
        i = _short_cluster(args, i, shortopts, options, program)
    return ParsedArgs(options=tuple(options), operands=tuple(operands))


def _is_short_letter(shortopts: str, letter: str) -> bool:
    """glibc's ``strchr(optstring, c)``: ``:`` counts as present (it is rejected later)."""
    return letter in shortopts


def _long(
    args: Sequence[str],
    i: int,
    text: str,
    dashes: str,
    shortopts: str,
    longopts: Sequence[LongOption],
    options: list[tuple[str, str | None]],
    program: str,
    *,
    fallback: bool,
) -> int:
    """Process a long option at ``args[i]``; return the next index, or ``i`` to try short ones."""
    name, eq, value = text.partition("=")
    found = next((opt for opt in longopts if opt.name == name), None)
    if found is None:
        candidates = [opt for opt in longopts if opt.name.startswith(name)]
        if len(candidates) > 1:
            names = ", ".join(dashes + opt.name for opt in candidates)
            raise UsageError(
                f"{program}: option '{dashes}{name}' is ambiguous; possibilities: {names}"
            )
        if candidates:
            found = candidates[0]
    if found is None:
        if fallback and _is_short_letter(shortopts, text[0]):
            return i
        raise UsageError(f"{program}: unrecognized option '{dashes}{text}'")
    i += 1
    if eq:
        if found.has_arg == NO_ARGUMENT:
            raise UsageError(f"{program}: option '{dashes}{found.name}' doesn't allow an argument")
        options.append((found.key, value))
    elif found.has_arg == REQUIRED_ARGUMENT:
        if i >= len(args):
            raise UsageError(f"{program}: option '{dashes}{found.name}' requires an argument")
        options.append((found.key, args[i]))
        i += 1
    else:
        options.append((found.key, None))
    return i


def _short_cluster(
    args: Sequence[str],
    i: int,
    shortopts: str,
    options: list[tuple[str, str | None]],
    program: str,
) -> int:
    arg = args[i]
    pos = 1
    while pos < len(arg):
        letter = arg[pos]
        pos += 1
        spec = shortopts.find(letter)
        if spec < 0 or letter in ":;":
            raise UsageError(f"{program}: invalid option -- '{letter}'")
        takes = shortopts[spec + 1 : spec + 2] == ":"
        optional = takes and shortopts[spec + 2 : spec + 3] == ":"
        if not takes:
            options.append((letter, None))
            continue
        if pos < len(arg):
            options.append((letter, arg[pos:]))
            return i + 1
        if optional:
            options.append((letter, None))
            return i + 1
        if i + 1 >= len(args):
            raise UsageError(f"{program}: option requires an argument -- '{letter}'")
        options.append((letter, args[i + 1]))
        return i + 2
    return i + 1
