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
