"""strace logs as other people capture them (issue 12): ``strace -f`` to stderr without ``-o``,
strace's notices inside lines, 32-bit tasks, raw logs on the command line, divergences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maple.linux import MAP_DENYWRITE, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE
from maple.trace.format import Trace, read_trace
from maple.trace.replay import Replay
from maple.trace.strace import StraceError, parse_strace, read_trace_or_log
from maple.workloads import get
from maplebench.main import main

DATA = Path(__file__).parent / "data"
STDERR_LOG = DATA / "stderr-f-5599.strace"
I386_LOG = DATA / "i386-mmap2.strace"


def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def parse(text: str) -> Trace:
    return parse_strace(text.strip("\n").splitlines())


# ---------------------------------------------------------------- strace -f to stderr


def test_unprefixed_main_task_is_the_pid_it_later_shows():
    tr = parse_strace(STDERR_LOG.read_text().splitlines())
    assert tr.pids() == [5599, 5600]  # was [0, 5599, 5600]
    counts = tr.summary()
    assert counts["x"] == 1 and counts["c"] == 1 and counts["e"] == 2
    assert [ev[:2] for ev in tr.events[:2]] == [("x", 5599), ("b", 5599)]
    clone = next(ev for ev in tr.events if ev[0] == "c")
    assert clone[1] == 5599 and clone[3:] == (5600, "f")
    # after the child is gone the prefix disappears again: those lines are still 5599's
    assert tr.events[-2][:2] == ("b", 5599) and tr.events[-2][3] == 0x55555559B000


def test_stderr_log_replays_every_task_on_its_own_mm():
    tr = parse_strace(STDERR_LOG.read_text().splitlines())
    r = Replay(tr, "maple").run().finish()
    assert r.stats["execs"] == 1  # was 2: 5599 got a fabricated layout of its own
    assert r.stats["forks"] == 1 and r.stats["diverged"] == 0 and r.divergences == []


def test_only_task_after_the_first_exits_owns_unprefixed_lines():
    tr = parse(
        """
