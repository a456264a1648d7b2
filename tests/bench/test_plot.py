"""Plots: valid PNG/SVG/PDF files, refused paths, nothing left behind on failure."""

from __future__ import annotations


import golden_runs as runs
import pytest

from maple.bench.plot import check_output, plot_runs
from maple.bench.results import load_run
from maple.errors import InputError


MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return load_run(runs.scaling_run(tmp_path_factory.mktemp("sweep")))


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_writes_valid_file(sweep, tmp_path, fmt):
    out = plot_runs([sweep], tmp_path / f"fig.{fmt}")
    data = out.read_bytes()
    assert data.startswith(MAGIC[fmt]) and len(data) > 5000
    if fmt == "svg":
        text = data.decode()
        for label in ("brk1 (processes): throughput", "page_fault3 (threads)", "kernbench (processes)",
                      "brk1 (threads): counters per op", "nodes_visited", "cache_misses", "sweep-legacy", "sweep-maple", "tasks"):
            assert label in text, label
    if fmt == "png":
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 1000 and height > 800  # 3 columns, 4 rows of panels
    assert [p.name for p in tmp_path.iterdir()] == [f"fig.{fmt}"]


def test_several_runs(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    out = plot_runs([load_run(base), load_run(new)], tmp_path / "pair.svg")
    text = out.read_text()
    assert "6.8.0-base" in text and "6.8.0-patched" in text


@pytest.mark.parametrize("name,match", [("fig.jpg", "unknown extension '.jpg'"),
                                        ("fig", "unknown extension ''"),
                                        ("missing/fig.png", "does not exist")])
def test_bad_output(tmp_path, name, match):
    with pytest.raises(InputError, match=match):
        check_output(tmp_path / name)


def test_output_is_a_folder(tmp_path):
    (tmp_path / "x.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path / "x.png")


def test_output_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="is not a folder"):
        check_output(tmp_path / "f" / "x.png")


def test_log_ticks():
    from maple.bench.plot import log_ticks

    series = [2, 5, 8, 12, 21, 30, 48, 79, 110, 141, 172, 203, 234, 265, 296, 320]
    ticks = log_ticks(series)
    assert ticks[0] == 2 and ticks[-1] == 320 and len(ticks) <= 12
    import math

    gaps = [math.log(b / a) for a, b in zip(ticks, ticks[1:])]
    assert min(gaps) >= math.log(160) / 11 * 0.999
    assert log_ticks([1, 2, 4, 8]) == [1, 2, 4, 8]
    assert log_ticks([3]) == [3] and log_ticks([]) == []
