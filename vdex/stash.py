"""Typed per-switch storage for plugin state (pytest's Stash), so plugins keep no globals."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key for :class:`Stash`; create one per kind of state, at module level."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


class Stash:
    """A mapping from :class:`StashKey` to values of the key's type."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._data[key])

    def get(self, key: StashKey[T], default: D) -> T | D:
        try:
            return self[key]
        except KeyError:
            return default

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return cast(T, self._data.setdefault(key, default))

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._data[key]

    def pop(self, key: StashKey[T], default: D) -> T | D:
        return cast("T | D", self._data.pop(key, default))

    def __contains__(self, key: StashKey[Any]) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)
