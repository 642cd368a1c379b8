"""Big buffers for replays from a pool that keeps freed ones mapped (``snfkit.memory.POOL``).

Why. A replay from a table writes a few hundred MB of fresh memory: the kernel's per-packet
outputs, the event lists, the NF's address columns and outputs. numpy takes each big array from the
operating system and gives it back when freed, so every replay pays for mapping and clearing those
pages again. On virtual machines that hand freed guest memory back to the host (a balloon with free
page reporting, as on the machine ``BENCHMARKS.md`` was measured on) the pages are also faulted in
again from the host: about 1.4 ms per MB there, 0.3-0.7 s of a 0.8 s replay of 6.4 M packets.
The pool keeps the blocks of arrays that died, still mapped, and hands them to the next replay:
repeated replays (a notebook, a sweep's trials) write into memory that is already there.

What. :meth:`BufferPool.empty`, :meth:`~BufferPool.zeros` and :meth:`~BufferPool.full` work like
their numpy namesakes; arrays below :data:`MIN_POOLED_BYTES`, or above the pool's limit, come from
numpy. A pooled array's block goes back to the pool
when the array and every view of it are gone, whoever holds them (a :class:`~snfkit.results.Results`
table, another thread): nothing is released by hand. Freed blocks are kept up to a limit, by
default the smaller of 2 GiB and an eighth of the machine's memory; ``SNFKIT_POOL_MB`` sets it at
import (0: no pool), :meth:`BufferPool.set_limit` later, and :meth:`BufferPool.clear` gives every
kept block back to the operating system. :meth:`BufferPool.stats` reports blocks taken, reused and
kept.

Results do not depend on the pool: :meth:`~BufferPool.empty` promises no values (like
``np.empty``; a reused block holds an earlier replay's bytes), :meth:`~BufferPool.zeros` clears a
reused block.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections import deque
from typing import NamedTuple

import numpy as np

MIN_POOLED_BYTES = 1 << 20
"""Arrays smaller than this come from numpy (whose allocator keeps small blocks itself)."""
GRAIN = 1 << 21
"""Blocks are whole multiples of this (a huge page), so that similar requests fit freed blocks."""
HUGE_PAGES_UP_TO = 256 << 20
"""New blocks up to this size are advised to the system as huge-page memory (fewer faults: the
default replay from a table was 2-4 % faster). Bigger ones are not: where the system compacts
memory for huge pages at a fault (its default for advised memory), a 100 M-packet replay from
parquet, whose item columns are 800 MB blocks written over the whole replay, took 12-13 s
instead of 9-9.7 s."""
SLACK = 1.25
"""A freed block serves a request at most this many times smaller than itself."""


def _default_limit() -> int:
    env = os.environ.get("SNFKIT_POOL_MB")
    if env is not None:
        try:
            mb = float(env)
        except ValueError:
            raise ValueError(
                f"SNFKIT_POOL_MB={env!r}: expected a number of MB (0: no pool)"
            ) from None
        if mb < 0:
            raise ValueError(f"SNFKIT_POOL_MB={env!r}: expected a number of MB >= 0 (0: no pool)")
        return int(mb * (1 << 20))
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 16 << 30
    return min(2 << 30, physical // 8)


class PoolStats(NamedTuple):
    """What the pool has done since it was made (or last cleared)."""

    taken: int  # blocks handed out
    reused: int  # of which freed blocks (the rest were mapped new)
    kept_blocks: int  # freed blocks held now
    kept_bytes: int
    limit_bytes: int


class BufferPool:
    """A pool of anonymous memory maps for big numpy arrays (the module docstring)."""

    def __init__(self, limit_bytes: int | None = None) -> None:
        self._limit = _default_limit() if limit_bytes is None else int(limit_bytes)
        self._free: list[
            tuple[mmap.mmap, str]
        ] = []  # kept blocks and their last tags, oldest first
        self._kept = 0
        self._returned: deque[tuple[mmap.mmap, str]] = deque()  # freed, not yet sorted into _free
        self._lock = threading.Lock()
        self._taken = 0
        self._reused = 0

    # ------------------------------------------------------------------ arrays

    def empty(self, shape, dtype=np.float64, tag: str = "") -> np.ndarray:
        """An uninitialised C-contiguous array (as ``np.empty``), from the pool if it is big.
        ``tag``: what the array is for; a freed block that served the same tag is preferred
        (a replay writes the same pages of it again: none is touched for the first time)."""
        return self._array(shape, dtype, zero=False, tag=tag)

    def zeros(self, shape, dtype=np.float64, tag: str = "") -> np.ndarray:
        """A zeroed C-contiguous array (as ``np.zeros``), from the pool if it is big."""
        return self._array(shape, dtype, zero=True, tag=tag)

    def full(self, shape, fill_value, dtype=np.float64, tag: str = "") -> np.ndarray:
        """An array filled with ``fill_value`` (as ``np.full``), from the pool if it is big."""
        arr = self._array(shape, dtype, zero=False, tag=tag)
        arr.fill(fill_value)
        return arr

    def _array(self, shape, dtype, zero: bool, tag: str) -> np.ndarray:
        dt = np.dtype(dtype)
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if nbytes < MIN_POOLED_BYTES or nbytes > self._limit:  # (a block it could never keep)
            return np.zeros(shape, dt) if zero else np.empty(shape, dt)
        block, fresh = self._take(nbytes, tag)
        arr = np.frombuffer(block, np.uint8, count=nbytes)
        owner = arr.base  # the buffer numpy took from the map: alive while any view of it is
        assert isinstance(owner, memoryview)
        weakref.finalize(owner, self._returned.append, (block, tag))
        if zero and not fresh:  # a new map is zero already
            arr.fill(0)
        return arr.view(dt).reshape(shape)

    # ------------------------------------------------------------------ blocks

    def _take(self, nbytes: int, tag: str) -> tuple[mmap.mmap, bool]:
        size = -(-nbytes // GRAIN) * GRAIN
        with self._lock:
            self._sort_returned()
            best, best_key = -1, None
            for k, (block, last) in enumerate(self._free):
                if size <= len(block) <= size * SLACK:
                    key = (last != tag, len(block))  # the same use first, then the smallest
                    if best_key is None or key < best_key:
                        best, best_key = k, key
            self._taken += 1
            if best >= 0:
                block, _ = self._free.pop(best)
                self._kept -= len(block)
                self._reused += 1
                return block, False
        if hasattr(mmap, "MAP_ANONYMOUS"):  # private: a forked process copies what it writes
            block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        else:  # (Windows: anonymous memory is the default, and no process forks)
            block = mmap.mmap(-1, size)
        if size <= HUGE_PAGES_UP_TO and hasattr(mmap, "MADV_HUGEPAGE"):
            try:  # a hint the system may ignore
                block.madvise(mmap.MADV_HUGEPAGE)
            except OSError:
                pass
        return block, True

    def _sort_returned(self) -> None:
        """Move blocks freed since the last call into the kept list, dropping the oldest kept
        ones beyond the limit (called with the lock held; finalizers only append to a deque,
        which needs no lock, as they may run in any thread, during any allocation)."""
        while self._returned:
            entry = self._returned.popleft()
            self._free.append(entry)
            self._kept += len(entry[0])
        while self._free and self._kept > self._limit:
            old, _ = self._free.pop(0)
            self._kept -= len(old)
            _unmap(old)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def set_limit(self, limit_bytes: int) -> None:
        """Keep at most this many bytes of freed blocks (0: keep none, and pool no new array)."""
        if limit_bytes < 0:
            raise ValueError(f"limit_bytes={limit_bytes}: expected >= 0")
        with self._lock:
            self._limit = int(limit_bytes)
            self._sort_returned()

    def clear(self) -> None:
        """Give every kept block back to the operating system and reset the counts. Arrays in use
        are not touched; their blocks come back to the pool when they die."""
        with self._lock:
            self._sort_returned()
            for block, _ in self._free:
                _unmap(block)
            self._free.clear()
            self._kept = 0
            self._taken = self._reused = 0

    def scribble(self, byte: int = 0xA5) -> None:
        """Fill every kept block with ``byte`` (for tests: a reader of memory nobody wrote then
        sees it, instead of an earlier run's identical values)."""
        with self._lock:
            self._sort_returned()
            for block, _ in self._free:
                np.frombuffer(block, np.uint8).fill(byte)

    def stats(self) -> PoolStats:
        with self._lock:
            self._sort_returned()
            return PoolStats(self._taken, self._reused, len(self._free), self._kept, self._limit)


def _unmap(block: mmap.mmap) -> None:
    try:
        block.close()
    except BufferError:  # still exported (a finalizer racing its memoryview's release): dropped
        pass


POOL = BufferPool()
"""The process's pool, which the replay's buffers come from."""
if hasattr(os, "register_at_fork"):  # a child forked while another thread held the lock
    os.register_at_fork(after_in_child=POOL._new_lock)
empty = POOL.empty
zeros = POOL.zeros
full = POOL.full
