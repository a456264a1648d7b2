"""Run the ``maplebench`` command line in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from maplebench.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``maplebench *argv`` -> (exit code, stdout, stderr); paths may be passed as Path."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_input_error(capsys: pytest.CaptureFixture[str], argv: list, needle: str) -> None:
    """``maplebench *argv`` must exit 2 with one stderr line containing ``needle``, no traceback."""
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2, argv
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err, (argv, err)
