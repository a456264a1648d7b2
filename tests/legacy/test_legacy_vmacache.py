"""vmacache semantics: fill slot, linear scan, seqnum invalidation and flush, per-thread caches."""

from __future__ import annotations

import threading

import pytest
from legacy_helpers import P, TVma

from maple.legacy.index import LegacyVmaIndex
from maple.legacy.vmacache import VMACACHE_SIZE, VmaCache, vmacache_hash


def test_hash_is_page_number_modulo_four():
    assert VMACACHE_SIZE == 4
    assert [vmacache_hash(i * P) for i in range(6)] == [0, 1, 2, 3, 0, 1]
    assert vmacache_hash(5 * P + 123) == 1


def test_lookup_scans_every_slot_not_just_the_hash_slot():
    cache = VmaCache()
    vma = TVma(0, 8 * P)
    cache.update(0, vma)  # fills slot 0
    assert cache.entries() == [vma, None, None, None]
    # Address 3*P hashes to slot 3, but the scan finds the VMA in slot 0.
    assert cache.find(3 * P) is vma
    assert cache.hits == 1 and cache.misses == 0
    assert cache.find(8 * P) is None  # end is exclusive
    assert cache.misses == 1


def test_update_replaces_only_the_hashed_slot():
    cache = VmaCache()
    a, b = TVma(0, P), TVma(4 * P, 5 * P)
    cache.update(0, a)
    cache.update(4 * P, b)  # same slot as 0
    assert cache.entries() == [b, None, None, None]
    assert cache.find(0) is None


def test_invalidate_makes_the_next_lookup_flush_and_miss():
    cache = VmaCache()
    vma = TVma(0, P)
    cache.update(0, vma)
    cache.invalidate()
    assert cache.seqnum == 1
    assert cache.entries() == [None] * 4  # stale: a lookup would see nothing
    assert cache.find(0) is None
    assert cache.thread().seqnum == 1 and cache.thread().vmas == [None] * 4
    # Once resynchronised, fills stick again.
    cache.update(0, vma)
    assert cache.find(0) is vma
    assert (cache.hits, cache.misses) == (1, 1)


def test_flush_empties_the_calling_threads_slots():
    cache = VmaCache()
    cache.update(P, TVma(P, 2 * P))
    cache.flush()
    assert cache.entries() == [None] * 4


def test_caches_are_per_thread():
    cache = VmaCache()
    vma = TVma(0, P)
    cache.update(0, vma)
    seen = []

    def other():
        seen.append(cache.find(0))
        cache.update(0, vma)
        seen.append(cache.find(0))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [None, vma]
    assert cache.find(0) is vma
    assert (cache.hits, cache.misses) == (2, 1)


def test_invalidate_reaches_every_thread():
    cache = VmaCache()
    vma = TVma(0, P)
    ready, go, done = threading.Event(), threading.Event(), []

    def other():
        cache.update(0, vma)
        ready.set()
        go.wait()
        done.append(cache.find(0))

    t = threading.Thread(target=other)
    t.start()
    ready.wait()
    cache.invalidate()
    go.set()
    t.join()
    assert done == [None]


# -- through the index's find_vma ------------------------------------------------------------


def make(*ranges):
    idx = LegacyVmaIndex()
    vmas = [TVma(s * P, e * P) for s, e in ranges]
    for v in vmas:
        idx.insert(v)
    return idx, vmas


def test_find_vma_fills_the_cache_and_hits_next_time():
    idx, (a, b) = make((10, 20), (30, 40))
    assert idx.find_vma(35 * P) is b
    assert idx.vmacache.entries()[vmacache_hash(35 * P)] is b
    before = idx.counters
    assert idx.find_vma(31 * P) is b
    after = idx.counters
    assert after["vmacache_hits"] == before["vmacache_hits"] + 1
    assert after["nodes_visited"] == before["nodes_visited"]  # no rbtree walk on a hit


def test_find_vma_caches_a_vma_above_the_address_but_only_hits_containing():
    idx, (a, b) = make((10, 20), (30, 40))
    assert idx.find_vma(25 * P) is b  # b starts above 25: cached all the same (kernel does)
    assert b in idx.vmacache.entries()
    misses = idx.counters["vmacache_misses"]
    assert idx.find_vma(25 * P) is b  # not a hit: 25 is not inside b
    assert idx.counters["vmacache_misses"] == misses + 1
    idx.validate()


def test_remove_invalidates_insert_does_not():
    idx, (a, b) = make((10, 20), (30, 40))
    idx.find_vma(10 * P)
    seq = idx.vmacache.seqnum
    idx.insert(TVma(50 * P, 60 * P))
    assert idx.vmacache.seqnum == seq
    hits = idx.counters["vmacache_hits"]
    assert idx.find_vma(10 * P) is a
    assert idx.counters["vmacache_hits"] == hits + 1
    idx.remove(b)
    assert idx.vmacache.seqnum == seq + 1
    assert idx.vmacache.entries() == [None] * 4
    assert idx.find_vma(10 * P) is a
    assert idx.counters["vmacache_hits"] == hits + 1  # flushed: that lookup missed
    idx.validate()


def test_remove_range_invalidates_exactly_once():
    idx, vmas = make((10, 20), (20, 30), (30, 40), (50, 60))
    seq = idx.vmacache.seqnum
    idx.remove_range(10 * P, 40 * P, vmas[:3])
    assert idx.vmacache.seqnum == seq + 1
    assert list(idx) == [vmas[3]]
    idx.validate()


def test_shrunk_vma_in_cache_is_not_returned_outside_its_new_bounds():
    idx, (a, b) = make((10, 20), (30, 40))
    assert idx.find_vma(15 * P) is a
    idx.adjust(a, 10 * P, 12 * P)  # no invalidate: lookups re-check bounds
    assert idx.find_vma(15 * P) is b
    assert idx.vma_lookup(15 * P) is None
    idx.validate()


def test_validate_catches_a_dead_vma_in_the_cache():
    idx, (a, b) = make((10, 20), (30, 40))
    idx.find_vma(10 * P)
    tc = idx.vmacache.thread()
    tc.vmas[1] = TVma(1000 * P, 1001 * P)
    with pytest.raises(AssertionError, match="vmacache slot 1"):
        idx.validate()


def test_threads_each_keep_their_own_cache_and_exact_counts():
    idx, vmas = make(*[(i * 10, i * 10 + 5) for i in range(64)])
    n_threads, n_lookups = 4, 300
    errors = []
    barrier = threading.Barrier(n_threads)

    def reader(tid):
        try:
            barrier.wait()
            for i in range(n_lookups):
                v = vmas[(i * 7 + tid) % 64]
                assert idx.find_vma(v.start) is v
                assert idx.vma_lookup(v.start + P) is v
            idx.validate()  # this thread's cache is coherent
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    c = idx.counters
    assert c["vmacache_hits"] + c["vmacache_misses"] == n_threads * n_lookups * 2
