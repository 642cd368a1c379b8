"""Reader anomalies that used to pass silently (issue 15, item 10).

A truncated zstd stream, a pcapng timestamp beyond int64 ns, a CSV with a byte-order mark or
without a time column, and records whose captured length exceeds the snap length or the original
length: each is now an error, a skip or a note by reason, never a silent prefix or a wrapped
value; the kernel and its plain-Python twin agree on every case.
"""

from __future__ import annotations

import gzip
import lzma

import pytest
import zstandard
from captures import Pkt, Rec, ip_packet, link_frame, pcap_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snfkit.errors import TraceFormatError
from snfkit.traces import read_trace

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FRAME = link_frame(ip_packet(Pkt(4, payload=b"0123456789" * 20)), 1)
PCAP = pcap_bytes([Rec(1000 * i, FRAME) for i in range(40)], 1)

COMPRESS = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "xz": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
}


# ---- compressed streams ------------------------------------------------------------------------


@PROPS
@given(kind=st.sampled_from(sorted(COMPRESS)), keep=st.floats(0.0, 0.999), strict=st.booleans())
def test_truncated_compressed_stream_is_an_error(tmp_path_factory, kind, keep, strict):
    whole = COMPRESS[kind](PCAP)
    cut = max(6, int(len(whole) * keep))  # past every magic number: sniffed as compressed
    path = tmp_path_factory.mktemp("cut") / "t.pcap.x"
    path.write_bytes(whole[:cut])
    with pytest.raises(TraceFormatError) as info:
        read_trace(path, strict=strict)
    assert str(path) in str(info.value)
    assert f"a complete {kind} stream" in str(info.value)


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_whole_compressed_stream_reads(tmp_path, kind):
    path = tmp_path / "t.pcap.x"
    path.write_bytes(COMPRESS[kind](PCAP))
    assert read_trace(path).packets.height == 40


def test_zstd_frames_are_all_read(tmp_path):
    # zstd (like gzip) may hold several frames back to back: 'zstd a b -c', pzstd, appends.
    half = 24 + 20 * (16 + len(FRAME))
    path = tmp_path / "two.pcap.zst"
    z = zstandard.ZstdCompressor()
    path.write_bytes(z.compress(PCAP[:half]) + z.compress(PCAP[half:]))
    res = read_trace(path)
    assert res.packets.height == 40
    assert res.compression == "zstd"


def test_zstd_garbage_after_a_frame_is_an_error(tmp_path):
    path = tmp_path / "junk.pcap.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(PCAP) + b"not zstd")
    with pytest.raises(TraceFormatError, match="a complete zstd stream"):
        read_trace(path, strict=False)
