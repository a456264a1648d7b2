"""The strace log parser, on real lines from strace 6.1 on Linux (x86-64)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maple.errors import InputError
from maple.linux import MAP_ANONYMOUS, MAP_DENYWRITE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE
from maple.trace.strace import StraceError, StraceParser, parse_int, parse_strace, split_args

DATA = Path(__file__).parent / "data"


def parse(text: str):
    return parse_strace(text.strip("\n").splitlines())


def test_complete_mmap_with_fd_path_and_duration():
    tr = parse(
        "5976  1795675791.298589 mmap(NULL, 16400, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, "
        "3</usr/lib/x86_64-linux-gnu/libdl.so.2>, 0) = 0x7f63e0605000 <0.000044>\n"
    )
    (ev,) = tr.events
    assert ev == ("m", 5976, 0, 0, 16400, 1, MAP_PRIVATE | MAP_DENYWRITE, 0, 0, 0x7F63E0605000)
    assert tr.files == ["/usr/lib/x86_64-linux-gnu/libdl.so.2"]


def test_fd_of_an_unlinked_file_is_named_as_maps_names_it():
    """strace 6.x prints ``3</memfd:NAME>(deleted)`` for an unlinked file (-y)."""
    tr = parse(
        "10936 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3</memfd:maplebench-counters>(deleted), 0)"
        " = 0x7f35f9b2d000\n"
    )
    (ev,) = tr.events
    assert ev[0] == "m" and ev[9] == 0x7F35F9B2D000
    assert tr.files == ["/memfd:maplebench-counters (deleted)"]


def test_fixed_mapping_hex_offset_and_anonymous_fd():
    tr = parse(
        "5323  1795675660.037761 mmap(0x7fce66462000, 1314816, PROT_READ|PROT_EXEC, "
        "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x62000) = 0x7fce66462000\n"
        "5976  1795675791.297707 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
        " = 0x7f63e0613000 <0.000052>\n"
    )
    fixed, anon = tr.events
    assert fixed[3:] == (0x7FCE66462000, 1314816, 5, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, 0, 0x62000, 0x7FCE66462000)
    # no -y: the bare fd becomes a per-process name, so programs never share it by accident
    assert tr.files == ["fd3@5323#0"]
    assert anon[6] == MAP_PRIVATE | MAP_ANONYMOUS and anon[7] is None


def test_padded_brk_and_query():
    tr = parse(
        "5976  1795675791.297349 brk(NULL)       = 0x5652c88b3000 <0.000038>\n"
        "5976  1795675791.299000 brk(0x5652c88d4000) = 0x5652c88d4000 <0.000010>\n"
    )
    assert [ev[3:] for ev in tr.events] == [(0, 0x5652C88B3000), (0x5652C88D4000, 0x5652C88D4000)]
    # own time runs from the end of the first call to the entry of the second
    assert tr.events[1][2] == round((1795675791.299000 - 1795675791.297387) * 1e6)


def test_unfinished_resumed_joined_in_entry_order():
    tr = parse(
        """
5320  1795675660.007178 mmap(NULL, 34547, PROT_READ, MAP_PRIVATE, 3, 0 <unfinished ...>
5319  1795675660.007193 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7fe13abb9000, stack_size=0x9000}, 88 <unfinished ...>
5320  1795675660.007213 <... mmap resumed>) = 0x7f5eae7a0000
5321  1795675660.017115 execve("/usr/bin/cc", ["cc", "-O2", "-c", "x.c"], 0x55c0003173c0 /* 38 vars */ <unfinished ...>
5319  1795675660.017300 <... clone3 resumed>) = 5321
5321  1795675660.017413 <... execve resumed>) = 0
"""
    )
    ops = [(ev[0], ev[1]) for ev in tr.events]
    # the clone sits at its entry line, before the child's execve that ran before it returned
    assert ops == [("m", 5320), ("c", 5319), ("x", 5321)]
    assert tr.events[0][-1] == 0x7F5EAE7A0000
    assert tr.events[1][3:] == (5321, "v")
    assert tr.files[tr.events[2][3]] == "/usr/bin/cc"


def test_failed_calls_kept_with_errno_and_failed_execve_dropped():
    tr = parse(
        """
10417 1795676037.327616 mmap(0x7ffff79f7000, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = -1 EEXIST (File exists) <0.000034>
5324  1795675660.168304 execve("/root/.cargo/bin/as", ["as", "--64"], 0x104b280 /* 42 vars */) = -1 ENOENT (No such file or directory)
7 1.5 munmap(0x1000, 4096) = -1 EINVAL (Invalid argument)
"""
    )
    mm, un = tr.events
    assert mm[6] == MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE and mm[-1] == "!EEXIST"
    assert un == ("u", 7, 0, 0x1000, 4096, "!EINVAL")


def test_signals_ignored_exits_and_kills_end_tasks():
    tr = parse(
        """
10417 1795676037.325868 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7ffff7fbee50) = 10420 <0.000266>
10420 1795676037.327214 +++ killed by SIGKILL +++
10417 1795676037.327285 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=10420, si_uid=0, si_status=SIGKILL, si_utime=0, si_stime=0} ---
10417 1795676037.330000 exit_group(0)                     = ?
10417 1795676037.335964 +++ exited with 0 +++
"""
    )
    assert [ev[:2] for ev in tr.events] == [("c", 10417), ("e", 10420), ("e", 10417)]
    assert tr.events[0][4] == "f"
    # the exit carries the time up to exit_group's entry, not the teardown after it
    assert tr.events[2][2] == round((1795676037.330000 - (1795676037.325868 + 0.000266)) * 1e6)


def test_clone_kinds_thread_fork_vfork():
    tr = parse(
        """
