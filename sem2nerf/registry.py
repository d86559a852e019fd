"""A small name -> object registry, shared by label schemes and data-set domains."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects with a ``name`` attribute, registered once and looked up by name with clear errors."""

    def __init__(self, kind: str, cls: type[T]) -> None:
        self.kind, self.cls = kind, cls
        self._items: dict[str, T] = {}

    def register(self, item: T, overwrite: bool = False) -> T:
        name = item.name  # type: ignore[attr-defined]
        if name in self._items and not overwrite:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str | T) -> T:
        if isinstance(name, self.cls):
            return name
        try:
            return self._items[name]  # type: ignore[index]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self._items))}") from None

    def names(self) -> list[str]:
        return sorted(self._items)
