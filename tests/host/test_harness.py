"""The compiled harness: every testcase builds and runs, and the syscalls one counted op makes
on the running kernel match the simulated testcase's counters."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from maple import workloads
from maple.bench.runner import default_layout, deterministic_counters
from maple.host import TESTCASES
from maple.mm import make_mm

PAGES = (128 << 20) // 4096


def test_harness_lists_exactly_the_host_testcases(host_build):
    out = subprocess.run([str(host_build.binary), "-l"], capture_output=True, text=True, check=True).stdout
    listed = dict(line.split("\t") for line in out.splitlines())
    # the simulated workloads, with the same will-it-scale descriptions
    assert listed == {name: workloads.workload_class(name).description for name in TESTCASES}


@pytest.mark.parametrize("mode", ["processes", "threads"])
@pytest.mark.parametrize("name", list(TESTCASES))
def test_fixed_passes_count_ops_per_task(host_build, name, mode):
    """-i 2 with 2 tasks: each task's counter holds 2 passes' ops (brk: 2 per pass, page
    faults: one per 4 KiB page, others 1)."""
    done = subprocess.run([str(host_build.binary), "-t", name, "-m", mode, "-n", "2", "-i", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    per_pass = 2 if name.startswith("brk") else PAGES if name.startswith("page_fault") else 1
    assert done.stdout.splitlines() == [f"task 0 ops {2 * per_pass}", f"task 1 ops {2 * per_pass}"]


def test_bad_harness_arguments_exit_2(host_build):
    for argv, needle in (
        (["-t", "nope"], "-t 'nope': unknown testcase"),
        (["-t", "brk1", "-m", "fibers"], "-m 'fibers'"),
        (["-t", "brk1", "-n", "0"], "-n '0'"),
        (["-t", "brk1", "-b", "0,x"], "-b '0,x'"),
    ):
        done = subprocess.run([str(host_build.binary), *argv], capture_output=True, text=True)
        assert done.returncode == 2 and needle in done.stderr, (argv, done.stderr)


# ------------------------------------------------------------------------------ syscalls per op


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    try:
        done = subprocess.run(["strace", "-f", "-c", "-o", "/dev/null", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


needs_strace = pytest.mark.skipif(not _strace_works(), reason="strace missing or ptrace not permitted")


def _syscall_counts(binary: Path, tmp: Path, name: str, mode: str, passes: int) -> tuple[dict[str, int], int]:
    """``strace -f -c`` of ``passes`` passes by one task: calls per syscall, and the ops done."""
    log = tmp / f"{name}-{mode}-{passes}.strace"
    done = subprocess.run(
        ["strace", "-f", "-c", "-o", str(log), str(binary), "-t", name, "-m", mode, "-n", "1", "-i", str(passes)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    ops = int(done.stdout.split()[-1])
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) < 5 or not parts[3].isdigit() or parts[-1] == "total":
            continue
        counts[parts[-1]] = int(parts[3])
    return counts, ops


@needs_strace
@pytest.mark.parametrize("mode", ["processes", "threads"])
@pytest.mark.parametrize("name", list(TESTCASES))
def test_syscalls_per_op_match_the_simulation(host_build, tmp_path, name, mode):
    """The difference between two runs of different length is the syscalls of the extra ops
    alone (start-up, setup and exit cancel out); per op it equals the simulated testcase's
    ``syscalls``, ``brk_calls``, ``mmap_calls`` and ``munmap_calls`` per op."""
    short, long_ = (1, 3) if name.startswith("page_fault") else (10, 50)
    c1, ops1 = _syscall_counts(host_build.binary, tmp_path, name, mode, short)
    c2, ops2 = _syscall_counts(host_build.binary, tmp_path, name, mode, long_)
    ops = ops2 - ops1
    assert ops > 0
    diff = {k: c2.get(k, 0) - c1.get(k, 0) for k in set(c1) | set(c2)}
    vma_calls = ("brk", "mmap", "munmap", "mprotect", "mremap")
    wl = workloads.get(name)
    sim = deterministic_counters(wl, make_mm("maple", layout=default_layout()), mode, 1)
    # Per VMA syscall, the extra ops' calls are the simulated testcase's, to one call: under
    # load, malloc1-threads once showed one call more over a 40-op difference (glibc's, outside
    # the loop), while a syscall in the loop would be off by ~ops.
    for syscall in vma_calls:
        want = sim.get(f"{syscall}_calls_per_op", 0.0) * ops
        assert abs(diff.get(syscall, 0) - want) <= 1, (syscall, diff.get(syscall, 0), want)
    assert sum(diff.get(k, 0) for k in vma_calls) == pytest.approx(sim["syscalls_per_op"] * ops, abs=1)
    host = {k: round(diff[k] / ops, 6) for k in vma_calls if abs(diff.get(k, 0)) > 1}
    # Nothing else scales with the ops: the harness's own waiting (wait4, poll, futex, ...)
    # varies with timing (more under load), a syscall in the loop would differ by ~ops.
    others = {k: d for k, d in diff.items() if k not in vma_calls and abs(d) >= max(3, ops // 4)}
    assert not others, others
    expected = {"brk1": {"brk": 1.0}, "brk2": {"brk": 1.0}}.get(
        name, {"mmap": 1 / PAGES, "munmap": 1 / PAGES} if name.startswith("page_fault") else {"mmap": 1.0, "munmap": 1.0})
    assert host == pytest.approx(expected, abs=1 / ops)
