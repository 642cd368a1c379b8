"""The memory pool (snfkit.memory): arrays like numpy's, blocks reused only once every view of
them is gone, the limit kept, and replays that do not depend on what reused memory held."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from snfkit import memory
from snfkit.memory import GRAIN, MIN_POOLED_BYTES, BufferPool

BIG = MIN_POOLED_BYTES // 8 * 3  # int64 elements: 3 MB, pooled


def test_arrays_are_what_numpy_would_give():
    pool = BufferPool(64 << 20)
    for make, expect in ((pool.zeros, 0), (lambda s, d: pool.full(s, -1, d), -1)):
        a = make((BIG // 4, 4), np.int64)
        assert a.shape == (BIG // 4, 4) and a.dtype == np.int64 and a.flags.c_contiguous
        assert a.flags.writeable and (a == expect).all()
    rec = pool.empty(BIG // 2, np.dtype([("x", np.int64), ("y", np.float64)]))
    rec["y"] = 1.5
    assert rec["y"].sum() == 1.5 * (BIG // 2)
    assert pool.stats().taken == 3


def test_small_and_oversized_arrays_come_from_numpy():
    pool = BufferPool(8 << 20)
    small = pool.empty(MIN_POOLED_BYTES // 8 - 1, np.int64)
    huge = pool.zeros((8 << 20) // 8 + 1, np.int64)
    assert small.base is None and huge.base is None
    assert pool.stats().taken == 0


def test_a_block_comes_back_only_when_every_view_is_gone():
    pool = BufferPool(64 << 20)
    a = pool.empty(BIG, np.int64)
    view = a[10:20].view(np.uint8)
    del a
    gc.collect()
    assert pool.stats().kept_blocks == 0  # the view still reads the block
    b = pool.empty(BIG, np.int64)
    assert not np.shares_memory(b, view)
    del view
    gc.collect()
    assert pool.stats().kept_blocks == 1
    c = pool.empty(BIG, np.int64)
    assert pool.stats().reused == 1 and not np.shares_memory(b, c)


def test_zeros_clears_a_reused_block():
    pool = BufferPool(64 << 20)
    a = pool.full(BIG, 7, np.int64)
    del a
    gc.collect()
    z = pool.zeros(BIG, np.int64)
    assert pool.stats().reused == 1
    assert not z.any()


def test_blocks_fit_requests_within_the_slack():
    pool = BufferPool(256 << 20)
    a = pool.empty(4 * GRAIN, np.uint8)
    del a
    gc.collect()
    small = pool.empty(GRAIN, np.uint8)  # a quarter of the kept block: a new one
    assert pool.stats().reused == 0
    same = pool.empty(4 * GRAIN - 100, np.uint8)  # rounds up to the kept block's size
    assert pool.stats().reused == 1
    del small, same


def test_a_freed_block_goes_back_to_the_same_use_first():
    """Blocks remember what they served (a replay's item columns are written only in part): a
    request with the same tag gets such a block, whatever its place among the kept ones."""
    pool = BufferPool(64 << 20)
    a = pool.empty(BIG, np.int64, tag="items")
    b = pool.empty(BIG, np.int64, tag="outputs")
    where = {"items": a.ctypes.data, "outputs": b.ctypes.data}
    del a, b
    gc.collect()
    for tag in ("outputs", "items"):
        again = pool.empty(BIG, np.int64, tag=tag)
        assert again.ctypes.data == where[tag]
    assert pool.stats().reused == 2


def test_the_limit_is_kept_and_clear_gives_everything_back():
    pool = BufferPool(3 * GRAIN)
    arrays = [pool.empty(GRAIN, np.uint8) for _ in range(5)]
    del arrays
    gc.collect()
    s = pool.stats()
    assert s.kept_blocks == 3 and s.kept_bytes == 3 * GRAIN
    pool.set_limit(GRAIN)
    assert pool.stats().kept_bytes == GRAIN
    pool.clear()
    assert pool.stats() == (0, 0, 0, 0, GRAIN)
    with pytest.raises(ValueError, match="limit_bytes=-1"):
        pool.set_limit(-1)
    pool.set_limit(0)
    assert pool.empty(4 * GRAIN, np.uint8).base is None  # no pool at all


def test_threads_never_share_a_live_block():
    pool = BufferPool(64 << 20)
    errors = []

    def work(k: int) -> None:
        for _ in range(50):
            a = pool.full(BIG, k, np.int64)
            if not (a == k).all():  # another thread wrote into it
                errors.append(k)
            del a

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pool.stats().reused > 0


def test_the_environment_sets_the_limit(monkeypatch):
    monkeypatch.setenv("SNFKIT_POOL_MB", "3")
    assert BufferPool().stats().limit_bytes == 3 << 20
    monkeypatch.setenv("SNFKIT_POOL_MB", "lots")
    with pytest.raises(ValueError, match="SNFKIT_POOL_MB='lots': expected a number of MB"):
        BufferPool()


def test_a_replay_does_not_depend_on_what_reused_memory_held():
    """The second replay reuses the first's blocks, scribbled over: any value the kernel, the
    event lists or the NF pass left unwritten would differ from a replay without the pool."""
    import snfkit
    from snfkit.traces.transforms import connections
    from snfkit.workloads import paper_like

    packets = connections(paper_like(seed=5, scale=0.03))  # 190 K packets: pooled buffers
    failures = snfkit.random_failures(2_000.0, ["unit", "ol"], seed=3)  # (ol: its columns too)

    def run():
        r = snfkit.replay(packets, nf="nat", failures=failures, chunk_size=150_000)
        return r.packets, r.flowlets, r.nf_output, r.summary

    limit = memory.POOL.stats().limit_bytes
    try:
        memory.POOL.set_limit(0)
        want = run()
        memory.POOL.set_limit(1 << 30)
        run()
        gc.collect()
        memory.POOL.scribble(0xA5)
        before = memory.POOL.stats().reused
        got = run()
        assert memory.POOL.stats().reused > before
    finally:
        memory.POOL.set_limit(limit)
    for w, g in zip(want[:3], got[:3], strict=True):
        assert g.equals(w)
    assert got[3] == want[3]


@pytest.mark.skipif(not hasattr(memory.os, "fork"), reason="no fork on this platform")
def test_a_forked_child_takes_blocks_and_leaves_the_parents_alone():
    """The pool's maps are private (a child's writes are its own) and its lock is new in a child
    (one forked while another thread held it would otherwise wait forever)."""
    import os

    parent = memory.POOL.full(BIG, 1, np.int64)
    pid = os.fork()
    if pid == 0:  # the child: write into the parent's block, take blocks of its own
        ok = False
        try:
            parent.fill(2)
            ok = bool((memory.POOL.full(BIG, 3, np.int64) == 3).all())
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (parent == 1).all()
