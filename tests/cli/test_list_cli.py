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
    blank = lines.index("")
    lines, kinds = lines[:blank], lines[blank + 1:]
    assert lines[0].split() == ["name", "kind", "description", "unit"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == workloads.names()
    text = {line.split()[0]: line for line in lines[1:]}
    assert "brk increase/decrease of one page" in text["brk1"] and "brk calls" in text["brk1"]
    assert "brk unshared increase/decrease of one page" in text["brk2"]
    assert "malloc/free of 128MB" in text["malloc1"]
    assert "Separate file shared mapping page fault" in text["page_fault3"]
    assert "pages touched" in text["page_fault3"] and " loop " in text["page_fault1"]


def test_list_shows_every_mm_kind_with_its_kernel(capsys):
    from maple.mm import KINDS

    with pytest.raises(SystemExit) as exc:
        main(["list"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    kinds = out.split("\n\n", 1)[1].splitlines()
    assert kinds[0].split() == ["mm", "kernel", "date", "code", "paths"]
    rows = {line.split()[0]: line.split() for line in kinds[1:]}
    assert list(rows) == [*KINDS, "host"]
    assert rows["legacy"][1] == "v5.17" and rows["maple"][1] == "v6.1" and rows["current"][1] == "v6.18"
    assert rows["maple-v5"][1:3] == ["v5.17-rc3", "+"] and "2022-02" in rows["maple-v5"]
    assert "brk1," in rows["host"] and "page_fault3" in " ".join(rows["host"])
