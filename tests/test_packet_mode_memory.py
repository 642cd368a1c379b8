"""Packet mode's memory grows with the trace even without per-packet rows: said in the docs."""

from __future__ import annotations

from pathlib import Path

import snfkit
from snfkit.workloads import presets

REPO = Path(__file__).resolve().parent.parent


def test_packet_mode_keeps_one_item_per_packet_without_rows():
    packets = presets.paper_like(0, 0.001)
    flowlet = snfkit.replay(packets, mode="flowlet", keep_packets=False)
    packet = snfkit.replay(packets, mode="packet", keep_packets=False)
    assert packet.flowlets.height == packets.height  # grows with the trace
    assert flowlet.flowlets.height < packets.height / 2


def test_docs_warn_that_packet_mode_memory_grows():
    model = " ".join((REPO / "docs" / "model.md").read_text().split())
    assert "In `packet` mode every packet is an item" in model
    assert "6.94 GB with `keep_packets=False`" in model
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `packet` |"))
    assert "memory grows with the trace even with `keep_packets=False`" in row
