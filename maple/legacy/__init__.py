"""The pre-6.1 VMA index: augmented rbtree, VMA list and vmacache (Linux <= 6.0).

* :mod:`maple.legacy.links`    ``VmaLinks``: the link fields every VMA embeds
* :mod:`maple.legacy.rbtree`   ``AugmentedRBTree``: lib/rbtree.c + RB_DECLARE_CALLBACKS_MAX
* :mod:`maple.legacy.vmacache` ``VmaCache``: the per-thread 4-entry cache and its seqnum
* :mod:`maple.legacy.index`    ``LegacyVmaIndex``: the VMA index protocol over all three

Nothing here imports :mod:`maple.mm`; VMAs are duck-typed (``start``, ``end``, ``flags``).
"""

from maple.legacy.index import LegacyVmaIndex, vma_compute_gap
from maple.legacy.links import VmaLinks
from maple.legacy.rbtree import AugmentedRBTree
from maple.legacy.vmacache import VMACACHE_SIZE, VmaCache, vmacache_hash

__all__ = [
    "VMACACHE_SIZE",
    "AugmentedRBTree",
    "LegacyVmaIndex",
    "VmaCache",
    "VmaLinks",
    "vma_compute_gap",
    "vmacache_hash",
]
