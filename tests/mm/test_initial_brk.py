"""The initial break of a layout without ``[heap]``: the end of the executable's bss, as
``load_elf_binary``/``set_brk`` leave it with randomisation off."""

from __future__ import annotations

import pytest

from maple.mm.layout import build_vmas, initial_brk, parse_maps
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


def test_builtin_layouts_keep_a_growable_break(kind):
    for layout in ("cat", "python"):
        mm = new_mm(kind, layout)
        old = mm.brk(0)
        assert old == mm.find_vma(mm.start_brk).end  # their [heap] line
        assert mm.brk(old + 16 * P) == old + 16 * P
        addr = mm.mmap(0, P, RW, ANON)
        assert not (old <= addr < old + 16 * P)
        check(mm)


def test_a_large_bss_like_cc1s():
    text = (
        "00400000-00631000 r--p 00000000 fe:00 270392    /usr/lib/gcc/x86_64-linux-gnu/12/cc1\n"
        "00631000-019f5000 r-xp 00231000 fe:00 270392    /usr/lib/gcc/x86_64-linux-gnu/12/cc1\n"
        "019f5000-023bd000 r--p 015f5000 fe:00 270392    /usr/lib/gcc/x86_64-linux-gnu/12/cc1\n"
        "023bd000-023cd000 rw-p 01fbc000 fe:00 270392    /usr/lib/gcc/x86_64-linux-gnu/12/cc1\n"
        "023cd000-0256d000 rw-p 00000000 00:00 0\n"
        "7ffff7fc8000-7ffff7fca000 r-xp 00000000 00:00 0     [vdso]\n"
    )
    assert brk_of(text) == 0x256D000


# ---------------------------------------------------------------- against the running kernel


def _maps_without_aslr(argv: list[str], stdin: str | None = None) -> str:
    import platform
    import shutil
    import subprocess

    if platform.system() != "Linux" or shutil.which("setarch") is None:
        pytest.skip("needs Linux and setarch")
    try:
        out = subprocess.run(
            ["setarch", platform.machine(), "-R", *argv], input=stdin, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run {argv[0]} without randomisation: {exc}")
    if out.returncode != 0 or "[heap]" not in out.stdout:
        pytest.skip(f"setarch -R {argv[0]} gave no maps with a heap: {out.stderr.strip()[:200]}")
    return out.stdout


@pytest.mark.parametrize(
    "argv",
    [
        # bash: its bss is a separate anonymous VMA
        ["bash", "-c", "cat /proc/$$/maps"],
        # CPython: the bss fits in the last file page, no bss VMA
        [__import__("sys").executable, "-c", "print(open('/proc/self/maps').read(), end='')"],
        # GNU make: a one-page hole inside its image, then the bss (the kernbench case)
        ["make", "-s", "-f", "-"],
    ],
    ids=["bash", "python", "make"],
)
def test_kernel_puts_the_heap_where_initial_brk_says(argv):
    """With randomisation off the kernel's ``[heap]`` starts at ``start_brk``; with the heap
    line removed, ``initial_brk`` must find that address from the rest of the layout."""
    if argv[0] == "make":
        import shutil

        if shutil.which("make") is None:
            pytest.skip("make is not installed")
    stdin = "all:\n\t@cat /proc/$$PPID/maps\n" if argv[0] == "make" else None
    entries = parse_maps(_maps_without_aslr(argv, stdin))
    heap = next(e for e in entries if e.name == "[heap]")
    rest = [e for e in entries if e.name != "[heap]"]
    assert brk_of_entries(rest) == heap.start


def brk_of_entries(entries) -> int:
    return initial_brk(build_vmas(entries).vmas)
