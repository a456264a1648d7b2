"""``make_mm(kind, layout=TEXT)`` on /proc/PID/maps dumps from other machines (issue 12).

The samples in ``data/`` are short dumps written from the lines bug reports show: aarch64
OpenJDK, a static Go binary, an Android app with named anonymous VMAs, 32-bit kernels (2.6.32
and 2.4), and a static binary captured on this machine (Linux 6.18) under ``setarch -R``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from maple.errors import InputError
from maple.linux import PROT_NONE, PROT_READ, PROT_WRITE, VM_GROWSDOWN
from maple.mm import MMError
from maple.mm.arch import arch
from mm_helpers import ANON, FIXED, P, RW, check, new_mm

DATA = Path(__file__).parent / "data"


def sample(name: str) -> str:
    return (DATA / name).read_text()


# ---------------------------------------------------------------- architectures: nothing dropped

AARCH64_TWO = (
    "aaaacb650000-aaaacb651000 r-xp 00000000 08:02 1068012                    "
    "/usr/lib/jvm/java-17-openjdk-arm64/bin/java\n"
    "aaaae0b8f000-aaaae0bc7000 rw-p 00000000 00:00 0                          [heap]\n"
)


def test_aarch64_lines_above_x86_task_size_are_kept(kind):
    mm = new_mm(kind, AARCH64_TWO)
    assert mm.map_count == 2  # was 0: both dropped as if they were [vsyscall]
    assert mm.arch.name == "aarch64" and mm.arch.task_size == 1 << 48
    assert (mm.start_brk, mm.brk_value) == (0xAAAAE0B8F000, 0xAAAAE0BC7000)
    assert mm.maps() == AARCH64_TWO
    check(mm)


def test_aarch64_dump_round_trips_and_runs_above_47_bits(kind):
    text = sample("aarch64-java17.maps")
    mm = new_mm(kind, text)
    assert mm.arch.name == "aarch64" and mm.map_count == len(text.splitlines()) == 20
    assert mm.maps() == text
    # mmap_base is the end of ld.so's last VMA below the stack; new mappings land under it
    assert mm.mmap_base == 0xFFFF8C6EE000
    addr = mm.mmap(0, 4 * P, RW, ANON)
    assert addr == 0xFFFF8C6E1000  # the highest 4-page gap below mmap_base (under the 6.1 rules)
    mm.munmap(addr, 4 * P)  # beyond x86-64's TASK_SIZE: the aarch64 limit applies
    with pytest.raises(MMError):
        mm.mmap((1 << 48) - P, 2 * P, RW, FIXED)
    check(mm)


@pytest.mark.parametrize(
    "text, arch_name",
    [
        ("08048000-08049000 r-xp 00000000 08:01 42 /bin/x\n7fff0000-7fff1000 rw-p 00000000 00:00 0 [stack]\n", "i386"),
        # a 32-bit task on a 64-bit kernel: 72-column padding, stack under 4 GiB
        ("08048000-08049000 r-xp 00000000 08:01 42                                 /bin/x\n"
         "fffdd000-ffffe000 rw-p 00000000 00:00 0                                  [stack]\n", "ia32"),
        ("00010000-00011000 r-xp 00000000 08:01 42 /bin/x\n3fffde0000-3fffe01000 rw-p 00000000 00:00 0 [stack]\n",
         "riscv64-sv39"),
        ("00010000-00011000 r-xp 00000000 08:01 42 /bin/x\n7fffde0000-7fffe01000 rw-p 00000000 00:00 0 [stack]\n",
         "aarch64-va39"),
        ("00400000-00401000 r-xp 00000000 08:01 42 /bin/x\n7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n",
         "x86_64"),
        ("00400000-00401000 r-xp 00000000 08:01 42 /bin/x\nfff7fffde000-fff7ffffe000 rw-p 00000000 00:00 0 [stack]\n",
         "aarch64"),
        ("00400000-00401000 r-xp 00000000 08:01 42 /bin/x\n7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n"
         "1000000000000-1000000001000 rw-p 00000000 00:00 0\n"
         "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n", "x86_64-la57"),
    ],
)
def test_the_architecture_is_the_smallest_task_size_holding_the_stack(text, arch_name):
    mm = new_mm("maple", text)
    assert mm.arch.name == arch_name
    assert mm.map_count == len([ln for ln in text.splitlines() if "[vsyscall]" not in ln])


@pytest.mark.parametrize(
    "text, lineno",
    [
        # above 2**56: no supported architecture holds it
        ("00400000-00401000 r-xp 00000000 08:01 42 /bin/x\n"
         "ff00000000000000-ff00000000001000 rw-p 00000000 00:00 0\n", 2),
        # a 32-bit kernel's dump (48-column padding) with a line above its 3 GiB TASK_SIZE
        ("08048000-08049000 r-xp 00000000 08:01 42         /bin/x\n"
         "c0001000-c0002000 rw-p 00000000 00:00 0\n"
         "ffffe000-fffff000 r-xp 00000000 00:00 0          [vdso]\n", 2),
        # a [vsyscall] that is not the last line is not the gate
        ("00400000-00401000 r-xp 00000000 08:01 42 /bin/x\n"
         "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
         "fffffffffff00000-fffffffffff01000 rw-p 00000000 00:00 0\n", 2),
    ],
)
def test_a_line_no_architecture_holds_is_refused_naming_it(text, lineno):
    with pytest.raises(InputError, match=rf"^maps line {lineno}: .*TASK_SIZE"):
        new_mm("maple", text)


def test_gate_line_is_printed_back_but_is_not_a_vma(kind):
    text = sample("go-static-runsc.maps")
    mm = new_mm(kind, text)
    assert mm.gate is not None and mm.gate.name == "[vsyscall]"
    assert all(v.end <= mm.arch.task_size for v in mm.vmas())
    assert mm.map_count == len(text.splitlines()) - 1
    assert mm.maps().endswith("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n")
    assert mm.fork().maps() == text


# ---------------------------------------------------------------- [heap] is the brk area only


@pytest.mark.parametrize("rules", ["6.1", "current"])
def test_static_go_binary_round_trips_without_heap_label(kind, rules):
    text = sample("go-static-runsc.maps")
    mm = new_mm(kind, text, rules)
    assert mm.maps() == text  # the bss 01c98000-01cd2000 was printed as [heap]
    assert mm.start_brk == mm.brk_value == 0x1CD2000
    assert mm.brk(0x1CD2000 + 0x21000) == 0x1CD2000 + 0x21000
    lines = mm.maps().splitlines()
    assert lines[3].endswith(" 0 ") and lines[4].startswith("01cd2000-01cf3000 rw-p") and lines[4].endswith("[heap]")
    check(mm)


def test_static_binary_under_setarch_R_round_trips(kind):
    """Captured on Linux 6.18: bss 004a7000-004ac000 unlabelled, [heap] from its end."""
    text = sample("static-setarch-R-6.18.maps")
    mm = new_mm(kind, text)
    assert mm.maps() == text
    assert (mm.start_brk, mm.brk_value) == (0x4AC000, 0x4CE000)
    assert mm.brk(0x4AC000) == 0x4AC000 and mm.find_vma(0x4A7000).end == 0x4AC000
    check(mm)


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("setarch") is None, reason="needs gcc and setarch")
def test_static_binary_on_this_kernel_round_trips(tmp_path):
    src = tmp_path / "s.c"
    src.write_text(
        '#include <stdio.h>\nstatic char big[1<<20];\nint main(){big[0]=1;FILE*f=fopen("/proc/self/maps","r");'
        "char b[512];while(fgets(b,sizeof b,f))fputs(b,stdout);return 0;}\n"
    )
    exe = tmp_path / "s"
    if subprocess.run(["gcc", "-static", "-O1", str(src), "-o", str(exe)], capture_output=True).returncode:
        pytest.skip("gcc -static not available (no static libc)")
    for argv in (["setarch", "-R", str(exe)], [str(exe)]):
        text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        assert new_mm("maple", text).maps() == text


HEAP_SPLIT = (
    "00400000-00401000 r-xp 00000000 08:01 42                                 /bin/prog\n"
    "00401000-00402000 rw-p 00001000 08:01 42                                 /bin/prog\n"
    "01000000-01010000 rw-p 00000000 00:00 0                                  [heap]\n"
    "01010000-01011000 ---p 00000000 00:00 0                                  [heap]\n"
    "01011000-01021000 rw-p 00000000 00:00 0                                  [heap]\n"
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
)


def test_several_heap_lines_are_one_brk_area(kind):
    mm = new_mm(kind, HEAP_SPLIT)
    assert (mm.start_brk, mm.brk_value) == (0x1000000, 0x1021000)
    assert mm.maps() == HEAP_SPLIT
    assert mm.brk(0x1000000) == 0x1000000 and mm.map_count == 3  # all three go
    check(mm)


def test_bss_labelled_heap_by_an_old_kernel_is_not_the_brk_start(kind):
    """Before 6.6 a VMA touching start_brk was [heap] too: a static binary's bss under setarch -R."""
    text = sample("static-setarch-R-6.18.maps").replace(
        "004a7000-004ac000 rw-p 00000000 00:00 0 \n",
        "004a7000-004ac000 rw-p 00000000 00:00 0                                  [heap]\n",
    )
    mm = new_mm(kind, text)
    assert (mm.start_brk, mm.brk_value) == (0x4AC000, 0x4CE000)
    assert mm.brk(0x4AC000) == 0x4AC000
    assert mm.find_vma(0x4A7000).end == 0x4AC000 and mm.find_vma(0x4AC000).start > 0x4AC000


