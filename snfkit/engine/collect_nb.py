"""Aggregates the replay kernel keeps as it goes, so a run without per-packet rows costs no extra pass.

Per packet, :func:`snfkit.engine.replay_nb.replay_chunk_nb` adds (written out in its loop) its
latency (finish - arrival) to the log histogram of :mod:`snfkit.latency_hist` and to a sum and a
maximum, counts the packet and its state-wait time by wait cause (when it waited), and sums traffic
per (epoch, unit slot):

- packets and bytes by the epoch the packet *arrived* in;
- busy time and processed bytes by the epoch its *service started* in.

Epochs count from the trace's first packet in steps of ``epoch_ns``. Arrivals are in time order and a
service starts at or after its arrival, so once packets arrive in epoch e no cell of an earlier epoch
changes again. The kernel keeps the cells of epochs e .. e + EPOCH_RING - 1 in a ring per unit slot,
writes a ring epoch out as rows ``(epoch, unit, packets, bytes, busy_ns, processed_bytes)`` when
arrivals move past it and at the end of every chunk, and writes a service that starts
EPOCH_RING or more epochs after its arrival as a row of its own. Rows of one cell may repeat across
chunks; the caller sums them by (epoch, unit).

Each item's packets, bytes, last arrival and last finish are kept in its flow's record while the
item is current, and written to the item's entries of :class:`Items` when the flow's next item opens or
the replay ends (:func:`flush_item`).

The plain-Python statement of the same sums, from per-packet rows, is
:func:`snfkit.reference.collect.collect_reference`; tests compare the two.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from snfkit.engine._jit import helper
from snfkit.engine.mix_nb import GOLDEN, mix64
from snfkit.latency_hist import N_BUCKETS, SUB, SUB_BITS
from snfkit.memory import POOL

EPOCH_RING = 8
"""Epochs ahead of the current arrival epoch whose cells a unit slot keeps (a power of two)."""
RING_MASK = EPOCH_RING - 1

EU_COLUMNS = ("epoch", "unit", "packets", "bytes", "busy_ns", "processed_bytes")
"""The columns of the kernel's epoch rows (int64 [rows, 6])."""


class Items(NamedTuple):
    """Every item (flowlet, flow or packet) of a replay, one array per field, indexed by item id
    (columns, so that the flowlets table is built without gathering fields out of records)."""

    # written when the item opens
    flow: np.ndarray  # int64
    unit: np.ndarray  # int64, unit slot
    life: np.ndarray  # int64, the unit's lifetime id (slots are reused)
    open_ts: np.ndarray  # int64
    est: np.ndarray  # float64, demand estimate (bps)
    reason: np.ndarray  # int8, why it opened (an OpenReason code)
    source: np.ndarray  # int8, where its state came from (a StateSource code)
    overflow: np.ndarray  # bool
    moved: np.ndarray  # bool, on another unit (or unit lifetime) than the flow's previous item
    # written when the flow's next item opens, or at the end (flush_item)
    pkts: np.ndarray  # int64
    bytes: np.ndarray  # int64
    last: np.ndarray  # int64, last arrival
    end: np.ndarray  # int64, last finish


ITEM_DTYPES = {name: np.int64 for name in Items._fields} | {
    "est": np.float64, "reason": np.int8, "source": np.int8, "overflow": np.bool_,
    "moved": np.bool_,
}  # fmt: skip


def new_items(n: int) -> Items:
    """Item columns for n items, not initialised: the kernel writes every field of an item before
    anything reads it (the opening fields when it opens, the totals when its flow's next item
    opens or the replay ends: :func:`flush_item`). From the memory pool (:mod:`snfkit.memory`):
    a new block takes memory only where written, and a later replay reuses it, already mapped."""
    return Items(*(POOL.empty(n, ITEM_DTYPES[name], tag="replay.items") for name in Items._fields))


@helper
def hist_bucket(v):
    """Bucket of one latency in the log histogram (:func:`snfkit.latency_hist.bucket_of`).

    Below 2**53 a float64 holds v exactly, so its exponent field is floor(log2(v)) and the top
    SUB_BITS bits of its fraction are the sub-bucket, with no branch on the value (about 2.4x faster than
    halving the bit range in a micro-benchmark of random latencies)."""
    if v < 2 * SUB:
        return max(v, 0)
    if v >= 1 << 53:
        return _hist_bucket_exact(v)
    bits = np.float64(v).view(np.int64)
    exp = (bits >> 52) - 1023
    return (exp - SUB_BITS + 1) * SUB + ((bits >> (52 - SUB_BITS)) & (SUB - 1))