1 1.0 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7ffff713c990, parent_tid=0x7ffff713c990, exit_signal=0, stack=0x7ffff693c000, stack_size=0x7fff80, tls=0x7ffff713c6c0} => {parent_tid=[2]}, 88) = 2 <0.000123>
1 1.1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7ffff7fbee50) = 3
1 1.2 vfork()                           = 4
1 1.3 fork()                            = 5
1 1.4 clone(child_stack=0x7f00, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 6
1 1.5 clone(child_stack=NULL, flags=SIGCHLD) = -1 EAGAIN (Resource temporarily unavailable)
"""
    )
    assert [ev[3:] for ev in tr.events] == [(2, "t"), (3, "f"), (4, "v"), (5, "f"), (6, "v")]


def test_mremap_with_and_without_new_address():
    tr = parse(
        "10417 1795676037.322843 mremap(0x7ffff79f8000, 4096, 12288, MREMAP_MAYMOVE) = 0x7ffff733f000 <0.000055>\n"
        "9 2.0 mremap(0x10000, 8192, 4096, MREMAP_MAYMOVE|MREMAP_FIXED, 0x40000) = 0x40000\n"
    )
    assert tr.events[0][3:] == (0x7FFFF79F8000, 4096, 12288, 1, 0, 0x7FFFF733F000)
    assert tr.events[1][3:] == (0x10000, 8192, 4096, 3, 0x40000, 0x40000)


def test_wait_time_is_not_user_time():
    tr = parse(
        """
1 10.000000 brk(NULL) = 0x1000 <0.000001>
1 10.100000 wait4(-1,  <unfinished ...>
2 10.200000 brk(NULL) = 0x2000
1 15.100000 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 2 <5.000000>
1 15.300000 brk(NULL) = 0x1000
"""
    )
    first, _, last = tr.events
    # 0.1 s before the wait and 0.2 s after it; the 5 s wait is not the task's own time
    assert last[2] == round(0.1 * 1e6 - 1) + round(0.2 * 1e6)


def test_wall_clock_timestamps_and_no_pid():
    tr = parse(
        "23:59:59.900000 brk(NULL) = 0x1000\n"
        "00:00:00.100000 brk(0x2000) = 0x2000\n"
    )
    assert tr.events[1][2] == 200000  # across midnight
    assert {ev[1] for ev in tr.events} == {0}


def test_flag_expressions_and_numbers():
    assert parse_int("NULL") == 0
    assert parse_int("PROT_READ|PROT_WRITE|PROT_EXEC") == 7
    assert parse_int("MAP_PRIVATE|MAP_ANONYMOUS|0x80000") == 0x2 | 0x20 | 0x80000
    assert parse_int("0x1000 /* 4096 */") == 0x1000
    assert parse_int("PROT_NONE") == 0
    with pytest.raises(ValueError):
        parse_int("MAP_BOGUS")


def test_split_args_nests_brackets_and_strings():
    assert split_args('"a,b", [1, 2], {x=1, y=2}, f(3, 4), 5') == ['"a,b"', "[1, 2]", "{x=1, y=2}", "f(3, 4)", "5"]
    assert split_args("") == []


def test_resumed_without_start_is_dropped_and_counted():
    tr = parse("5 1.0 <... mmap resumed>) = 0x1000\n5 1.1 brk(NULL) = 0x2000\n")
    assert [ev[0] for ev in tr.events] == ["b"]
    assert tr.meta["dropped_lines"] == 1


def test_garbage_line_is_one_input_error_naming_the_line():
    with pytest.raises(StraceError, match=r"line 2") as info:
        parse("1 1.0 brk(NULL) = 0x1000\nthis is not strace output\n")
    assert isinstance(info.value, InputError)
    assert "\n" not in str(info.value)
    with pytest.raises(StraceError, match="unknown name"):
        parse("1 1.0 mmap(NULL, 4096, PROT_BOGUS, MAP_PRIVATE, -1, 0) = 0x1000\n")


def test_real_make_log_every_unfinished_call_is_resumed():
    lines = (DATA / "make-j2-head.strace").read_text().splitlines()
    parser = StraceParser()
    for line in lines:
        parser.feed(line)
    tr = parser.trace()
    unfinished = sum("<unfinished ...>" in ln for ln in lines)
    assert unfinished > 50
    # every resumed line found its start; pending calls are those cut by the excerpt's end
    assert parser.dropped == 0
    n_calls = sum(
        1
        for ln in lines
        if any(f" {name}(" in ln for name in ("mmap", "munmap", "mprotect", "brk"))
        and "= -1" not in ln
    )
    cut = sum(1 for p in parser.pending.values() if p.name in ("mmap", "munmap", "mprotect", "brk"))
    assert sum(ev[0] in "mupb" for ev in tr.events) == n_calls - cut
    # events of one task stay in program order (entry timestamps never go back)
    order = {}
    for ev in tr.events:
        order.setdefault(ev[1], []).append(ev)
    assert len(order) >= 4


def test_real_python_log_has_every_kind():
    tr = parse_strace((DATA / "python-fork-thread-mremap.strace").read_text().splitlines())
    kinds = {ev[0] for ev in tr.events}
    assert kinds == {"x", "m", "u", "p", "b", "r", "c", "e"}
    clones = {ev[3]: ev[4] for ev in tr.events if ev[0] == "c"}
    assert sorted(clones.values()) == ["f", "f", "t"]
    assert any(ev[-1] == "!EEXIST" for ev in tr.events if ev[0] == "m")
    # every task that was created also ended
    ended = {ev[1] for ev in tr.events if ev[0] == "e"}
    assert set(clones) <= ended