def test_unlabelled_anonymous_vma_between_heap_lines_is_refused():
    text = HEAP_SPLIT.replace("01010000-01011000 ---p 00000000 00:00 0                                  [heap]",
                              "01010000-01011000 ---p 00000000 00:00 0 ")
    with pytest.raises(InputError, match=r"^maps line 4: .*between \[heap\] lines"):
        new_mm("maple", text)


# ---------------------------------------------------------------- names: [anon:NAME], [stack:TID]

ANDROID_ONE = "7765801000-7765a00000 rw-p 00000000 00:00 0                              [anon:libc_malloc]\n"


def test_named_anonymous_vma_merges_back_after_mprotect(kind):
    mm = new_mm(kind, ANDROID_ONE)
    start = 0x7765801000
    mm.mprotect(start + P, P, PROT_NONE)
    assert mm.map_count == 3 and all(v.name == "[anon:libc_malloc]" for v in mm.vmas())
    mm.mprotect(start + P, P, PROT_READ | PROT_WRITE)
    assert mm.map_count == 1  # was 3: the name made every VMA unmergeable
    assert mm.maps() == ANDROID_ONE
    check(mm)


def test_anon_names_must_be_equal_to_merge(kind):
    text = sample("android-arm64-anon.maps")
    mm = new_mm(kind, text)
    assert mm.arch.name == "aarch64-va39" and mm.maps() == text
    n = mm.map_count
    # [anon:libc_malloc] and [anon:dalvik-LinearAlloc] are adjacent: same flags, other names
    mm.mprotect(0x7765801000, 0x7765A40000 - 0x7765801000, PROT_READ)
    mm.mprotect(0x7765801000, 0x7765A40000 - 0x7765801000, PROT_READ | PROT_WRITE)
    assert mm.map_count == n
    # an unnamed mapping next to a named one stays apart (mmap passes no name)
    mm.mmap(0x7765800000, P, RW, FIXED)
    assert mm.map_count == n + 1 and mm.vma_name(mm.find_vma(0x7765800000)) == ""
    check(mm)


