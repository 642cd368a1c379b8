"""A mergeable log-bucketed histogram of non-negative integer latencies (ns).

Values below 256 get exact buckets; above, each power of two is split into 128 sub-buckets, so a
percentile read back from the histogram is within 1/128 (< 0.8 %) of the true value. Used when a
replay keeps only aggregates (``keep_packets=False``), so memory does not grow with the trace.
"""

from __future__ import annotations

import numpy as np

SUB_BITS = 7
SUB = 1 << SUB_BITS
N_BUCKETS = 64 * SUB


def bucket_of(values: np.ndarray) -> np.ndarray:
    v = np.maximum(np.asarray(values, np.int64), 0).astype(np.uint64)
    exp = np.zeros(v.shape, np.int64)
    big = v >= 2 * SUB
    exp[big] = np.floor(np.log2(v[big].astype(np.float64))).astype(np.int64)
    # guard float rounding at exact powers of two
    over = big & ((np.uint64(1) << exp.astype(np.uint64)) > v)
    exp[over] -= 1
    shift = np.where(big, exp - SUB_BITS, 0).astype(np.uint64)
    mant = (v >> shift).astype(np.int64)  # in [SUB, 2 SUB) for big values
    return np.where(big, (exp - SUB_BITS + 1) * SUB + (mant - SUB), v.astype(np.int64))


def bucket_low(idx: np.ndarray) -> np.ndarray:
    """Smallest value of each bucket."""
    idx = np.asarray(idx, np.int64)
    small = idx < 2 * SUB
    exp = idx // SUB + SUB_BITS - 1
    mant = idx % SUB + SUB
    big_val = mant.astype(np.float64) * np.exp2(exp - SUB_BITS)
    return np.where(small, idx.astype(np.float64), big_val)


def add(hist: np.ndarray, values: np.ndarray) -> None:
    hist += np.bincount(bucket_of(values), minlength=N_BUCKETS)[:N_BUCKETS]


def percentiles(hist: np.ndarray, qs: list[float]) -> list[float]:
    """Percentiles (0-100) read as the lower edge of the bucket holding the rank (like 'lower')."""
    total = int(hist.sum())
    if total == 0:
        return [float("nan")] * len(qs)
    cum = np.cumsum(hist)
    out = []
    for q in qs:
        rank = min(total - 1, int(np.floor(q / 100.0 * (total - 1))))
        out.append(float(bucket_low(np.searchsorted(cum, rank + 1))))
    return out
