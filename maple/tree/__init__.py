"""The maple tree (lib/maple_tree.c) in pure Python: ``MapleTree`` (the normal API) and
``MaState`` (the advanced API), with the kernel's node geometry, write paths, gap tracking and
RCU-style lockless readers. See docs/tree.md for the design and the cost model."""

from maple.tree.constants import ARANGE64_SLOTS, RANGE64_SLOTS, ULONG_MAX, ZERO_ENTRY
from maple.tree.errors import EntryExists, InvalidArgument, InvariantError, MapleError, NoSpace
from maple.tree.state import MaState
from maple.tree.tree import MapleTree

__all__ = [
    "ARANGE64_SLOTS",
    "RANGE64_SLOTS",
    "ULONG_MAX",
    "ZERO_ENTRY",
    "EntryExists",
    "InvalidArgument",
    "InvariantError",
    "MapleError",
    "MapleTree",
    "MaState",
    "NoSpace",
]
