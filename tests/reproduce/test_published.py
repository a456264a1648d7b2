"""The published table: it loads, and every figure in it is one the seed thread printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maple.reproduce.published import COLUMNS, PublishedRow, load, parse, tables

HERE = Path(__file__).resolve().parent
EXCERPTS = HERE / "data" / "seed-excerpts.txt"
#: the full thread, present on the project machine but not in CI
SEED = Path("/work/shared/seed/maple-tree-v6-cover-letter-thread.txt")


def blocks() -> dict[str, list[str]]:
    """Message id -> its quoted lines, from the excerpt fixture."""
    out: dict[str, list[str]] = {}
    current = None
    for line in EXCERPTS.read_text().splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("== "):
            current = line[3:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def test_rows_load_with_their_tables_and_counts() -> None:
    rows = load()
    assert len(rows) == 54
    assert tables(rows) == ["mel-v5-brk1", "liam-v6-wis", "liam-v6-kernbench", "wilcox-brk2"]
    per = {t: [r for r in rows if r.table == t] for t in tables(rows)}
    assert len(per["mel-v5-brk1"]) == 28 and len(per["liam-v6-wis"]) == 4
    assert len(per["liam-v6-kernbench"]) == 21 and len(per["wilcox-brk2"]) == 1
    assert [r.tasks for r in per["mel-v5-brk1"] if r.mode == "processes"] == [
        2, 5, 8, 12, 21, 30, 48, 79, 110, 141, 172, 203, 234, 265, 296, 320]
    assert [r.tasks for r in per["mel-v5-brk1"] if r.mode == "threads"] == [
        2, 5, 8, 12, 21, 30, 48, 79, 110, 141, 172, 203]
    assert {r.operation.split()[1].rsplit("-", 1)[0] for r in per["liam-v6-kernbench"]} == {"user", "syst", "elsp"}
    assert all(r.tasks is None and r.is_range for r in per["liam-v6-wis"])


def test_row_values_are_the_ones_printed() -> None:
    rows = {r.operation: r for r in load()}
    r = rows["Hmean brk1-threads-79"]
    assert (r.published_lo, r.published_hi, r.tasks, r.mode) == (227.61, 227.61, 79, "threads")
    assert r.base_kind == "legacy" and r.new_kind == "maple-v5" and r.author == "Mel Gorman"
    r = rows["Hmean brk1-processes"]
    assert (r.published_lo, r.published_hi) == (-44.16, -37.42)
    assert r.published_text() == "-44.16..-37.42"
    assert r.message_id == "20220215143728.3810954-1-Liam.Howlett@oracle.com"
    r = rows["Amean syst-8"]
    assert (r.published_lo, r.metric, r.workload, r.tasks) == (-3.99, "syst", "kernbench", 8)
    r = rows["brk2 vs brk1"]
    assert (r.published_lo, r.published_hi, r.author) == (-15.0, -10.0, "Matthew Wilcox")
    assert r.url == "https://lore.kernel.org/linux-mm/YhZklyIzNWK9eUO3@casper.infradead.org/"


def _numbers(printed: str) -> list[float]:
    vals = [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?", printed.replace("10-15", "10 15"))]
    return [-abs(v) for v in vals] if "worse" in printed else vals


@pytest.mark.parametrize("row", load(), ids=lambda r: f"{r.table}:{r.operation}")
def test_every_figure_is_in_the_quoted_thread(row: PublishedRow) -> None:
    """The printed figure stands on a line of its own message that also names the row."""
    lines = blocks()[row.message_id]
    label = row.operation.split(" ", 1)[1] if row.operation.startswith(("Hmean ", "Amean ")) else None
    hits = [ln for ln in lines if row.printed in ln and (label is None or re.search(rf"\b{re.escape(label)}\b(?!-)", ln))]
    assert hits, (row.operation, row.printed)
    if row.operation.startswith("Hmean ") and row.tasks is not None:
        assert any(ln.startswith(row.operation + " ") for ln in hits)
    assert sorted(_numbers(row.printed)) == sorted({row.published_lo, row.published_hi} if row.is_range
                                                   else [row.published_lo])


def test_the_compared_kernels_are_named_in_the_same_messages() -> None:
    b = blocks()
    mel = "\n".join(b["20220223163509.GH4423@techsingularity.net"])
    assert "5.17.0-rc3 5.17.0-rc3" in mel and "mm-maplevma-v5r1" in mel
    liam = "\n".join(b["20220215143728.3810954-1-Liam.Howlett@oracle.com"])
    assert "based on v5.17-rc4" in liam and "144 core x86" in liam


@pytest.mark.skipif(not SEED.exists(), reason="the seed thread is not on this machine")
def test_excerpt_lines_are_verbatim_lines_of_the_seed() -> None:
    seed = set(SEED.read_text().splitlines())
    for lines in blocks().values():
        for line in lines:
            assert line in seed, line


def test_parse_refuses_a_bad_row() -> None:
    head = ",".join(COLUMNS)
    good = "t,op,brk1,processes,ops,2,-1%,-1,-1,a,b,legacy,maple,x,2022-01-01,id"
    assert parse(f"{head}\n{good}\n")[0].tasks == 2
    with pytest.raises(ValueError, match="line 2"):
        parse(f"{head}\n{good.replace(',-1,-1,', ',2,1,')}\n")
    with pytest.raises(ValueError, match="missing columns"):
        parse("table,operation\nx,y\n")
