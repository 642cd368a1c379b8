"""Billing models on tiny traces whose every bill is worked out by hand below.

The price table here uses round numbers so the arithmetic stays visible: a request costs $1e-6, a
GB-second $0.001 (and the function has 1,024 MB = 1 GB), a VM second $0.001 ($3.6 an hour).
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from replay_helpers import table

import snfkit
from snfkit.billing import compare, load_prices
from snfkit.errors import ParameterError

MS = 1_000_000
REQUEST = 1e-6  # USD per request
GB_S = 0.001  # USD per GB-second; the function has 1 GB, so also USD per second
VM_S = 0.001  # USD per VM second
NAT_GB = 0.5  # USD per GB through the NAT gateway

PRICES = pl.DataFrame(
    [
        ("fn.request", "1", "USD/M requests"),
        ("fn.duration", "0.001", "USD/GB-s"),
        ("fn.granularity", "1", "ms"),
        ("fn100.request", "1", "USD/M requests"),
        ("fn100.duration", "0.001", "USD/GB-s"),
        ("fn100.granularity", "100", "ms"),
        ("vm.hour", "3.6", "USD/hour"),
        ("vm.granularity", "1", "s"),
        ("vm.minimum", "60", "s"),
        ("aws_nat_gateway.hour", "36", "USD/hour"),
        ("aws_nat_gateway.data", "0.5", "USD/GB"),
        ("aws_network_firewall.hour", "72", "USD/hour"),
        ("aws_network_firewall.data", "1", "USD/GB"),
        ("aws_gwlb.hour", "3.6", "USD/hour"),
        ("aws_gwlb.capacity_unit", "36", "USD/GLCU-hour"),
        ("aws_gwlb.capacity_unit_gb", "1", "GB/hour"),
        ("aws_gwlb.capacity_unit_connections", "600", "connections/s"),
    ],
    schema=["item", "price", "unit"],
    orient="row",
).with_columns(source=pl.lit("test"), date=pl.lit("2026-12-07"))
OPTS = {"platform": "fn", "memory_mb": 1024, "instance": "vm"}


def bills(runs, models=None, **changes) -> dict[tuple[str, str], dict]:
    t = compare(runs, models, PRICES, **{**OPTS, **changes})
    return {(r["run"], r["model"]): r for r in t.iter_rows(named=True)}


def one(results, model, **changes) -> dict:
    return bills({"r": results}, model, **changes)[("r", model)]


def test_test_prices_load():
    p = load_prices(PRICES)
    assert p.value("fn.request") == pytest.approx(REQUEST)
    assert p.value("vm.hour") == pytest.approx(VM_S)
    assert p.value("fn.granularity") == pytest.approx(1e-3)


# -- per_packet: a packet at exactly 1 ms, and at 1 ms + 1 ns ------------------------------------

RTT = 160_000  # the store read a packet-mode function waits on


def packet_run(service_ns: int, **params):
    """One packet in packet mode: busy = service + the store read (state wait). A unit starts at
    once, so the read is not hidden in a start-up wait."""
    return snfkit.replay(
        table([0], [0], [100]),
        mode="packet",
        per_packet_ns=service_ns,
        per_byte_ps=0,
        store_rtt_ns=RTT,
        unit_startup_ns=0,
        **params,
    )


@pytest.mark.parametrize(("extra_ns", "granules"), [(0, 1), (1, 2)])
def test_per_packet_rounds_busy_time_up_to_the_millisecond(extra_ns, granules):
    res = packet_run(MS - RTT + extra_ns)
    row = res.packets.row(0, named=True)
    assert row["service_ns"] + row["state_wait_ns"] == MS + extra_ns
    b = one(res, "per_packet")
    billed_s = granules * 1e-3
    assert b["billed_s"] == pytest.approx(billed_s)
    assert b["requests_usd"] == pytest.approx(1 * REQUEST)
    assert b["duration_usd"] == pytest.approx(billed_s * 1 * GB_S)
    assert b["user_usd"] == pytest.approx(REQUEST + billed_s * GB_S)
    assert b["invocations"] == 1


def test_per_packet_at_100_ms_rounding_bills_one_granule_either_way():
    for extra in (0, 1):
        b = one(packet_run(MS - RTT + extra), "per_packet", platform="fn100")
        assert b["billed_s"] == pytest.approx(0.1)
        assert b["user_usd"] == pytest.approx(REQUEST + 0.1 * GB_S)


@pytest.mark.parametrize("platform", ["fn", "fn100"])
def test_per_packet_without_rows_uses_one_granule_when_that_is_exact(platform):
    # Latency = the read + service = 1 ms: within one granule, so each packet bills one.
    res = packet_run(MS - RTT, keep_packets=False)
    assert res.packets is None and res.summary["latency_max_us"] == 1_000
    b = one(res, "per_packet", platform=platform)
    assert b == one(packet_run(MS - RTT), "per_packet", platform=platform)


def test_per_packet_without_rows_refuses_when_a_packet_may_round_to_two_granules():
    res = packet_run(MS - RTT + 1, keep_packets=False)  # latency 1 ms + 1 ns
    with pytest.raises(ParameterError, match=r"keep_packets.*largest latency"):
        one(res, "per_packet")
    assert one(res, "per_packet", platform="fn100")["billed_s"] == pytest.approx(0.1)


# -- per_flow against per_flowlet: a flow with a long idle gap ------------------------------------

GAP = 50 * MS  # idle gap: more than T (0.5 ms), less than the flow timeout (100 ms)


@pytest.fixture(scope="module")
def gap_runs():
    # Units start at once, so no packet finishes after its flowlet's close wait.
    trace = table([0, GAP], [0, 0], [100, 100])
    return {m: snfkit.replay(trace, mode=m, unit_startup_ns=0) for m in ("flowlet", "flow")}


def test_per_flow_bills_the_idle_gap_and_the_close_wait(gap_runs):
    res = gap_runs["flow"]
    timeout = res.params["flow_timeout_ns"]
    duration_ns = GAP + timeout  # first packet -> last packet + flow timeout
    b = one(res, "per_flow")
    assert b["invocations"] == 1
    assert b["billed_s"] == pytest.approx(math.ceil(duration_ns / MS) * 1e-3)
    assert b["user_usd"] == pytest.approx(REQUEST + (GAP + timeout) / 1e9 * GB_S)


def test_per_flowlet_bills_two_short_invocations(gap_runs):
    t = gap_runs["flowlet"].params["timeout_ns"]
    assert gap_runs["flowlet"].flowlets.height == 2
    each_s = math.ceil(t / MS) * 1e-3  # open -> last + T = 0.5 ms, rounded up to 1 ms
    for res in gap_runs.values():  # flow mode finds the flowlets from its packets
        b = one(res, "per_flowlet")
        assert b["invocations"] == 2
        assert b["billed_s"] == pytest.approx(2 * each_s)
        assert b["user_usd"] == pytest.approx(2 * REQUEST + 2 * each_s * GB_S)
    per_flow = one(gap_runs["flow"], "per_flow")["user_usd"]
    assert one(gap_runs["flowlet"], "per_flowlet")["user_usd"] < per_flow


def test_per_flowlet_of_a_flow_mode_run_needs_its_packets():
    res = snfkit.replay(table([0, GAP], [0, 0], [100, 100]), mode="flow", keep_packets=False)
    with pytest.raises(ParameterError, match="keep_packets"):
        one(res, "per_flowlet")


def test_a_size_split_flowlet_closes_when_the_next_one_opens():
    # B = 150 bytes: the second packet (100 B) overflows the first flowlet, which closes at its
    # arrival (10 us), not T after its last packet.
    res = snfkit.replay(
        table([0, 10_000], [0, 0], [100, 100]), mode="flowlet", size_bytes=150, unit_startup_ns=0
    )
    assert res.flowlets["reason"].cast(pl.String).to_list() == ["new_flow", "size"]
    b = one(res, "per_flowlet", granularity_ms=0.001)  # 1 us rounding
    t = res.params["timeout_ns"]
    first, second = 10_000, t  # 0 -> 10 us (the split); 10 us -> 10 us + T
    assert b["billed_s"] == pytest.approx((first + second) / 1e9)


# -- snf: busy time and bytes, plus a charge per allocation ---------------------------------------


def test_snf_bills_busy_time_bytes_and_allocations(gap_runs):
    res = gap_runs["flowlet"]
    service_ns = res.params["per_packet_ns"] + 100 * res.params["per_byte_ps"] // 1000
    busy_s = 2 * service_ns / 1e9
    allocations = 2  # two flowlets
    b = one(res, "snf")
    assert b["duration_usd"] == pytest.approx(busy_s * GB_S)
    assert b["per_flowlet_usd"] == pytest.approx(allocations * REQUEST)
    assert b["per_gb_usd"] == 0
    by_bytes = one(res, "snf", snf_busy_share=0.0, snf_allocation_usd=0.01)
    gb = 200 / 1e9
    per_gb = GB_S / (res.params["unit_capacity_bps"] / 8e9)  # a unit busy at capacity
    assert by_bytes["per_gb_usd"] == pytest.approx(gb * per_gb)
    assert by_bytes["duration_usd"] == 0
    assert by_bytes["per_flowlet_usd"] == pytest.approx(allocations * 0.01)


# -- VMs: the 60 s minimum, per-second rounding, peak and autoscaled fleets -----------------------


def vm_run(last_ns: int, **params):
    return snfkit.replay(table([0, last_ns], [0, 1], [100, 100]), mode="flowlet", **params)


def test_a_vm_run_shorter_than_a_minute_pays_the_minute():
    res = vm_run(2_000 * MS)  # 2 s
    b = one(res, "vm")
    assert b["invocations"] == 1
    assert b["billed_s"] == 60
    assert b["user_usd"] == pytest.approx(60 * VM_S)
    assert b["provider_usd"] == pytest.approx(2.0 * VM_S)  # exact lifetime x the unit's cost
    assert b["margin_usd"] == pytest.approx(58 * VM_S)


def test_a_vm_run_longer_than_a_minute_rounds_up_to_the_second():
    res = vm_run(61_500 * MS, epoch_ns=1_000 * MS)  # 61.5 s
    for model in ("vm", "vm_autoscaled"):
        b = one(res, model)
        assert b["billed_s"] == 62
        assert b["user_usd"] == pytest.approx(62 * VM_S)
    half = one(res, "vm", unit_cost_share=0.5)
    assert half["provider_usd"] == pytest.approx(61.5 * VM_S * 0.5)


def test_the_peak_fleet_and_the_autoscaled_fleet():
    # Capacity 1 Mbps; epoch 0 (100 ms) carries 15,000 B = 1.2 Mbps -> 2 instances; the rest 1.
    cap, epoch = 1e6, 100 * MS
    ts = [0, 1, 2, *(k * epoch + 5 * MS for k in range(1, 10))]
    packets = table(ts, [0, 1, 2, *range(3, 12)], [5_000] * 3 + [100] * 9)
    res = snfkit.replay(packets, mode="flowlet", unit_capacity_bps=cap, epoch_ns=epoch)
    duration_s = ts[-1] / 1e9
    peak = one(res, "vm")
    assert peak["invocations"] == 2
    assert peak["billed_s"] == 2 * 60
    held = one(res, "vm_autoscaled")  # kept for the 60 s minimum: the same as the peak here
    assert held["billed_s"] == 2 * 60
    assert held["provider_usd"] == pytest.approx(2 * duration_s * VM_S)
    tight = one(res, "vm_autoscaled", vm_hold_s=0)  # the second instance lives 100 ms
    assert tight["invocations"] == 2
    assert tight["billed_s"] == 60 + 60
    assert tight["provider_usd"] == pytest.approx((duration_s + 0.1) * VM_S)


# -- managed network functions ---------------------------------------------------------------------


def test_managed_services_bill_hours_and_bytes(gap_runs):
    res = gap_runs["flowlet"]
    hours, gb = GAP / 1e9 / 3600, 200 / 1e9
    nat = one(res, "managed_nat_gateway")
    assert nat["hourly_usd"] == pytest.approx(36 * hours)
    assert nat["per_gb_usd"] == pytest.approx(NAT_GB * gb)
    nfw = one(res, "managed_network_firewall")
    assert nfw["user_usd"] == pytest.approx(72 * hours + 1 * gb)
    gwlb = one(res, "managed_gwlb")
    vm_fleet = one(res, "vm_autoscaled")
    # GLCU-hours: the larger of GB / (1 GB per hour) and 1 new flow / (600 per second) / 3600.
    glcu_hours = max(gb / 1, 1 / 600 / 3600)
    assert gwlb["per_gb_usd"] == pytest.approx(36 * glcu_hours)
    assert gwlb["hourly_usd"] == pytest.approx(3.6 * hours + vm_fleet["hourly_usd"])


# -- comparison table, extrapolation, errors -------------------------------------------------------


def test_extrapolation_to_a_month(gap_runs):
    res = gap_runs["flow"]
    month_s = 730 * 3600
    scale = month_s / (GAP / 1e9)
    b = one(res, "per_flow", scale_to="month")
    assert b["scale"] == pytest.approx(scale)
    assert b["user_usd"] == pytest.approx(one(res, "per_flow")["user_usd"] * scale)
    vm = one(res, "vm", scale_to="month")  # one instance all month: no per-start minimum
    assert vm["user_usd"] == pytest.approx(month_s * VM_S)
    with pytest.raises(ParameterError, match="scale_to"):
        one(res, "vm", scale_to="fortnight")
    with pytest.raises(ParameterError, match="0 s"):
        one(snfkit.replay(table([0], [0], [100])), "vm", scale_to=3600)


def test_compare_rows_columns_and_margin(gap_runs):
    t = compare(gap_runs, ["snf", "vm", "managed"], PRICES, **OPTS)
    assert t.height == 2 * 5
    assert t["model"].unique(maintain_order=True).to_list() == [
        "snf",
        "vm",
        "managed_nat_gateway",
        "managed_network_firewall",
        "managed_gwlb",
    ]
    parts = ["requests_usd", "duration_usd", "per_flowlet_usd", "hourly_usd", "per_gb_usd"]
    total = t.select(pl.sum_horizontal(parts))[:, 0]
    assert (total - t["user_usd"]).abs().max() < 1e-15
    assert ((t["user_usd"] - t["provider_usd"]) - t["margin_usd"]).abs().max() < 1e-15
    assert (t["usd_per_gb"] - t["user_usd"] / t["gb"]).abs().max() < 1e-12
    with pytest.raises(ParameterError, match="models"):
        compare(gap_runs, ["nope"], PRICES, **OPTS)
    with pytest.raises(ParameterError, match="bogus"):
        compare(gap_runs, ["snf"], PRICES, bogus=1)


def test_a_price_table_without_a_models_rows_names_the_missing_row(gap_runs):
    no_vm = PRICES.filter(~pl.col("item").str.starts_with("vm."))
    with pytest.raises(ParameterError, match=r"'vm\.hour'.*the instance 'vm'"):
        compare(gap_runs, ["vm"], no_vm, **OPTS)
