"""Errors raised by the simulated address spaces: Linux errno values as ``OSError``s."""

from __future__ import annotations

import errno as _errno

__all__ = ["MMError", "SegmentationFault"]


class MMError(OSError):
    """A failed syscall on a simulated address space; ``errno`` is the Linux error number.

    Constructed as ``MMError(errno, message)`` so ``str()`` reads ``[Errno 22] message``.
    """


class SegmentationFault(MMError):
    """A page fault the kernel would answer with SIGSEGV.

    ``code`` is ``"SEGV_MAPERR"`` (no VMA covers ``addr``; errno ``EFAULT``) or
    ``"SEGV_ACCERR"`` (the VMA forbids the access; errno ``EACCES``).
    """

    def __init__(self, addr: int, write: bool, code: str, reason: str) -> None:
        err = _errno.EACCES if code == "SEGV_ACCERR" else _errno.EFAULT
        super().__init__(err, f"SIGSEGV ({code}) on {'write' if write else 'read'} at {addr:#x}: {reason}")
        self.addr = addr
        self.write = write
        self.code = code