execve("/bin/sh", ["sh"], 0x7ffd /* 1 vars */) = 0
clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 41
[pid    40] exit_group(0)                = ?
[pid    40] +++ exited with 0 +++
brk(NULL)                               = 0x555555559000
"""
    )
    assert [ev[:2] for ev in tr.events] == [("x", 40), ("c", 40), ("e", 40), ("b", 41)]


# ---------------------------------------------------------------- strace's notices

CLONE_EVENTS = [("c", 5599, 0, 5600, "f"), ("m", 5600, 0, 0, 8192, 3, 0x22, None, 0, 0x7FFFF7FB4000)]


@pytest.mark.parametrize(
    "log, main",
    [
        # a notice in the middle of the clone line, the line finished on the next one
        ("clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLDstrace: Process 5600 attached\n"
         ", child_tidptr=0x7ffff7dd3a10) = 5600\n", 0),  # the first task never shows its pid: 0
        # the same with strace's path, cut by another task's line
        ("clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD/usr/bin/strace: Process 5600 "
         "attached\n[pid  5599] <... clone resumed>, child_tidptr=0x7ffff7dd3a10) = 5600\n", 5599),
        # between lines, and bracketed ones
        ("/usr/bin/strace: Process 5599 attached\n"
         "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 5600\n"
         "[ Process PID=5600 runs in 64 bit mode. ]\nstrace: Process 5600 detached\n", 5599),  # strace -p 5599
    ],
    ids=["mid-line", "mid-line-cut", "between"],
)
def test_notices_are_skipped_wherever_they_appear(log, main):
    tr = parse(
        log + "[pid  5600] mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7fb4000\n"
    )
    assert tr.events == [(CLONE_EVENTS[0][0], main) + CLONE_EVENTS[0][2:], CLONE_EVENTS[1]]


def test_a_notice_inside_a_string_is_data():
    tr = parse('5 1.0 execve("/bin/echo", ["echo", "strace: Process 7 attached"], 0x7f /* 1 vars */) = 0\n')
    assert [ev[0] for ev in tr.events] == ["x"]


def test_garbage_is_still_refused_naming_the_line():
    with pytest.raises(StraceError, match="line 2"):
        parse("brk(NULL) = 0x1000\nhello there\n")


# ---------------------------------------------------------------- 32-bit tasks


def test_mmap2_results_of_a_32_bit_task_are_32_bit_addresses():
    tr = parse_strace(I386_LOG.read_text().splitlines())
    mmaps = [ev for ev in tr.events if ev[0] == "m"]
    assert [ev[-1] for ev in mmaps] == [0xF7F85000, 0xF7F80000, 0xF7636000, 0xF775C000, 0xF775E000]
    data = mmaps[3]
    assert data[3:9] == (0xF775C000, 8192, 3, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, mmaps[2][7], 0x126 * PAGE_SIZE)


def test_32_bit_data_segment_lands_inside_its_library_reservation():
    tr = parse_strace(I386_LOG.read_text().splitlines())
    r = Replay(tr, "maple").run(stop=len(tr.events) - 1)  # up to the exit
    assert r.stats["diverged"] == 0
    mm = r.tasks[7001].mm
    amap = r.tasks[7001].amap
    text = amap.translate(0xF7636000)
    data = mm.find_vma(amap.translate(0xF775C000))
    assert data.start == text + 0x126000 and data.pgoff == 0x126 and data.file is mm.find_vma(text).file
    r.finish()


# ---------------------------------------------------------------- a documented route for raw logs


def test_run_trace_accepts_a_raw_strace_log(tmp_path, capsys):
    code, _, err = run_cli(
        ["run", "trace", "--trace", str(STDERR_LOG), "--procs", "1", "--samples", "1", "--mm", "maple",
         "--out", str(tmp_path), "--name", "raw"], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "raw" / "meta.json").read_text())
    assert meta["status"] == "complete" and "divergences" not in meta


def test_convert_writes_a_trace_run_trace_replays(tmp_path, capsys):
    out = tmp_path / "sh.trace.gz"
    code, _, err = run_cli(["convert", str(STDERR_LOG), "-o", str(out)], capsys)
    assert code == 0 and "2 tasks" in err
    assert read_trace(out).events == read_trace_or_log(STDERR_LOG).events
    assert get("trace", trace=str(out)).iteration("maple", 1, "threads")["syst"] > 0


def test_convert_of_a_bad_log_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.log"
    bad.write_text("brk(NULL) = 0x1000\nthis is not strace\n")
    out = tmp_path / "x.trace.gz"
    code, _, err = run_cli(["convert", str(bad), "-o", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "line 2" in err and str(bad) in err
    assert not out.exists()


# ---------------------------------------------------------------- divergences are reported

DIVERGING = """\
execve("/bin/prog", ["prog"], 0x7ffd /* 1 vars */) = 0
mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7fbf000
mprotect(0x7ffff7fbf000, 8192, PROT_READ) = -1 ENOMEM (Cannot allocate memory)
mmap(0x10000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = -1 EEXIST (File exists)
munmap(0x7ffff7fbf000, 8192) = 0
mprotect(0x7ffff7fbf000, 4096, PROT_READ) = 0
"""


def test_replay_reports_calls_that_went_the_other_way():
    r = Replay(parse(DIVERGING), "maple").run().finish()
    # failed in the trace, would work here (x2); worked in the trace, fails here (x1)
    assert r.stats["diverged"] == 3
    assert [ev[0] for ev, _ in r.divergences] == ["p", "m", "p"]
    assert "ENOMEM in the trace" in r.divergences[0][1]


def test_run_reports_divergences_on_stderr_and_in_meta(tmp_path, capsys):
    log = tmp_path / "div.strace"
    log.write_text(DIVERGING)
    code, _, err = run_cli(
        ["run", "trace", "--trace", str(log), "--procs", "1", "--samples", "1", "--mm", "maple",
         "--out", str(tmp_path), "--name", "div"], capsys)
    assert code == 0
    assert "3 call(s) diverged from the trace" in err
    meta = json.loads((tmp_path / "div" / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["divergences"]  # one entry per iteration (each mode)
    for entry in meta["divergences"]:
        assert entry["count"] == 3 and entry["sample"] == 1 and len(entry["first"]) == 3
        assert entry["first"][0].startswith("p ") and "ENOMEM in the trace" in entry["first"][0]
