"""The trace file format: round trips and bad input."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maple.errors import InputError
from maple.trace.format import Trace, dumps_lines, loads_lines, read_trace, write_trace

U64 = st.integers(0, 2**64 - 1)
RES = st.one_of(U64, st.sampled_from(["!ENOMEM", "!EINVAL", "!EEXIST"]))
PID = st.integers(1, 4_000_000)
US = st.integers(0, 10**9)


@st.composite
def traces(draw):
    files = draw(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20), max_size=5))
    fid = st.one_of(st.none(), st.integers(0, len(files) - 1)) if files else st.none()
    event = st.one_of(
        st.tuples(st.just("m"), PID, US, U64, U64, U64, U64, fid, U64, RES),
        st.tuples(st.just("u"), PID, US, U64, U64, RES),
        st.tuples(st.just("p"), PID, US, U64, U64, U64, RES),
        st.tuples(st.just("b"), PID, US, U64, RES),
        st.tuples(st.just("r"), PID, US, U64, U64, U64, U64, U64, RES),
        st.tuples(st.just("c"), PID, US, PID, st.sampled_from("fvt")),
        st.tuples(st.just("e"), PID, US),
        *([st.tuples(st.just("x"), PID, US, st.integers(0, len(files) - 1))] if files else []),
    )
    events = draw(st.lists(event, max_size=40))
    layouts = {}
    if files and draw(st.booleans()):
        layouts[0] = "555555554000-555555556000 r--p 00000000 fe:00 1    /usr/bin/x\n"
    meta = draw(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
    return Trace(meta=meta, files=files, events=events, layouts=layouts)


@settings(max_examples=150, deadline=None)
@given(traces())
def test_round_trip_in_memory(tr):
    back = loads_lines(list(dumps_lines(tr)))
    assert back.events == tr.events
    assert back.meta == tr.meta
    assert back.layouts == tr.layouts
    used = {ev[3] for ev in tr.events if ev[0] == "x"} | {ev[7] for ev in tr.events if ev[0] == "m"} | set(tr.layouts)
    for fid in used - {None}:
        assert back.files[fid] == tr.files[fid]


def sample() -> Trace:
    return Trace(
        meta={"command": ["make", "-j2"]},
        files=["/usr/bin/make", "/usr/lib/libc.so.6"],
        events=[
            ("x", 10, 0, 0),
            ("b", 10, 5, 0, 0x555555593000),
            ("m", 10, 7, 0, 0x2000, 3, 0x22, None, 0, 0x7FFFF7FC0000),
            ("m", 10, 7, 0, 0x1E1F50, 1, 0x802, 1, 0, 0x7FFFF7DD0000),
            ("c", 10, 1, 11, "v"),
            ("u", 11, 2, 0x7FFFF7FC0000, 0x2000, 0),
            ("e", 11, 3),
            ("e", 10, 4),
        ],
        layouts={0: "555555554000-55555555d000 r--p 00000000 fe:00 260631    /usr/bin/make\n"},
    )


def test_file_round_trip_is_gzip_and_reproducible(tmp_path):
    a, b = tmp_path / "a.trace.gz", tmp_path / "b.trace.gz"
    write_trace(sample(), a)
    write_trace(sample(), b)
    assert a.read_bytes() == b.read_bytes()  # no timestamp in the gzip header
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    text = gzip.decompress(a.read_bytes()).decode()
    assert text.startswith("#maplebench-trace 1 ")
    assert "m 10 7 0 2000 3 22 - 0 7ffff7fc0000" in text
    assert text.rstrip().endswith(".end 8")
    back = read_trace(a)
    assert back.events == sample().events and back.layouts == sample().layouts
    assert not list(tmp_path.glob("*.part"))


def test_truncated_gzip_is_one_line_error(tmp_path):
    good = tmp_path / "good.trace.gz"
    write_trace(sample(), good)
    bad = tmp_path / "cut.trace.gz"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(InputError, match="truncated") as info:
        read_trace(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_cut_at_a_line_boundary_is_caught_by_the_trailer(tmp_path):
    lines = list(dumps_lines(sample()))
    for keep in (len(lines) - 1, len(lines) - 3):
        p = tmp_path / f"cut{keep}.trace.gz"
        p.write_bytes(gzip.compress(("\n".join(lines[:keep]) + "\n").encode()))
        with pytest.raises(InputError, match="truncated"):
            read_trace(p)
    p = tmp_path / "short.trace.gz"
    lines[-1] = ".end 9"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(InputError, match="8 events, trailer says 9"):
        read_trace(p)


@pytest.mark.parametrize(
    "content, why",
    [
        (b"hello, not gzip at all\n", "not gzip"),
        (gzip.compress(b"5976 1795675791.297349 brk(NULL) = 0x5652c88b3000\n"), "no '#maplebench-trace' header"),
        (gzip.compress(b""), "empty"),
        (gzip.compress(b"#maplebench-trace 7 {}\n.end 0\n"), "unsupported trace version"),
        (gzip.compress(b"#maplebench-trace 1 {}\nm 1 2 3\n.end 1\n"), "malformed record"),
        (gzip.compress(b"#maplebench-trace 1 {}\nb 1 2 zz 0\n.end 1\n"), "bad number"),
        (gzip.compress(b"#maplebench-trace 1 {}\nx 1 2 5\n.end 1\n"), "file id 5 used before"),
        (gzip.compress(b"#maplebench-trace 1 {}\nc 1 2 3 q\n.end 1\n"), "bad clone kind"),
        (gzip.compress(b"\xff\xfe\x00garbage"), "not UTF-8"),
    ],
    ids=["plain", "raw-strace", "empty", "version", "arity", "number", "file-id", "clone-kind", "binary"],
)
def test_not_a_trace(tmp_path, content, why):
    p = tmp_path / "x.trace.gz"
    p.write_bytes(content)
    with pytest.raises(InputError, match=why) as info:
        read_trace(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_trace(tmp_path / "nope.gz")
    with pytest.raises(InputError, match="directory"):
        read_trace(tmp_path)
