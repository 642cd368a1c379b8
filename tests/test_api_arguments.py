"""Careless arguments to the public Python API get a ParameterError naming them (issue 15, item 7).

Every public argument of :func:`snfkit.load_trace` / :func:`snfkit.read_trace` and of the
:mod:`snfkit.workloads` generators is tried with the wrong type (a string, a float for an integer,
a bool for a number, None), a negative, a non-finite and a huge value: each must raise
:class:`~snfkit.errors.ParameterError` naming the argument, never a TypeError, OverflowError,
numpy error or MemoryError, and never be accepted quietly.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from captures import Pkt, Rec, ip_packet, link_frame, pcap_bytes

import snfkit
from snfkit.errors import ParameterError, TraceFormatError
from snfkit.workloads import (
    BurstModel,
    FlowSizeCDF,
    inject_adversarial_flowlets,
    load_distribution,
    paper_like,
    small_demo,
    synthesize,
)

HUGE = 2**70
NAN, INF = math.nan, math.inf
BAD_COUNT = ["4", 1.5, True, None, -1, NAN, HUGE]  # an integer count with a sane bound
BAD_SIZE = ["4", 1.5, True, None, -1, NAN]  # an integer with no upper bound
BAD_NUMBER = ["1", True, None, NAN, INF, -1.0]  # a positive finite number
BAD_FRACTION = ["0.5", True, None, NAN, -0.1, 1.5]
BAD_BOOL = ["no", 1, 0, None, 2.0]
BAD_SEED = ["x", 1.5, True, None, -1, NAN]
BAD_PROGRESS = ["yes", 3, 1.5]


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("args") / "t.pcap"
    frame = link_frame(ip_packet(Pkt(payload=b"abcdef")), 1)
    path.write_bytes(pcap_bytes([Rec(1000, frame), Rec(5000, frame)], 1))
    return path


@pytest.fixture(scope="module")
def table():
    return small_demo(0).head(2000)


def _synth(**kw):
    args = {"distribution": "websearch", "load_gbps": 1.0, "seed": 0, "n_flows": 20, **kw}
    return synthesize(**args)


def _inject(table, **kw):
    return inject_adversarial_flowlets(table, **{"every_nth_flow": 10, "seed": 0, **kw})


CASES = [
    *[("load_trace", "payload_bytes", v) for v in BAD_SIZE],
    *[("load_trace", "strict", v) for v in BAD_BOOL],
    *[("load_trace", "progress", v) for v in BAD_PROGRESS],
    *[("read_trace", "payload_bytes", v) for v in BAD_SIZE],
    *[("read_capture", "chunk_records", v) for v in [*BAD_SIZE, 0]],
    *[("read_capture", "strict", v) for v in BAD_BOOL],
    *[("read_capture", "payload_bytes", v) for v in BAD_SIZE],
    *[("read_table_trace", "strict", v) for v in BAD_BOOL],
    *[("read_table_trace", "payload_bytes", v) for v in BAD_SIZE],
    *[("synthesize", "load_gbps", v) for v in [*BAD_NUMBER, 1e-300]],
    *[("synthesize", "seed", v) for v in BAD_SEED],
    *[("synthesize", "n_flows", v) for v in BAD_COUNT],
    *[("synthesize", "duration_s", v) for v in [*BAD_NUMBER, 1e30]],
    *[("synthesize", "mtu", v) for v in BAD_COUNT],
    *[("synthesize", "min_packet", v) for v in BAD_COUNT],
    *[("synthesize", "udp_fraction", v) for v in BAD_FRACTION],
    *[("synthesize", "ipv6_fraction", v) for v in BAD_FRACTION],
    *[("synthesize", "stratified", v) for v in BAD_BOOL],
    *[("synthesize", "wrap", v) for v in BAD_BOOL],
    *[("synthesize", "burst", v) for v in ["fast", 3, {"gap": 1}]],
    *[("synthesize", "distribution", v) for v in [3, None, 1.5]],
    *[("paper_like", "seed", v) for v in BAD_SEED],
    *[("paper_like", "scale", v) for v in [*BAD_NUMBER, 1e12]],
    *[("paper_like", "load_gbps", v) for v in BAD_NUMBER],
    *[("small_demo", "seed", v) for v in BAD_SEED],
    *[("BurstModel", "train_packets_mean", v) for v in BAD_NUMBER],
    *[("BurstModel", "train_gap_median_us", v) for v in [*BAD_NUMBER, 1e300]],
    *[("BurstModel", "train_gap_sigma", v) for v in [*BAD_NUMBER, 1e300]],
    *[("BurstModel", "flow_rate_gbps", v) for v in ["fast", 1.0, (1, 2, 3), (NAN, 1), ("1", 2)]],
    *[("BurstModel", "flow_rate_gbps", v) for v in [(1e-300, 1.0), (True, 2)]],
    *[("BurstModel", "gap_jitter", v) for v in BAD_FRACTION],
    *[("inject", "every_nth_flow", v) for v in BAD_SIZE],
    *[("inject", "burst_packets", v) for v in BAD_COUNT],
    *[("inject", "packet_bytes", v) for v in BAD_COUNT],
    *[("inject", "seed", v) for v in BAD_SEED],
    *[("inject", "count_jitter", v) for v in BAD_COUNT],
    *[("inject", "size_jitter", v) for v in BAD_FRACTION],
    *[("inject", "line_rate_gbps", v) for v in BAD_NUMBER],
    *[("inject", "mtu", v) for v in BAD_COUNT],
    *[("inject", "packets", v) for v in [None, "t.pcap", pl.DataFrame({"x": [1]})]],
    *[("lognormal", "median_bytes", v) for v in BAD_NUMBER],
    *[("lognormal", "sigma", v) for v in BAD_NUMBER],
    *[("lognormal", "tail", v) for v in BAD_FRACTION],
    *[("lognormal", "points", v) for v in [*BAD_COUNT, 1]],
    *[("sample", "n", v) for v in BAD_COUNT],
    *[("sample", "stratified", v) for v in BAD_BOOL],
    *[("sample", "rng", v) for v in [0, "x", None]],
    *[("load_distribution", "units", v) for v in ["percents", 3]],
    *[("load_distribution", "name", v) for v in [3, None, 1.5]],
]


def _call(where: str, name: str, value, trace, table):
    if where == "load_trace":
        return snfkit.load_trace(trace, **{name: value})
    if where == "read_trace":
        return snfkit.read_trace(trace, **{name: value})
    if where in ("read_capture", "read_table_trace"):
        # the readers behind read_trace, over already decompressed bytes (chunk_records=0 hung)
        from snfkit.traces.pcap import read_capture
        from snfkit.traces.sniff import open_trace_bytes
        from snfkit.traces.tabular import read_table_trace, write_packets

        if where == "read_capture":
            with open_trace_bytes(trace) as src:
                return read_capture(src, **{name: value})
        path = write_packets(snfkit.load_trace(trace), trace.with_suffix(".parquet"))
        with open_trace_bytes(path) as src:
            return read_table_trace(src, **{"strict": True, "payload_bytes": 0, name: value})
    if where == "synthesize":
        return _synth(**{name: value, **({"n_flows": None} if name == "duration_s" else {})})
    if where == "paper_like":
        return paper_like(**{"seed": 0, "scale": 0.0001, name: value})
    if where == "small_demo":
        return small_demo(**{name: value})
    if where == "BurstModel":
        return BurstModel(**{name: value})
    if where == "inject":
        if name == "packets":
            return inject_adversarial_flowlets(value, 10, seed=0)
        return _inject(table, **{name: value})
    if where == "lognormal":
        return FlowSizeCDF.lognormal(**{"median_bytes": 1e4, "sigma": 1.0, name: value})
    if where == "sample":
        cdf = load_distribution("websearch")
        args = {"n": 10, "rng": np.random.default_rng(0), name: value}
        return cdf.sample(args.pop("n"), args.pop("rng"), **args)
    if where == "load_distribution":
        return load_distribution(**{"name": "websearch", name: value})
    raise AssertionError(where)


@pytest.mark.parametrize(("where", "name", "value"), CASES, ids=lambda v: repr(v)[:20])
def test_bad_argument_is_a_parameter_error(where, name, value, trace, table):
    with pytest.raises(ParameterError) as info:
        _call(where, name, value, trace, table)
    named = info.value.name.split("/")  # 'duration_s/n_flows' when neither is given
    assert ("distribution" if name == "name" else name) in named


def test_the_checks_accept_numpy_scalars(trace, table):
    assert snfkit.load_trace(trace, payload_bytes=np.int64(4)).height == 2
    assert _synth(n_flows=np.int32(5), load_gbps=np.float64(1.0), seed=np.uint8(3)).height > 0
    assert _inject(table, every_nth_flow=np.int64(50), burst_packets=np.int16(8))[1] > 0


def test_huge_payload_bytes_keeps_whole_payloads(trace):
    # 'Keep up to N bytes' with N beyond any packet is 'keep everything', not an overflow.
    packets = snfkit.load_trace(trace, payload_bytes=HUGE)
    assert packets["payload"].to_list() == [b"abcdef", b"abcdef"]


@pytest.mark.parametrize("kind", ["dir", "fifo", "none", "int"])
def test_path_that_is_not_a_trace_file(tmp_path, kind):
    import os

    if kind == "dir":
        path = tmp_path
    elif kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif kind == "none":
        path = None
    else:
        path = 3
    err = ParameterError if kind in ("none", "int") else TraceFormatError
    with pytest.raises(err) as info:
        snfkit.load_trace(path)
    if err is TraceFormatError:
        assert str(path) in str(info.value) and "a regular file" in str(info.value)


@pytest.mark.parametrize("text", [3, None, b"10.0.0.1", "x.y", "10.0.0.256", ""])
def test_ip_to_bytes_names_what_it_was_given(text):
    from snfkit.traces import ip_to_bytes

    with pytest.raises(ParameterError, match="text") as err:
        ip_to_bytes(text)
    assert repr(text) in str(err.value) or str(text) in str(err.value)


@pytest.mark.parametrize("packets", ["x", None, {"ts_ns": [1]}])
def test_validate_packets_refuses_what_is_not_a_table(packets):
    from snfkit.traces.table import validate_packets

    with pytest.raises(ParameterError, match="a polars DataFrame"):
        validate_packets(packets)
