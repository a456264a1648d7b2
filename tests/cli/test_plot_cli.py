"""``maplebench plot``: writes the file, refuses bad paths with exit 2."""

from __future__ import annotations


import golden_runs as runs
from cli_helpers import assert_input_error, run_cli


def test_plot_png(capsys, tmp_path):
    run = runs.reference_single(tmp_path, "seed")
    out_file = tmp_path / "seed.png"
    rc, out, err = run_cli(capsys, "plot", run, "-o", out_file)
    assert rc == 0 and str(out_file) in out
    assert out_file.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bad_paths(capsys, tmp_path):
    run = runs.reference_single(tmp_path, "seed")
    cases = [
        (["plot", run, "-o", tmp_path / "x.gif"], "unknown extension '.gif'"),
        (["plot", run, "-o", tmp_path / "no" / "x.png"], "does not exist"),
        (["plot", tmp_path / "nope", "-o", tmp_path / "x.png"], "does not exist"),
        (["plot", run], "-o"),
    ]
    for argv, needle in cases:
        assert_input_error(capsys, argv, needle)
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.png").exists()


def test_unwritable_places_are_one_line(capsys, tmp_path, monkeypatch):
    """Issue 12: `plot -o /proc/x.png` gave a traceback."""
    run = runs.reference_single(tmp_path, "seed")
    assert_input_error(capsys, ["plot", run, "-o", "/proc/x.png"], "/proc/x.png")
    if not _writable("/sys"):  # sysfs: read-only even for root
        assert_input_error(capsys, ["plot", run, "-o", "/sys/x.svg"], "/sys/x.svg")
    # a disk that fills while the figure is written
    import matplotlib.figure

    def full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    assert_input_error(capsys, ["plot", run, "-o", tmp_path / "full.png"], "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed"]


def test_throughput_axis_is_ops_per_second(capsys, tmp_path):
    """Issue 12: the plot said "ops per interval"."""
    run = runs.reference_single(tmp_path, "seed")
    rc, _, _ = run_cli(capsys, "plot", run, "-o", tmp_path / "seed.svg")
    text = (tmp_path / "seed.svg").read_text()
    assert rc == 0 and "operations per second (ops/s), higher is better" in text
    assert "per interval" not in text


def _writable(folder: str) -> bool:
    import os
    import tempfile

    try:
        fd, path = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(path)
    return True
