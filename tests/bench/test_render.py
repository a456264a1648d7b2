"""The text layout of compare-mmtests.pl, byte for byte, and the other formats."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import golden_runs as runs
import pytest

from maple.bench.compare import compare_runs
from maple.bench.render import render, split_name, text_table
from maple.bench.results import load_run

GOLDEN = Path(__file__).parent / "golden"


# Lines of the reference's verification runs of mmtests' own Perl code (reference 3).
REF_HEADER = [
    "                                                   6.8.0                      6.8.0",
    "                                                    base                    patched",
]
REF_HMEAN = "Hmean     brk1-processes-2         5264123.70 (   0.00%)      3488010.51 * -33.74%*"
REF_HSTDDEV = "HStddev   brk1-processes-2            5248.25 (   0.00%)         5810.57 ( -10.71%)"
REF_AMEAN = "Amean     user-2      885.34 (   0.00%)      886.07 *  -0.08%*"
REF_STDDEV = "Stddev    user-2        0.22 (   0.00%)        0.06 (  71.13%)"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base, new = runs.reference_pair(tmp_path_factory.mktemp("pair"))
    return load_run(base), load_run(new)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MAPLEBENCH_REGEN_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"output differs from {path} (MAPLEBENCH_REGEN_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("rule", ["ttest", "ci"])
def test_golden_text(pair, rule):
    text = render(compare_runs(list(pair), significance=rule), "text")
    _check_golden(f"compare-{rule}.txt", text)
    lines = text.splitlines()
    assert lines[0:2] == REF_HEADER  # no title line: compare-mmtests.pl prints none
    assert REF_HMEAN in lines and REF_AMEAN in lines and REF_STDDEV in lines
    assert (REF_HSTDDEV in lines) == (rule == "ci")


def test_golden_single_run_legacy_is_baseline(tmp_path):
    run = load_run(runs.reference_single(tmp_path, "seed"))
    text = render(compare_runs([run]), "text")
    _check_golden("compare-single.txt", text)
    assert text.splitlines()[0].split() == ["seed", "seed"]
    assert text.splitlines()[1].split() == ["legacy", "maple"]
    assert any(line.startswith("Hmean     brk1-processes-2         5264123.70 (   0.00%)") for line in text.splitlines())


def test_layout_widths(pair):
    comparison = compare_runs(list(pair))
    table = comparison.tables[0]
    lines = text_table(table, comparison.column_names).splitlines()
    l_stat, l_op = len("BHmean-95"), len("malloc1-processes-2")
    assert {len(line) for line in lines} == {l_stat + 1 + l_op + 2 * (16 + 11)}
    kb = text_table(comparison.tables[1], comparison.column_names).splitlines()
    assert {len(line) for line in kb} == {9 + 1 + 6 + 2 * (12 + 11)}


def test_stars_only_on_headline_rows_never_baseline(pair):
    text = render(compare_runs(list(pair)), "text")
    for line in text.splitlines():
        if "*" in line:
            assert line.split()[0] in ("Hmean", "Amean"), line
            assert "(   0.00%)" in line  # the baseline cell keeps its parentheses


def test_split_name_quirks():
    assert split_name("6.8.0-base") == ("6.8.0", "base")
    assert split_name("6.9-rc3-foo") == ("6.9-rc3", "foo")
    assert split_name("base") == ("bas", "base")
    assert split_name("run-1-maple") == ("run", "1-maple")


def test_nan_hmean_display(tmp_path):
    """A zero sample in the baseline: its Hmean shows 0.00, the other column (100.00%)."""
    base_rows = runs.loop_rows("brk1", "maple", "processes", 2, [0] + runs.BRK1_BASE[1:])
    base = runs.write_run(tmp_path / "zero-base", "zero-base", base_rows)
    new = runs.write_run(tmp_path / "zero-new", "zero-new",
                         runs.loop_rows("brk1", "maple", "processes", 2, runs.BRK1_NEW))
    text = render(compare_runs([load_run(base), load_run(new)], significance="ci"), "text")
    rows = {tuple(line.split()[:2]): line for line in text.splitlines()[3:]}
    hmean = rows[("Hmean", "brk1-processes-2")]
    assert hmean.endswith("0.00 (   0.00%)      3488010.51 ( 100.00%)")
    assert rows[("HStddev", "brk1-processes-2")].endswith("5810.57 (    NaN%)")
    assert "Min       brk1-processes-2" + f"{0:16.2f}" + " (   0.00%)" in text


def test_markdown_csv_json(pair):
    comparison = compare_runs(list(pair), stat_names=["Hmean", "Max"])
    md = render(comparison, "markdown")
    assert "| Hmean | brk1-processes-2 | 5264123.70 (0.00%) | **3488010.51 (-33.74%)** \\* |" in md
    assert "| Amean | user-2 | 885.34 (0.00%) | **886.07 (-0.08%)** \\* |" in md
    assert "### counters per op" in md
    rows = list(csv.DictReader(io.StringIO(render(comparison, "csv"))))
    hm = [r for r in rows if r["statistic"] == "Hmean" and r["operation"] == "brk1-processes-2"]
    assert [r["column"] for r in hm] == ["6.8.0-base", "6.8.0-patched"]
    assert hm[1]["significant"] == "true" and hm[0]["significant"] == ""
    assert float(hm[1]["percent"]) == pytest.approx(-33.74, abs=0.005)
    data = json.loads(render(comparison, "json"))
    assert data["baseline"] == "6.8.0-base" and data["significance"] == "ttest"
    titles = [t["title"] for t in data["tables"]]
    assert titles == ["will-it-scale", "kernbench", "counters per op"]
    kb = data["tables"][1]
    assert kb["headline"] == "Amean" and kb["higher_is_better"] is False
    assert [r["statistic"] for r in kb["rows"]][:3] == ["Amean"] * 3
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(comparison, "xml")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from maple.bench.compare import Cell, Operation, Row, Table  # noqa: E402


def test_split_name_examples():
    assert split_name("6.9-rc3-foo") == ("6.9-rc3", "foo")
    assert split_name("6.9-rc12-foo") == ("6.9-rc12", "foo")  # every digit of the rc stays
    assert split_name("v5.17-rc3") == ("v5.17-rc3", "")
    assert split_name("-rc0") == ("-rc0", "")  # found by hypothesis in CI
    assert split_name("x-rc1a") == ("x", "rc1a")  # not a release candidate: the first "-" splits
    assert split_name("base") == ("bas", "base")


@given(st.text(alphabet="abc.-0123r", min_size=1, max_size=20))
def test_split_name_keeps_text(name):
    top, bottom = split_name(name)
    if "-" not in name:
        assert (top, bottom) == (name[:-1], name)
    else:
        # nothing lost: top, the separating "-", bottom; or a name ending in its -rcN whole on top
        assert name == f"{top}-{bottom}" or (top == name and bottom == "")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["Min", "Hmean", "BHmean-95"]),
                       st.sampled_from(["brk1-processes-2", "page_fault3-threads-320"]),
                       st.floats(0, 1e9), st.floats(-99.99, 999.99), st.booleans()),
             min_size=1, max_size=8),
    st.sampled_from([12, 16]),
)
def test_rows_have_mmtests_width(cells, fl):
    """Every line is L_stat + 1 + L_op + k*(FL + 11) wide while percentages fit 7 characters."""
    table = Table("t", "throughput", True, fl, "Hmean")
    for stat, op, value, pct, sig in cells:
        operation = Operation(op, "w", "m", 1, "ops")
        table.rows.append(Row(stat, operation, [Cell(value, 0.0), Cell(value / 2, pct, sig)]))
    lines = text_table(table, ["a-b", "c"]).splitlines()
    l_stat = max(len(c[0]) for c in cells)
    l_op = max(len(c[1]) for c in cells)
    widths = {len(line) for line in lines}
    if all(v < 10 ** (fl - 3) - 1 for _, _, v, _, _ in cells):  # still fits %{FL}.2f
        assert widths == {l_stat + 1 + l_op + 2 * (fl + 11)}
    for line, (stat, op, value, pct, sig) in zip(lines[2:], cells):
        assert line.startswith(f"{stat:<{l_stat}} {op:<{l_op}}")
        assert line.endswith(f" *{pct:7.2f}%*" if sig else f" ({pct:7.2f}%)")
