"""The legacy index's link fields, embedded in every VMA (struct vm_area_struct, pre-6.1).

Before the maple tree, a VMA carried its own index links: ``vm_next``/``vm_prev`` for the
per-mm doubly linked list, ``vm_rb`` (parent, children, colour) for the augmented rbtree keyed
by ``vm_start``, and ``rb_subtree_gap`` (the largest free gap in the VMA's rbtree subtree).
The simulated VMA class inherits these slots so the legacy index, like the kernel's, allocates
nothing per VMA: the links live inside the object being indexed.
"""

from __future__ import annotations


class VmaLinks:
    """Embedded legacy link fields: list links, rbtree links and the subtree gap."""

    __slots__ = ("vm_next", "vm_prev", "rb_parent", "rb_left", "rb_right", "rb_red", "rb_subtree_gap")

    def __init__(self) -> None:
        self.vm_next = None
        self.vm_prev = None
        self.rb_parent = None
        self.rb_left = None
        self.rb_right = None
        self.rb_red = False
        self.rb_subtree_gap = 0
