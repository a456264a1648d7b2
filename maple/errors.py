"""Errors shared by every layer that are not kernel errors.

Kernel-shaped errors live with what raises them: the tree's ``MapleError`` family in
``maple.tree``, the address space's ``MMError`` (an ``OSError`` carrying errno) in ``maple.mm``.
"""


class InputError(ValueError):
    """Bad user input (a value, a file, a folder). The CLI prints it as one line and exits 2.

    The message must name the bad value, e.g. ``"--procs '8..2': B must be >= A"``.
    """
