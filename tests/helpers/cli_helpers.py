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
