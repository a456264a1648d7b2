"""Geometry and special values of the 64-bit maple tree (include/linux/maple_tree.h)."""

from __future__ import annotations

ULONG_MAX: int = 2**64 - 1
"""The largest index; ranges are inclusive ``[first, last]`` within ``0 .. ULONG_MAX``."""

RANGE64_SLOTS: int = 16
"""Slots of a leaf (maple_leaf_64) and of a regular internal node (maple_range_64)."""

ARANGE64_SLOTS: int = 10
"""Slots of an allocation-tree internal node (maple_arange_64), which also keeps 10 gaps."""

RANGE64_MIN_SLOTS: int = RANGE64_SLOTS // 2 - 2
"""mt_min_slots for leaf_64/range_64: a non-root node whose last used slot index is below this is
insufficient (so it must hold at least 7 entries)."""

ARANGE64_MIN_SLOTS: int = ARANGE64_SLOTS // 2 - 1
"""mt_min_slots for arange_64 (at least 5 children)."""

NODE_BYTES: int = 256
"""Size of one kernel node; the cache-line model divides it into four 64-byte lines."""


class _ZeroEntry:
    """XA_ZERO_ENTRY: occupies a range (insert and gap search see it as used) but loads as None."""

    __slots__ = ()
    _instance: "_ZeroEntry | None" = None

    def __new__(cls) -> "_ZeroEntry":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ZERO_ENTRY"

    def __reduce__(self) -> str:
        return "ZERO_ENTRY"

    def __copy__(self) -> "_ZeroEntry":
        return self

    def __deepcopy__(self, memo: dict) -> "_ZeroEntry":
        return self


ZERO_ENTRY = _ZeroEntry()