@helper
def _hist_bucket_exact(v):
    exp = 0  # floor(log2(v)), by halving the bit range
    x = v
    for shift in (32, 16, 8, 4, 2, 1):
        if x >> shift:
            x >>= shift
            exp += shift
    b = (exp - SUB_BITS + 1) * SUB + ((v >> (exp - SUB_BITS)) - SUB)
    return min(b, N_BUCKETS - 1)


@helper
def flush_item(items, fl):
    """Write the totals of flow record fl's current item (fl.item >= 0) to ``items``."""
    k = fl.item
    items.pkts[k] = fl.pkts
    items.bytes[k] = fl.bytes
    items.last[k] = fl.last_ts
    items.end[k] = fl.item_end


@helper
def flush_epochs(eu, rows, c, e_stop):
    """Write the ring cells of epochs ``c.ea`` up to ``e_stop`` (exclusive; at most EPOCH_RING of
    them) as rows from ``rows[c.n_eu]`` on, and clear them. Only cells that saw a packet are
    written; the caller has made room for EPOCH_RING rows per unit slot below ``c.eu_hi``."""
    stop = e_stop if e_stop < c.ea + EPOCH_RING else c.ea + EPOCH_RING
    n = c.n_eu
    for u in range(c.eu_hi):
        for e in range(c.ea, stop):
            s = e & RING_MASK
            if eu[u, s, 0] != 0 or eu[u, s, 1] != 0 or eu[u, s, 2] != 0 or eu[u, s, 3] != 0:
                rows[n, 0] = e
                rows[n, 1] = u
                for j in range(4):
                    rows[n, 2 + j] = eu[u, s, j]
                    eu[u, s, j] = 0
                n += 1
    c.n_eu = n


@helper
def add_epoch_row(rows, c, es, u, busy, size):
    """A service that starts EPOCH_RING or more epochs after its arrival: its own row."""
    n = c.n_eu
    rows[n, 0] = es
    rows[n, 1] = u
    rows[n, 2] = 0
    rows[n, 3] = 0
    rows[n, 4] = busy
    rows[n, 5] = size
    c.n_eu = n + 1


@nb.njit(cache=True, error_model="numpy")
def latency_histogram_nb(values):
    """The log histogram of ``values`` (what the replay kernel keeps of every latency)."""
    hist = np.zeros(N_BUCKETS, np.int64)
    for i in range(values.shape[0]):
        hist[hist_bucket(values[i])] += 1
    return hist


DENSE_WIDTH = 1 << 16
"""A target bucket at most this wide (its values span < 65,536 ns: latencies below ~8 ms) is
counted value by value instead of having its values gathered: a common latency's bucket can hold
most of the packets, and counting them costs no copy and no selection."""
SPARE = 8
"""Cells after the slots in the percentile buffer that counts of other buckets' values go to (the
count loop has no branch; a few cells, so consecutive writes do not wait on each other)."""


@nb.njit(cache=True, error_model="numpy")
def bucket_span(b):
    """``(lowest value, width)`` of histogram bucket b; ``(-1, -1)`` for bucket 0 and the last one
    (they also hold every value below 0 and above the range) and for buckets beyond int64."""
    if b == 0:
        return np.int64(-1), np.int64(-1)
    if b < 2 * SUB:
        return np.int64(b), np.int64(1)
    shift = b // SUB - 1
    if b == N_BUCKETS - 1 or shift > 55:
        return np.int64(-1), np.int64(-1)
    return np.int64(b % SUB + SUB) << shift, np.int64(1) << shift


@nb.njit(cache=True, error_model="numpy")
def rank_buckets_nb(hist, ranks):
    """Where the ranked values are, from the histogram of all values: ``(target, within, slot,
    start, lo)``: the bucket of each rank and the rank inside it, a buffer slot per target bucket
    (-1 for other buckets), each slot's start in one buffer, and each slot's lowest value if its
    bucket is counted value by value (:data:`DENSE_WIDTH`: the slot holds a count per value) or
    -1 (the slot holds the bucket's values). The buffer has :data:`SPARE` cells more."""
    m = ranks.shape[0]
    target = np.empty(m, np.int64)
    within = np.empty(m, np.int64)
    upto = np.empty(N_BUCKETS, np.int64)  # values in buckets 0..b
    total = 0
    for b in range(N_BUCKETS):
        total += hist[b]
        upto[b] = total
    for k in range(m):  # the first bucket with upto[b] > rank, by bisection (no sort to compile)
        lo_b = 0
        hi_b = N_BUCKETS - 1
        while lo_b < hi_b:
            mid = (lo_b + hi_b) >> 1
            if upto[mid] > ranks[k]:
                hi_b = mid
            else:
                lo_b = mid + 1
        target[k] = lo_b
        within[k] = ranks[k] - (upto[lo_b] - hist[lo_b])
    slot = np.full(N_BUCKETS, -1, np.int64)
    n_slots = 0
    for k in range(m):
        if slot[target[k]] < 0:
            slot[target[k]] = n_slots
            n_slots += 1
    start = np.zeros(n_slots + 1, np.int64)
    lo = np.full(n_slots, -1, np.int64)
    for b in range(N_BUCKETS):
        s = slot[b]
        if s >= 0:
            low, width = bucket_span(b)
            if 0 < width <= DENSE_WIDTH:
                lo[s] = low
                start[s + 1] = width
            else:
                start[s + 1] = hist[b]
    for s in range(n_slots):
        start[s + 1] += start[s]
    return target, within, slot, start, lo