def test_stack_tid_label_is_not_a_name(kind):
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42                                 /bin/prog\n"
        "7f0000000000-7f0000800000 rw-p 00000000 00:00 0                          [stack:4242]\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
    )
    mm = new_mm(kind, text)
    tstack = mm.find_vma(0x7F0000000000)
    assert tstack.name is None and mm.vma_name(tstack) == ""
    mm.mprotect(0x7F0000000000, P, PROT_NONE)  # the guard page glibc puts at the bottom
    mm.mprotect(0x7F0000000000, P, RW)
    assert mm.map_count == 3
    mm.mmap(0x7F0000800000, P, RW, FIXED)  # merges with a plain anonymous neighbour
    assert mm.map_count == 3 and mm.find_vma(0x7F0000000000).end == 0x7F0000801000


# ---------------------------------------------------------------- old and unlabelled dumps


def test_i386_kernel_dump_keeps_its_width_and_task_size(kind):
    text = sample("i386-2.6.32-cat.maps")
    mm = new_mm(kind, text)
    assert mm.arch.name == "i386" and mm.arch.task_size == 0xC0000000
    # Linux 2.6 printed an anonymous VMA's pgoff (its address); today's kernels print 0
    want = re.sub(r"(?m)^(\S+ \S+ )[0-9a-f]{8}( 00:00 0 )", r"\g<1>00000000\2", text)
    assert want != text
    assert mm.maps() == want
    assert mm.maps().splitlines()[0] == "08048000-08054000 r-xp 00000000 08:01 130564     /bin/cat"
    assert mm.mmap(0, 2 * P, RW, ANON) == 0xB78A4000 - 2 * P  # top-down under ld.so's end
    with pytest.raises(MMError):
        mm.mmap(0xBFFFF000, 2 * P, RW, FIXED)  # beyond 3 GiB
    check(mm)


def test_legacy_bottom_up_layout_of_linux_2_4(kind):
    text = sample("i386-2.4-legacy.maps")
    mm = new_mm(kind, text)
    assert mm.arch.name == "i386" and mm.mmap_legacy and mm.mmap_base == 0x40000000
    # what Linux did next: arch_get_unmapped_area, the first gap from TASK_UNMAPPED_BASE up
    assert mm.mmap(0, 2 * P, RW, ANON) == 0x40017000
    # no labels: the top anonymous VMA ending at TASK_SIZE is the stack, and grows down
    stack = mm.find_vma(0xBFFFE000)
    assert stack.flags & VM_GROWSDOWN and mm.vma_name(stack) == "[stack]"
    mm.fault(0xBFFFD000, write=True)
    assert mm.find_vma(0xBFFFD000).start == 0xBFFFD000
    # the bss after the image is where the break starts
    assert mm.start_brk == 0x804F000 and mm.brk(0x8050000) == 0x8050000
    check(mm)


def test_dump_without_labels_gets_a_stack(kind):
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42                                 /bin/prog\n"
        "7f1000000000-7f1000001000 r-xp 00000000 08:01 43                         /lib/x.so\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 \n"
    )
    mm = new_mm(kind, text)
    assert mm.find_vma(0x7FFD00000000).flags & VM_GROWSDOWN
    assert mm.mmap_base == 0x7F1000001000
    assert arch("x86_64") is mm.arch
