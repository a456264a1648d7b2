"""The initial break of a layout without ``[heap]``: the end of the executable's bss, as
``load_elf_binary``/``set_brk`` leave it with randomisation off."""

from __future__ import annotations

import pytest

from maple.mm.layout import build_vmas, initial_brk, parse_maps
from maple.trace.replay import DEFAULT_LAYOUT
from mm_helpers import ANON, RW, P, check, new_mm

#: GNU make 4.3 right after execve (from the shipped kernbench trace): a one-page hole at
#: 0x55555558c000 inside the image (between the RELRO end and the rw-p data), then the bss
MAKE = """\
555555554000-55555555d000 r--p 00000000 fe:00 260631                     /usr/bin/make
55555555d000-555555581000 r-xp 00009000 fe:00 260631                     /usr/bin/make
555555581000-55555558c000 r--p 0002d000 fe:00 260631                     /usr/bin/make
55555558d000-555555590000 rw-p 00038000 fe:00 260631                     /usr/bin/make
555555590000-555555593000 rw-p 00000000 00:00 0
7ffff7fc2000-7ffff7fc6000 r--p 00000000 00:00 0                          [vvar]
7ffff7fc6000-7ffff7fc8000 r--p 00000000 00:00 0                          [vvar_vclock]
7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0                          [vdso]
7ffff7fca000-7ffff7fcb000 r--p 00000000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffff7fcb000-7ffff7ff1000 r-xp 00001000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffff7ff1000-7ffff7ffb000 r--p 00027000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffff7ffb000-7ffff7fff000 rw-p 00031000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
"""
MAKE_BSS_END = 0x555555593000


def brk_of(text: str) -> int:
    return initial_brk(build_vmas(parse_maps(text)).vmas)


def test_break_is_the_end_of_the_bss_past_a_hole_in_the_image(kind):
    mm = new_mm(kind, MAKE)
    assert mm.start_brk == mm.brk_value == mm.brk(0) == MAKE_BSS_END
    # make's first four growths in the kernbench trace (+0x21000 each) all succeed
    for step in range(1, 5):
        want = MAKE_BSS_END + step * 0x21000
        assert mm.brk(want) == want
        check(mm)
    heap = mm.find_vma(MAKE_BSS_END)
    assert heap.start == MAKE_BSS_END and heap.end == MAKE_BSS_END + 4 * 0x21000
    assert mm.vma_name(heap) == "[heap]"
    # the hole inside the image is untouched
    assert mm.find_vma(0x55555558C000).start == 0x55555558D000
    # shrinking back to start_brk removes the heap VMA, not the bss
    assert mm.brk(MAKE_BSS_END) == MAKE_BSS_END
    assert mm.find_vma(MAKE_BSS_END - 1).end == MAKE_BSS_END and mm.find_vma(MAKE_BSS_END) is not None
    assert mm.find_vma(MAKE_BSS_END).start > MAKE_BSS_END
    check(mm)


def test_without_a_bss_vma_the_break_is_the_end_of_the_last_file_vma():
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42    /bin/prog\n"
        "00402000-00403000 rw-p 00002000 08:01 42    /bin/prog\n"
        "00500000-00510000 rw-p 00000000 00:00 0\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]\n"
    )
    assert brk_of(text) == 0x403000  # the anonymous VMA is not adjacent: not the bss


@pytest.mark.parametrize(
    "after",
    [
        "00403000-00404000 rw-s 00000000 00:01 7     /dev/zero (deleted)\n",  # a file
        "00403000-00404000 rw-s 00000000 00:00 0\n",  # shared anonymous
        "00403000-00404000 r--p 00000000 00:00 0     [vdso]\n",  # special
        "00403000-00404000 r--p 00000000 08:01 43    /lib/other.so\n",  # another file
    ],
)
def test_only_a_private_anonymous_vma_right_after_the_image_is_the_bss(after):
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42    /bin/prog\n"
        "00402000-00403000 rw-p 00002000 08:01 42    /bin/prog\n" + after
    )
    assert brk_of(text) == 0x403000


def test_the_executable_is_the_first_mappings_file_even_past_other_files():
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42    /bin/prog\n"
        "00401000-00402000 r--p 00000000 08:01 43    /lib/interleaved.so\n"
        "00402000-00403000 rw-p 00002000 08:01 42    /bin/prog\n"
        "00403000-00405000 rw-p 00000000 00:00 0\n"
        "00405000-00406000 rw-p 00000000 00:00 0     [anon:other]\n"
    )
    assert brk_of(text) == 0x405000


def test_first_mapping_without_a_file_falls_back_to_the_first_run():
    text = (
        "00400000-00401000 rw-p 00000000 00:00 0\n"
        "00401000-00403000 r-xp 00000000 08:01 42    /bin/prog\n"
        "00404000-00405000 rw-p 00000000 00:00 0\n"
    )
    assert brk_of(text) == 0x403000


def test_a_heap_line_wins(kind):
    text = MAKE.replace(
        "555555590000-555555593000 rw-p 00000000 00:00 0\n",
        "555555590000-555555593000 rw-p 00000000 00:00 0\n"
        "5555555a0000-5555555c1000 rw-p 00000000 00:00 0                          [heap]\n",
    )
    mm = new_mm(kind, text)
    assert (mm.start_brk, mm.brk_value) == (0x5555555A0000, 0x5555555C1000)


def test_default_trace_layout_and_builtins_keep_a_growable_break(kind):
    for layout in (DEFAULT_LAYOUT, "cat", "python"):
        mm = new_mm(kind, layout)
        old = mm.brk(0)
        assert mm.brk(old + 16 * P) == old + 16 * P
        addr = mm.mmap(0, P, RW, ANON)
        assert not (old <= addr < old + 16 * P)
        check(mm)
    assert brk_of(DEFAULT_LAYOUT) == 0x256D000  # cc1: end of its bss VMA
