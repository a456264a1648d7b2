"""Layouts and maps, the mmap_lock semaphore, and threads sharing one address space."""

from __future__ import annotations

import threading
import time

import pytest

from maple.errors import InputError
from maple.linux import VM_ACCOUNT, VM_DONTEXPAND, VM_GROWSDOWN
from maple.mm import MMError, SegmentationFault, layouts, make_mm, parse_maps
from maple.mm.layout import layout_text
from maple.mm.lock import RWSemaphore
from mm_helpers import ANON, BASE, FIXED, RW, P, check, new_mm

# ---------------------------------------------------------------- layouts


def test_builtin_layouts_round_trip_through_maps(kind):
    assert {"cat", "python"} <= set(layouts())
    for name in ("cat", "python"):
        mm = new_mm(kind, name)
        text = layout_text(name)
        assert mm.maps() == text  # byte for byte, the [vsyscall] gate line included
        assert 30 <= mm.map_count == len(text.splitlines()) - 1  # the gate is not a VMA
        check(mm)


def test_layout_reconstructs_flags_and_heap(kind):
    mm = new_mm(kind, "cat")
    heap = mm.find_vma(mm.start_brk)
    assert mm.vma_name(heap) == "[heap]" and heap.start == mm.start_brk and heap.end == mm.brk_value
    assert heap.anon_vma is not None and heap.flags & VM_ACCOUNT
    stack = mm.vmas()[-1]
    assert mm.vma_name(stack) == "[stack]" and stack.flags & VM_GROWSDOWN
    vdso = next(v for v in mm.vmas() if v.name == "[vdso]")
    assert vdso.flags & VM_DONTEXPAND
    libc = [v for v in mm.vmas() if v.file is not None and v.file.path.endswith("libc.so.6")]
    assert len({id(v.file) for v in libc}) == 1 and len(libc) == 5
    assert [bool(v.flags & VM_ACCOUNT) for v in libc] == [False, False, False, True, True]  # RELRO
    # new mappings land below the libraries, under mmap_base
    addr = mm.mmap(0, P, RW, ANON)
    assert addr < mm.mmap_base
    check(mm)


def test_layout_from_maps_text(kind):
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42    /bin/prog\n"
        "00401000-00402000 rw-p 00001000 08:01 42    /bin/prog\n"
        "01000000-01021000 rw-p 00000000 00:00 0     [heap]\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]\n"
    )
    mm = new_mm(kind, text)
    assert mm.map_count == 4 and mm.start_brk == 0x1000000 and mm.brk_value == 0x1021000
    assert mm.maps().splitlines()[0].startswith("00400000-00401000 r-xp 00000000 08:01 42 ")
    assert mm.brk(0x1030000) == 0x1030000 and mm.map_count == 4
    check(mm)


@pytest.mark.parametrize(
    "text, word",
    [
        ("nonsense", "nonsense"),
        ("00400000-00300000 r-xp 00000000 08:01 42 /x", "00400000-00300000"),
        ("00400000-00401001 r-xp 00000000 08:01 42 /x", "00400000-00401001"),
        ("00400000-00401000 r-xp 00000000 08:01 42 /x\n00400000-00401000 r-xp 00000000 08:01 42 /x", "line 2"),
    ],
)
def test_bad_maps_text_names_the_line(text, word):
    with pytest.raises(InputError) as e:
        make_mm("maple", layout=text)
    assert word in str(e.value)


def test_unknown_layout_and_kind_are_input_errors():
    with pytest.raises(InputError, match="'nope'"):
        make_mm("maple", layout="nope")
    with pytest.raises(InputError, match="'btree'"):
        make_mm("btree")


def test_parse_maps_fields():
    (e,) = parse_maps("7f00-8f00000 r--s 00001000 fe:01 77   /x y\n".replace("7f00-", "7f000-"))
    assert (e.start, e.end, e.perms, e.offset, e.dev, e.inode, e.name) == (
        0x7F000, 0x8F00000, "r--s", 0x1000, (0xFE, 1), 77, "/x y"
    )


# ---------------------------------------------------------------- the semaphore


def test_rwsem_readers_share_writers_exclude():
    sem = RWSemaphore()
    sem.down_read()
    sem.down_read()
    assert sem.readers == 2
    got = threading.Event()

    def writer():
        with sem.write():
            got.set()

    t = threading.Thread(target=writer)
    t.start()
    assert not got.wait(0.05)
    sem.up_read()
    sem.up_read()
    t.join(5)
    assert got.is_set() and sem.readers == 0 and not sem.locked_for_write


def test_rwsem_waiting_writer_is_not_starved_by_new_readers():
    sem = RWSemaphore()
    order = []
    sem.down_read()
    w = threading.Thread(target=lambda: (sem.down_write(), order.append("w"), sem.up_write()))
    w.start()
    while not sem.waiters:
        time.sleep(0.001)
    r = threading.Thread(target=lambda: (sem.down_read(), order.append("r"), sem.up_read()))
    r.start()
    time.sleep(0.05)
    assert order == []  # the new reader queues behind the waiting writer
    sem.up_read()
    w.join(5)
    r.join(5)
    assert order == ["w", "r"]


def test_rwsem_downgrade():
    sem = RWSemaphore()
    sem.down_write()
    sem.downgrade_write()
    assert sem.readers == 1 and not sem.locked_for_write
    sem.down_read()
    sem.up_read()
    sem.up_read()


# ---------------------------------------------------------------- threads on one mm


def test_threads_fault_and_map_concurrently(kind):
    mm = new_mm(kind, "cat")
    stable = mm.mmap(BASE, 64 * P, RW, FIXED)
    errors: list[BaseException] = []
    stop = threading.Event()

    def faulter(seed: int) -> None:
        try:
            i = seed
            while not stop.is_set():
                mm.fault(stable + (i % 64) * P, write=bool(i & 1))
                i += 7
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def mapper(slot: int) -> None:
        try:
            lo = BASE + (128 + slot * 64) * P
            for n in range(150):
                addr = mm.mmap(lo + (n % 8) * P, P * (1 + n % 3), RW if n % 2 else 1, FIXED)
                mm.fault(addr, write=False)
                if n % 5 == 0:
                    mm.mprotect(addr, P, RW)
                mm.munmap(lo + ((n * 3) % 8) * P, 2 * P)
                a2 = mm.mmap(0, P, RW, ANON)
                mm.munmap(a2, P)
                mm.brk(mm.brk(0) + P if n % 2 == 0 else mm.brk(0) - P)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    readers = [threading.Thread(target=faulter, args=(s,)) for s in range(3)]
    writers = [threading.Thread(target=mapper, args=(s,)) for s in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(60)
    stop.set()
    for t in readers:
        t.join(60)
    assert not errors, errors[0]
    check(mm)
    assert all(mm.index.vma_lookup(stable + i * P) is not None for i in range(64))
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 127 * P)
    with pytest.raises(MMError):
        mm.munmap(BASE + 1, P)
