"""Differential against the running Linux kernel.

A child Python process reserves a window with ``mmap(PROT_NONE)``, replays a random sequence
of ``MAP_FIXED`` mmap (anonymous private/shared and private file mappings), mprotect, munmap
and write faults (touching a page the child's own maps say is writable) inside it through
ctypes, and prints the window of ``/proc/self/maps`` after every step. The simulation replays
the same sequence from the same reservation; starts, ends and permissions must agree step by
step, under one of its rule sets (``"current"`` for recent kernels such as this host's 6.18,
``"6.1"`` for kernels of the experiment's era). Skipped where there is no Linux /proc or no libc.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from maple.mm import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_NONE,
    File,
    MMError,
)
from mm_helpers import KINDS, P, new_mm

WINDOW_PAGES = 40

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists("/proc/self/maps"),
    reason="needs Linux /proc/self/maps",
)

CHILD = textwrap.dedent(
    r"""
    import ctypes, ctypes.util, json, os, sys, tempfile
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    P = 4096
    req = json.load(sys.stdin)
    W = req["window_pages"] * P
    fd, path = tempfile.mkstemp()
    os.write(fd, b"\0" * (64 * P))
    base = libc.mmap(None, W, 0, 0x22, -1, 0)  # PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS
    if base in (None, ctypes.c_void_p(-1).value):
        print(json.dumps({"error": ctypes.get_errno()})); sys.exit(0)

    def window():
        out = []
        with open("/proc/self/maps") as f:
            for line in f:
                rng, perms = line.split()[:2]
                s, e = (int(x, 16) for x in rng.split("-"))
                if e > base and s < base + W:
                    out.append([max(s, base) - base, min(e, base + W) - base, perms])
        return out

    steps = []
    for op in req["ops"]:
        name = op[0]
        rc = 0
        if name == "mmap":
            _, pg, n, prot, kind, pgoff = op
            flags = 0x10 | (0x01 if kind == "shared" else 0x02) | (0 if kind == "file" else 0x20)
            r = libc.mmap(base + pg * P, n * P, prot, flags, fd if kind == "file" else -1, pgoff * P)
            rc = 0 if r == base + pg * P else ctypes.get_errno()
        elif name == "munmap":
            rc = libc.munmap(base + op[1] * P, op[2] * P) and ctypes.get_errno()
        elif name == "mprotect":
            rc = libc.mprotect(base + op[1] * P, op[2] * P, op[3]) and ctypes.get_errno()
        elif name == "touch":
            addr = base + op[1] * P
            if any(s <= addr - base < e and p[1] == "w" for s, e, p in window()):
                ctypes.memset(addr, 1, 1)
                rc = "touched"
            else:
                rc = "skipped"
        steps.append([rc, window()])
    os.unlink(path)
    print(json.dumps({"base": base, "steps": steps}))
    """
)


def random_ops(rng: random.Random, n: int) -> list:
    ops = []
    inner = WINDOW_PAGES - 2  # keep the first and last page of the reservation untouched
    for _ in range(n):
        pg = rng.randrange(1, inner)
        npg = rng.randint(1, min(6, inner + 1 - pg))
        r = rng.random()
        if r < 0.4:
            kind = rng.choice(["anon", "anon", "anon", "shared", "file"])
            ops.append(["mmap", pg, npg, rng.choice([0, 1, 3, 3, 5]), kind, pg if rng.random() < 0.8 else pg + 1])
        elif r < 0.7:
            ops.append(["mprotect", pg, npg, rng.choice([0, 1, 3, 5])])
        elif r < 0.85:
            ops.append(["munmap", pg, npg])
        else:
            ops.append(["touch", pg])
    return ops


def run_child(ops):
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps({"window_pages": WINDOW_PAGES, "ops": ops}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        pytest.skip(f"child process failed: {proc.stderr.strip()[-200:]}")
    out = json.loads(proc.stdout)
    if "error" in out:
        pytest.skip(f"could not reserve a window: errno {out['error']}")
    return out


def simulate(kind: str, base: int, ops: list, rules: str) -> list:
    mm = new_mm(kind, rules=rules)
    f = File("/tmp/child-file")
    mm.mmap(base, WINDOW_PAGES * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    steps = []
    for op in ops:
        name = op[0]
        rc = 0
        try:
            if name == "mmap":
                _, pg, n, prot, kind_, pgoff = op
                flags = MAP_FIXED | (MAP_SHARED if kind_ == "shared" else MAP_PRIVATE)
                if kind_ != "file":
                    flags |= MAP_ANONYMOUS
                mm.mmap(base + pg * P, n * P, prot, flags, f if kind_ == "file" else None, pgoff)
            elif name == "munmap":
                mm.munmap(base + op[1] * P, op[2] * P)
            elif name == "mprotect":
                mm.mprotect(base + op[1] * P, op[2] * P, op[3])
            elif name == "touch":
                addr = base + op[1] * P
                vma = mm.index.vma_lookup(addr)
                if vma is not None and vma.perms[1] == "w":
                    mm.fault(addr, write=True)
                    rc = "touched"
                else:
                    rc = "skipped"
        except MMError as e:
            rc = e.errno
        mm.validate()
        window = [
            [max(v.start, base) - base, min(v.end, base + WINDOW_PAGES * P) - base, v.perms]
            for v in mm.vmas()
            if v.end > base and v.start < base + WINDOW_PAGES * P
        ]
        steps.append([rc, window])
    return steps


def fmt(window):
    return " ".join(f"{s // P}-{e // P}:{p}" for s, e, p in window)


def first_mismatch(ops, real_steps, sim_steps):
    for i, (op, (rrc, rwin), (src, swin)) in enumerate(zip(ops, real_steps, sim_steps)):
        if (src, fmt(swin)) != (rrc, fmt(rwin)):
            return i, f"step {i} {op}:\n kernel {rrc} {fmt(rwin)}\n    sim {src} {fmt(swin)}"
    return None


def check_seed(seed: int, length: int) -> None:
    """The kernel's trace must match the simulation, step by step, under one rule set:
    ``"current"`` on recent kernels (this host runs 6.18), ``"6.1"`` on kernels of that era."""
    ops = random_ops(random.Random(seed), length)
    real = run_child(ops)
    for kind in KINDS:
        failures = []
        for rules in ("current", "6.1"):
            mismatch = first_mismatch(ops, real["steps"], simulate(kind, real["base"], ops, rules))
            if mismatch is None:
                break
            failures.append((mismatch[0], rules, mismatch[1]))
        else:
            step, rules, text = max(failures)
            pytest.fail(f"{kind}, seed {seed}, closest rules {rules!r}, {text}")


@pytest.mark.parametrize("seed", range(6))
def test_simulation_matches_the_running_kernel(seed):
    check_seed(seed, 60)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6, 106))
def test_simulation_matches_the_running_kernel_long(seed):
    check_seed(seed, 150)