@nb.njit(cache=True, nogil=True, error_model="numpy")
def item_counts_nb(moved, reason, source, n_reasons, n_sources):
    """Items by (moved, open reason, state source): int64[2, n_reasons, n_sources], in one pass
    over the items' columns (the summary's state sources and seamless shares are sums of it)."""
    counts = np.zeros((2, n_reasons, n_sources), np.int64)
    for k in range(source.shape[0]):
        counts[np.int64(moved[k]), reason[k], source[k]] += 1
    return counts


@nb.njit(cache=True, error_model="numpy")
def count_index_nb(slot, lo, start):
    """Per bucket b, ``index[b] = (offset, unit)`` so that a value v of it is counted at
    ``offset + v * unit`` (its cell in a counted slot; else unit 0 and offset the first
    :data:`SPARE` cell). One row per bucket: the count loop reads one cache line per value."""
    index = np.zeros((N_BUCKETS, 2), np.int64)
    index[:, 0] = start[-1]
    for b in range(N_BUCKETS):
        s = slot[b]
        if s >= 0 and lo[s] >= 0:
            index[b, 0] = start[s] - lo[s]
            index[b, 1] = 1
    return index


@nb.njit(cache=True, nogil=True, error_model="numpy")
def count_ranked_nb(values, index, buf):
    """Count each value of a counted target bucket in its cell of ``buf`` (the rest land in the
    spare cells). No branch on the value: a third of a common run's values can fall in a target
    bucket, too many for a well-predicted branch. Called once per part of the values."""
    for i in range(values.shape[0]):
        v = values[i]
        b = hist_bucket(v)
        u = index[b, 1]
        buf[index[b, 0] + v * u + (i & (SPARE - 1)) * (1 - u)] += 1


@nb.njit(cache=True, nogil=True, error_model="numpy")
def gather_ranked_nb(values, slot, lo, buf, start, got):
    """Put the values of the target buckets that are not counted (``lo[slot] < 0``) at
    ``start[slot] + got[slot]`` in ``buf``; ``got`` counts them per slot. Called once per part of
    the values, only if there is such a slot. Returns False (and stops) if a slot would overflow:
    the values are not the histogram's."""
    for i in range(values.shape[0]):
        v = values[i]
        s = slot[hist_bucket(v)]
        if s >= 0 and lo[s] < 0:
            at = start[s] + got[s]
            if at >= start[s + 1]:
                return False
            buf[at] = v
            got[s] += 1
    return True


@nb.njit(cache=True, error_model="numpy")
def pick_ranked_nb(buf, start, lo, slot, target, within):
    """Read the ranked values: the ``within[k]``-th smallest of target bucket k's values (from the
    counts per value, or by a selection among the values)."""
    out = np.empty(target.shape[0], buf.dtype)
    for k in range(target.shape[0]):
        s = slot[target[k]]
        if lo[s] >= 0:
            left = within[k]
            at = start[s]
            while left >= buf[at]:
                left -= buf[at]
                at += 1
            out[k] = lo[s] + at - start[s]
        else:
            out[k] = kth_smallest_nb(buf[start[s] : start[s + 1]].copy(), within[k])
    return out


@nb.njit(cache=True, error_model="numpy")
def kth_smallest_nb(a, k):
    """The k-th smallest (0-based) of ``a`` (a 1-d array it reorders): Hoare's selection, each round
    partitioning around the median of the two ends and one value at a pseudo-random position (so
    that no order of the input is a worst case; equal values stop both scans, so many duplicates
    split evenly). Used instead of ``np.partition``, whose compiled form (a sort and
    ``np.unique`` among its checks) cost about 3.5 s of a first run (``bench_coldstart.py``)."""
    lo = np.int64(0)
    hi = np.int64(a.shape[0] - 1)
    z = np.uint64(a.shape[0])
    while hi > lo + 1:
        z = mix64(z + GOLDEN)
        r = lo + 1 + np.int64(z % np.uint64(hi - lo - 1))  # in [lo + 1, hi - 1]
        a[r], a[lo + 1] = a[lo + 1], a[r]
        if a[lo] > a[hi]:
            a[lo], a[hi] = a[hi], a[lo]
        if a[lo + 1] > a[hi]:
            a[lo + 1], a[hi] = a[hi], a[lo + 1]
        if a[lo] > a[lo + 1]:
            a[lo], a[lo + 1] = a[lo + 1], a[lo]
        pivot = a[lo + 1]  # a[lo] <= pivot <= a[hi]: both scans stop inside
        i = lo + 1
        j = hi
        while True:
            i += 1
            while a[i] < pivot:
                i += 1
            j -= 1
            while a[j] > pivot:
                j -= 1
            if j < i:
                break
            a[i], a[j] = a[j], a[i]
        a[lo + 1] = a[j]
        a[j] = pivot
        if j >= k:
            hi = j - 1
        if j <= k:
            lo = i
    if hi == lo + 1 and a[hi] < a[lo]:
        a[lo], a[hi] = a[hi], a[lo]
    return a[k]


