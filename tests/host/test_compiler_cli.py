"""Building the harness: the cache, and bad compilers as one-line input errors via the CLI."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import cli_helpers
from maple.errors import InputError
from maple.host import compiler


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(compiler, "_built", {})
    return tmp_path / "cache" / "maplebench" / "host"


def _script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_build_caches_by_source_compiler_and_flags(host_build, fresh_cache):
    first = compiler.build()
    assert first.binary.parent.parent == fresh_cache and first.binary.parent.name == first.key
    assert os.access(first.binary, os.X_OK)
    stamp = first.binary.stat().st_mtime_ns
    compiler._built.clear()
    again = compiler.build()  # a second first use in another process: the cached binary
    assert again.binary == first.binary and again.binary.stat().st_mtime_ns == stamp
    srcs, cc = compiler.sources(), first.compiler
    key = compiler.cache_key(srcs, cc, compiler.FLAGS)
    assert key == first.key
    assert compiler.cache_key(srcs, compiler.Compiler(cc.command, cc.version + "x"), compiler.FLAGS) != key
    assert compiler.cache_key(srcs, cc, (*compiler.FLAGS, "-O3")) != key
    changed = dict(srcs, **{"brk1.c": srcs["brk1.c"] + b"\n"})
    assert compiler.cache_key(changed, cc, compiler.FLAGS) != key


def test_concurrent_first_uses_both_get_a_whole_binary(host_build, fresh_cache):
    cc = compiler.find_compiler()
    target = fresh_cache / "k" / compiler.BINARY
    errors: list[BaseException] = []

    def one() -> None:
        try:
            compiler._compile(cc, compiler.sources(), compiler.FLAGS, target)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(p.name for p in target.parent.iterdir()) == [compiler.BINARY]  # no temporaries left
    import subprocess

    out = subprocess.run([str(target), "-l"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("brk1\t")


def _run_host(capsys, tmp_path):
    return cli_helpers.run_cli(capsys, "run", "brk1", "--mm", "host,maple", "--procs", "1", "--samples", "1",
                               "--warmup", "0", "--interval", "0.05", "--out", tmp_path / "out", "-q")


def test_missing_cc_is_one_line(capsys, tmp_path, fresh_cache, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    rc, out, err = _run_host(capsys, tmp_path)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"CC='{tmp_path / 'no-such-cc'}'" in err and "not found" in err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_no_compiler_on_path_is_one_line(capsys, tmp_path, fresh_cache, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    rc, out, err = _run_host(capsys, tmp_path)
    assert rc == 2 and err.count("\n") == 1
    assert "no C compiler found" in err and "cc, gcc, clang" in err
    assert not (tmp_path / "out").exists()


def test_a_compiler_that_fails_is_one_line(capsys, tmp_path, fresh_cache, monkeypatch):
    monkeypatch.setenv("CC", "false")
    rc, out, err = _run_host(capsys, tmp_path)
    assert rc == 2 and err.count("\n") == 1
    assert "C compiler '" in err and "false' failed to build the host testcases: exit status 1" in err
    broken = _script(tmp_path / "bin", "brokencc", 'echo "In file included from x.c:" >&2\n'
                     'echo "harness.c:12:3: error: expected ; before }" >&2\necho "second line" >&2\nexit 1\n')
    monkeypatch.setenv("CC", str(broken))
    compiler._built.clear()
    rc, out, err = _run_host(capsys, tmp_path)
    assert rc == 2 and err.count("\n") == 1
    assert f"C compiler '{broken}' failed" in err and "harness.c:12:3: error: expected ; before }" in err
    assert "second line" not in err
    assert not (tmp_path / "out").exists()


def test_timed_workloads_are_refused_with_host(capsys, tmp_path):
    for workload in ("kernbench", "trace"):
        cli_helpers.assert_input_error(
            capsys, ["run", workload, "--mm", "host", "--out", tmp_path], "a real build is `maplebench record`'s job")
    assert list(tmp_path.iterdir()) == []


def test_find_compiler_honours_cc_with_arguments(monkeypatch, host_build):
    cc = host_build.compiler.path
    monkeypatch.setenv("CC", f"{cc} -m64")
    found = compiler.find_compiler()
    assert found.command == (cc, "-m64") and found.version == host_build.compiler.version


def test_no_compiler_error_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="no C compiler found"):
        compiler.find_compiler()
