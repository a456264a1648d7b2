"""``maplebench plot``: writes the file, refuses bad paths with exit 2."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from maplebench.main import main


def _runs_module():
    name = "maplebench_test_runs"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "bench" / "golden" / "runs.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


runs = _runs_module()


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


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
        rc, out, err = run_cli(capsys, *argv)
        assert rc == 2, argv
        assert err.count("\n") == 1 and needle in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.png").exists()
