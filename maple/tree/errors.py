"""The tree's errors: the kernel's errno values as Python exceptions.

The kernel's normal API returns ``-EINVAL``, ``-EEXIST`` and ``-EBUSY``; here each is an exception
class carrying the same ``errno`` and also deriving from the closest Python built-in, so callers
who know nothing of maple trees can still catch ``ValueError`` / ``KeyError``.
"""

from __future__ import annotations

import errno as _errno


class MapleError(Exception):
    """Base class of every error the maple tree raises; ``errno`` is the kernel's error number."""

    errno: int = 0


class InvalidArgument(MapleError, ValueError):
    """A bad index, range, size or entry, or an operation the tree's flavour does not support (EINVAL)."""

    errno = _errno.EINVAL


class EntryExists(MapleError, KeyError):
    """``insert`` found part of the range occupied (EEXIST)."""

    errno = _errno.EEXIST

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "entry exists"


class NoSpace(MapleError):
    """No empty window of the requested size inside the limits (EBUSY, as mas_empty_area returns)."""

    errno = _errno.EBUSY


class InvariantError(MapleError, AssertionError):
    """``validate()`` found a broken invariant (mt_validate would have printed and BUG()ed)."""

    errno = _errno.EFAULT
