"""maplebench's library: a pure-Python Linux maple tree and what stands on it.

Layers, lowest first (a layer never imports one above it):

* ``maple.tree``      the maple tree (lib/maple_tree.c), re-exported here
* ``maple.legacy``    the pre-6.1 VMA index: augmented rbtree, VMA list, vmacache
* ``maple.mm``        simulated address spaces with Linux syscall semantics
* ``maple.workloads`` will-it-scale testcases and the kernbench-style trace replay
* ``maple.trace``     strace recording, the trace format and its parser
* ``maple.bench``     runner, results folders, mmtests statistics, tables, gate, plots

The command line (``maplebench``) is a thin layer over these.
"""

from maple.tree import *  # noqa: F403  (the contract: ``from maple import MapleTree, ...``)
from maple.tree import __all__  # noqa: F401
