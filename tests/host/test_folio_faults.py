"""The ``current`` era's page-cache folios agree with this host's: page_fault3's faults per page.

The era models v6.18 with this machine's readahead window (``Era.readahead_pages``): on a
kernel before 6.18 (no whole-folio ``finish_fault`` for ext4) or a ``/tmp`` whose backing
device reads ahead a different amount, the host takes a different number of faults, so these
tests skip there rather than compare unlike things.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from maple.mm import KINDS

ERA = KINDS["current"]
ROOT = Path(__file__).resolve().parents[2]


def _kernel_at_least(major: int, minor: int) -> bool:
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return m is not None and (int(m[1]), int(m[2])) >= (major, minor)


def _tmp_readahead_kb() -> int | None:
    """``read_ahead_kb`` of the backing device of ``$TMPDIR`` (default /tmp), or None."""
    st = os.stat(os.environ.get("TMPDIR") or "/tmp")
    bdi = Path(f"/sys/class/bdi/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/read_ahead_kb")
    try:
        return int(bdi.read_text())
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def like_the_era():
    if sys.platform != "linux" or not _kernel_at_least(6, 18):
        pytest.skip(f"kernel {platform.release()}: the current era models v6.18+")
    kb = _tmp_readahead_kb()
    if kb != ERA.readahead_pages * 4:
        pytest.skip(f"/tmp reads ahead {kb} KiB, the era {ERA.readahead_pages * 4} KiB")


def test_page_fault3_faults_per_page_match_the_host(like_the_era, host_cache):
    from maple.clock import calibrate
    from maple.host import compiler
    from maple.workloads import get as get_workload

    try:
        compiler.find_compiler()
    except Exception as exc:
        pytest.skip(f"no C compiler: {exc}")
    host = calibrate.host_timing("wis:page_fault3:processes", reps=3, min_ms=5.0).faults_per_op
    model = calibrate.model_events(get_workload("page_fault3"), "processes", None)["fault"]
    assert model == pytest.approx(host, rel=0.10), (model, host)
    assert host < 0.2  # the whole-folio mapping is what the host does (one fault per page before)


def test_page_cache_folio_sizes_match_the_host(like_the_era):
    if os.geteuid() != 0 or not os.access("/proc/kpageflags", os.R_OK):
        pytest.skip("reading PFNs and /proc/kpageflags needs root")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "folio_sizes.py"), "--json", "--passes", "2"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    passes = json.loads(out)
    host = {int(k): v for k, v in passes[-1]["folios_by_pages"].items()}
    assert host == _model_folio_sizes()
    for p in passes:  # one fault per folio (a stray fault of Python's own allowed)
        assert abs(p["faults"] - sum(host.values())) <= 3, p["faults"]


def _model_folio_sizes() -> dict[int, int]:
    """Folio size (pages) -> count in the model's page cache after a page_fault3 pass."""
    from maple.mm import make_mm
    from maple.workloads import get as get_workload

    wl = get_workload("page_fault3")
    mm = make_mm("current")
    state = wl.setup(mm, 0)
    for _ in range(wl.steps_per_loop):
        wl.loop(mm, state)
    f = state[0]
    out: dict[int, int] = {}
    for p in f.pages:
        head, n = f.folio(p)
        if head == p:
            out[n] = out.get(n, 0) + 1
    return out
