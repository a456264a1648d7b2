"""``maplebench list``."""

import pytest

from maple import workloads
from maplebench.main import main


def test_list_shows_every_workload(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    lines = out.splitlines()
    assert lines[-2] == "" and lines[-1].startswith("--mm host runs brk1, brk2, malloc1, mmap1, mmap2, ")
    lines = lines[:-2]
    assert lines[0].split() == ["name", "kind", "description", "unit"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == workloads.names()
    text = {line.split()[0]: line for line in lines[1:]}
    assert "brk increase/decrease of one page" in text["brk1"] and "brk calls" in text["brk1"]
    assert "brk unshared increase/decrease of one page" in text["brk2"]
    assert "malloc/free of 128MB" in text["malloc1"]
    assert "Separate file shared mapping page fault" in text["page_fault3"]
    assert "pages touched" in text["page_fault3"] and " loop " in text["page_fault1"]