@nb.njit(cache=True, error_model="numpy")
def _counted(hist, slot, lo, buf, start, got):
    """Did the passes see as many values per target bucket as the histogram counts?"""
    for b in range(N_BUCKETS):
        s = slot[b]
        if s >= 0:
            seen = buf[start[s] : start[s + 1]].sum() if lo[s] >= 0 else got[s]
            if seen != hist[b]:
                return False
    return True


def exact_percentiles(values, ranks) -> np.ndarray:
    """The ``ranks[j]``-th smallest of ``values`` (0-based ranks, each < len(values)), by way of the
    log histogram: a pass counts the values per bucket, which locates the bucket of each rank and
    the rank within it; a second pass counts (narrow buckets) or gathers (wide ones) the values of
    those few buckets. Two linear passes, where a selection over the whole array copies and
    partitions it. (:func:`ranked_values` with the histogram computed here.)"""
    values = np.asarray(values, np.int64)
    return ranked_values([values], ranks, latency_histogram_nb(values))


class RankPlan(NamedTuple):
    """Where :func:`ranked_values` finds the ranked values (:func:`rank_buckets_nb`,
    :func:`count_index_nb`); ``wide``: some target bucket's values are gathered."""

    target: np.ndarray
    within: np.ndarray
    slot: np.ndarray
    start: np.ndarray
    lo: np.ndarray
    index: np.ndarray
    wide: bool


_REFUSED = "ranked_values: the histogram does not count the values given"


def rank_plan(parts, ranks: np.ndarray, hist: np.ndarray) -> RankPlan:
    """The plan of :func:`ranked_values` for these parts, ranks and histogram (checked)."""
    total = sum(int(p.shape[0]) for p in parts)
    if hist.shape != (N_BUCKETS,) or int(hist.sum()) != total:
        raise RuntimeError(_REFUSED)
    ranks = np.asarray(ranks, np.int64)
    if ranks.size and (ranks.min() < 0 or ranks.max() >= total):
        raise ValueError(f"ranked_values: ranks must be in [0, {total}), got {ranks.tolist()}")
    target, within, slot, start, lo = rank_buckets_nb(hist, ranks)
    index = count_index_nb(slot, lo, start)
    return RankPlan(target, within, slot, start, lo, index, bool((lo < 0).any()))


def count_parts(parts, plan: RankPlan) -> np.ndarray:
    """The count pass of :func:`ranked_values` over ``parts`` (an iterable: two threads may share
    one iterator of the parts, each counting into a buffer of its own; :func:`read_ranked` takes
    their sum)."""
    buf = np.zeros(plan.start[-1] + SPARE, np.int64)
    for part in parts:
        count_ranked_nb(np.asarray(part, np.int64), plan.index, buf)
    return buf


def read_ranked(parts, plan: RankPlan, buf: np.ndarray, hist: np.ndarray) -> np.ndarray:
    """The ranked values from the counts of every part (:func:`count_parts`): the values of wide
    target buckets gathered from the parts, every target bucket checked against the histogram."""
    slot, start, lo = plan.slot, plan.start, plan.lo
    got = np.zeros(lo.shape[0], np.int64)
    if plan.wide:
        for part in parts:
            if not gather_ranked_nb(np.asarray(part, np.int64), slot, lo, buf, start, got):
                raise RuntimeError(_REFUSED)
    if not _counted(hist, slot, lo, buf, start, got):
        raise RuntimeError(_REFUSED)
    return pick_ranked_nb(buf, start, lo, slot, plan.target, plan.within)


def ranked_values(parts, ranks: np.ndarray, hist: np.ndarray) -> np.ndarray:
    """:func:`exact_percentiles` over the concatenation of the int64 arrays ``parts``, given
    their histogram ``hist`` (the replay kernel's): one pass over the parts (two if a target bucket
    is wide), no concatenation."""
    plan = rank_plan(parts, ranks, hist)
    return read_ranked(parts, plan, count_parts(parts, plan), hist)
