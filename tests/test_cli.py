"""The snfkit command: help texts, info, ingest round trip, demo, replay, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from conftest import shared_trace
from test_summary import hand_table
from typer.testing import CliRunner

import snfkit
from snfkit.cli import MODE_TABLE_KEYS, app, parse_param, replay_options
from snfkit.errors import ParameterError, SkippedPacketsWarning

COMMANDS = ("ingest", "info", "demo", "replay")


def run(*args: str):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr into output by default
    except TypeError:
        runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def hand_parquet(tmp_path) -> Path:
    path = tmp_path / "hand.parquet"
    hand_table().write_parquet(path)
    return path


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("snfkit: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_app_help_lists_commands():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(cmd):
    r = run(cmd, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.stdout
    doc = app.registered_commands[COMMANDS.index(cmd)].callback.__doc__
    assert doc.split()[0] in r.stdout  # the command's own help text is shown


def test_no_args_shows_help():
    r = run()
    assert "Usage" in r.output


def test_version():
    r = run("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"snfkit {snfkit.__version__}"


def test_info_json_counts(hand_parquet):
    r = run("info", hand_parquet, "--json", "--size-bytes", "3000")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["packets"], d["flows"], d["bytes"]) == (8, 3, 4564)
    assert [fl["flowlets"] for fl in d["flowlets"]] == [6, 5]
    assert [fl["timeout_ns"] for fl in d["flowlets"]] == [100_000, 500_000]


def test_info_timeouts_and_size_options(hand_parquet):
    r = run(
        "info", hand_parquet, "--json", "--timeout-us", 1000, "--timeout-us", 1, "--size-bytes", 0
    )
    d = json.loads(r.stdout)
    assert [(fl["timeout_ns"], fl["size_bytes"]) for fl in d["flowlets"]] == [
        (1_000_000, 0),
        (1_000, 0),
    ]
    assert [fl["flowlets"] for fl in d["flowlets"]] == [3, 8]


def test_info_table(hand_parquet):
    r = run("info", hand_parquet, "--size-bytes", 3000)
    assert r.exit_code == 0, r.output
    rows = {
        cells[0]: cells[1]
        for line in r.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert rows["packets"] == "8"
    assert rows["flows"] == "3"
    assert rows["bytes"] == "4,564"
    assert rows["flowlets@100us.flowlets"] == "6"
    assert rows["flowlets@500us.flowlets"] == "5"
    assert rows["protocols.tcp"] == "1"


@pytest.mark.parametrize("cmd", ["info", "ingest", "demo", "replay"])
def test_missing_file_is_one_line_exit_2(tmp_path, cmd):
    missing = tmp_path / "nope.pcap"
    args = {
        "info": ["info", missing],
        "ingest": ["ingest", missing, "-o", tmp_path / "x.parquet"],
        "demo": ["demo", "--trace", missing, "--out", tmp_path / "d"],
        "replay": ["replay", missing, "--mode", "flowlet"],
    }[cmd]
    assert_one_line_error(run(*args), "nope.pcap")


def test_malformed_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "junk.pcap"
    bad.write_bytes(b"this is not a capture\nsecond line\n")
    assert_one_line_error(run("info", bad), "junk.pcap", "expected")
    assert_one_line_error(run("ingest", bad, "-o", tmp_path / "x.parquet"), "junk.pcap")
    assert not (tmp_path / "x.parquet").exists()


def test_bad_parameter_is_one_line_exit_2(hand_parquet):
    assert_one_line_error(run("replay", hand_parquet, "--param", "no_equals_sign"), "--param")


def test_usage_error_exits_2(hand_parquet):
    # Option checks that the CLI itself does (typer's usage errors): exit 2, no traceback.
    r = run("info", hand_parquet, "--timeout-us", "-5")
    assert r.exit_code == 2
    assert "--timeout-us" in r.stderr and "Traceback" not in r.output


def _write_pcap(path: Path) -> None:
    """Ethernet pcap: 2 TCP packets of one flow, 1 UDP, 1 IPv6 UDP, 1 ARP frame (non-IP)."""
    dpkt = pytest.importorskip("dpkt")

    def eth(ip, etype=dpkt.ethernet.ETH_TYPE_IP):
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=etype, data=ip))

    def v4(p, data, proto):
        ip = dpkt.ip.IP(src=bytes([10, 0, 0, 1]), dst=bytes([10, 0, 0, 2]), p=proto, data=data)
        ip.len = len(bytes(ip))
        return ip

    tcp = dpkt.tcp.TCP(sport=1234, dport=80, data=b"x" * 100)
    udp = dpkt.udp.UDP(sport=53, dport=5353, data=b"y" * 20)
    udp.ulen = len(bytes(udp))
    ip6 = dpkt.ip6.IP6(
        src=bytes(15) + b"\x01",
        dst=bytes(15) + b"\x02",
        nxt=17,
        hlim=64,
        data=udp,
        plen=len(bytes(udp)),
    )
    arp = bytes(dpkt.arp.ARP())
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=dpkt.pcap.DLT_EN10MB)
        w.writepkt(eth(v4(None, tcp, 6)), ts=1.0)
        w.writepkt(eth(v4(None, tcp, 6)), ts=1.0002)
        w.writepkt(eth(arp, dpkt.ethernet.ETH_TYPE_ARP), ts=1.0003)
        w.writepkt(eth(v4(None, udp, 17)), ts=1.0004)
        w.writepkt(eth(ip6, dpkt.ethernet.ETH_TYPE_IP6), ts=1.001)


def test_ingest_round_trip(tmp_path):
    pcap = tmp_path / "small.pcap"
    _write_pcap(pcap)
    out = tmp_path / "sub" / "small.parquet"
    r = run("ingest", pcap, "-o", out, "--payload-bytes", 8)
    assert r.exit_code == 0, r.output
    assert "4 packets, 3 flows" in r.stdout
    assert "non_ip: 1" in r.stderr  # ARP is skipped and counted, in strict mode too
    written = pl.read_parquet(out)
    with pytest.warns(SkippedPacketsWarning, match="non_ip: 1"):
        assert written.equals(snfkit.load_trace(pcap, payload_bytes=8))
    assert written["payload"][0] == b"x" * 8
    assert written["wire_len"].to_list() == [140, 140, 48, 68]
    d = json.loads(run("info", out, "--json").stdout)
    assert (d["packets"], d["flows"]) == (4, 3)
    assert d["protocols"] == {"udp": 2, "tcp": 1}
    assert [p.name for p in out.parent.iterdir()] == ["small.parquet"]  # no partial file left
    csv = tmp_path / "small.csv.gz"
    assert run("ingest", pcap, "-o", csv).exit_code == 0
    d_csv = json.loads(run("info", csv, "--json").stdout)
    assert d_csv == {**d, "flowlets": d_csv["flowlets"]} and d_csv["flowlets"] == d["flowlets"]
    assert_one_line_error(run("ingest", pcap, "-o", tmp_path / "x.txt"), "format")


@pytest.mark.shared
def test_ingest_shared_trace(tmp_path):
    out = tmp_path / "caida.parquet"
    r = run("ingest", shared_trace("caida-nyc-2018-10k.pcap"), "-o", out)
    assert r.exit_code == 0, r.output
    assert "10,000 packets" in r.stdout
    assert pl.read_parquet(out).height == 10_000


def test_parse_param():
    assert parse_param("alpha=0.25") == ("alpha", 0.25)
    assert parse_param("k=3") == ("k", 3)
    assert parse_param("timeout_ns=500_000") == ("timeout_ns", 500_000)
    assert parse_param("unit-idle-ns=-1") == ("unit_idle_ns", -1)
    assert parse_param("rate=1e9") == ("rate", 1e9)
    assert parse_param("replication_policy=first_k") == ("replication_policy", "first_k")
    assert parse_param("paper_estimator=True") == ("paper_estimator", True)
    assert parse_param("name=a=b") == ("name", "a=b")
    for bad in ("alpha", "=3", "2x=1"):
        with pytest.raises(ParameterError):
            parse_param(bad)


def _check_demo_outputs(out: Path, r) -> dict:
    assert r.exit_code == 0, r.output
    for name in ("summary.json", "trace_summary.csv", "trace_summary.parquet"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "summary.json").read_text())
    table = pl.read_csv(out / "trace_summary.csv")
    assert table.columns == ["metric", "value"]
    assert dict(table.iter_rows())["packets"] == doc["packets"]
    assert pl.read_parquet(out / "trace_summary.parquet").equals(table)
    modes = pl.read_csv(out / "modes.csv")
    assert modes["mode"].to_list() == ["flowlet", "flow", "smart_flow", "packet"]
    percentiles = [f"{q}_us" for q in doc["modes"]["flowlet"]["latency_us"]]
    assert modes.columns == ["mode", *MODE_TABLE_KEYS[:2], *percentiles, *MODE_TABLE_KEYS[3:]]
    assert modes["packets_in"].to_list() == [doc["packets"]] * 4
    assert modes["packets_processed"].to_list() == [doc["packets"]] * 4
    want_p99 = [doc["modes"][m]["latency_us"]["p99"] for m in modes["mode"]]
    assert modes["p99_us"].to_list() == pytest.approx(want_p99, rel=1e-12)
    for name in ("latency_percentiles.csv", "latency_percentiles.html", "provisioning.html"):
        assert (out / name).stat().st_size > 0, name
    for name in ("provisioning.html", "figures/fig1_provisioning.html"):
        assert "maybeLoadScript" not in (out / name).read_text(), f"{name} loads Vega from a CDN"
    for mode in modes["mode"]:
        assert pl.read_csv(out / f"epochs_{mode}.csv").height >= 1
    return doc


def test_demo_on_given_trace(tmp_path, hand_parquet):
    out = tmp_path / "demo"
    r = run("demo", "--trace", hand_parquet, "--out", out)
    doc = _check_demo_outputs(out, r)
    assert doc["packets"] == 8
    assert doc["trace"] == str(hand_parquet)


def test_demo_synthetic(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--out", out, "--seed", 3, "--max-packets", 3000)
    doc = _check_demo_outputs(out, r)
    assert 0 < doc["packets"] <= 3000
    assert doc["trace"] == "small_demo(seed=3)"


def test_replay_command(tmp_path, hand_parquet):
    out = tmp_path / "run"
    r = run(
        "replay", hand_parquet, "--mode", "flow", "-p", "unit_capacity_bps=5e8", "-o", out, "--json"
    )
    assert r.exit_code == 0, r.output
    want = snfkit.replay(hand_table(), mode="flow", unit_capacity_bps=5e8)
    assert json.loads(r.stdout) == json.loads(json.dumps(want.summary))
    saved = snfkit.Results.load(out)
    assert saved.params["unit_capacity_bps"] == 5e8
    assert saved.flowlets.equals(want.flowlets) and saved.units.equals(want.units)


def test_replay_table_rounds_numbers(hand_parquet):
    import re

    r = run("replay", hand_parquet, "--mode", "flow")
    assert r.exit_code == 0, r.output
    want = snfkit.replay(hand_table(), mode="flow").summary["latency_mean_us"]
    assert not float(want).is_integer()  # so the row below shows the rounding
    from snfkit.display import format_number

    assert re.search(rf"latency_mean_us\s*│\s*{re.escape(format_number(want))}\s*│", r.stdout)
    # no number in the table carries more than four significant digits after a point
    assert not re.search(r"\d\.\d{5,}", r.stdout)


def test_demo_without_the_export_extra(tmp_path, hand_parquet, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "vl_convert", None)
    out = tmp_path / "demo"
    r = run("demo", "--trace", hand_parquet, "--out", out)
    assert r.exit_code == 0, r.output
    assert "charts and figures skipped" in r.stderr and "snfkit[export]" in r.stderr
    assert (out / "modes.csv").exists() and (out / "summary.json").exists()
    assert not (out / "latency_percentiles.html").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["info"], ["info: ", "Missing argument"]),
        (["ingest", "x.pcap"], ["ingest: ", "--out"]),
        (["sweep", "x.toml", "--workers", "0"], ["sweep: ", "--workers"]),
        (["info", "x.pcap", "--bogus"], ["info: ", "--bogus"]),
        (["replay", "x.pcap", "--json", "yes"], ["replay: "]),
        (["inf", "x.pcap"], ["inf"]),
    ],
)
def test_parser_errors_are_one_line_exit_2(args, needles):
    # README: errors print one line 'snfkit: error: ...' and exit with status 2, parser errors too.
    r = run(*args)
    assert_one_line_error(r, *needles, "--help")
    assert "─" not in r.stderr and "╭" not in r.stderr  # no rich panel


@pytest.mark.parametrize(
    ("option", "value"), [("--size-bytes", "-1"), ("--timeout-us", "0"), ("--timeout-us", "-3")]
)
def test_info_refuses_what_replay_refuses(hand_parquet, option, value):
    assert_one_line_error(run("info", hand_parquet, option, value), "info: ", option)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mode", "flowlets"], "mode='flowlets'"),
        (["--param", "state_mode=proactiv"], "state_mode='proactiv'"),
        (["--param", "replication_policy=wieghted"], "replication_policy='wieghted'"),
        (["--param", "nf=natt"], "nf='natt'"),
        (["--param", "alpha=2"], "alpha=2"),
        (["--param", "tiemout_ns=5"], "tiemout_ns=5"),
        (["--param", "chunk_size=0"], "chunk_size=0"),
        (["--mode", "flow", "--param", "mode=packet"], "mode='packet'"),
    ],
)
def test_replay_checks_choices_before_reading(tmp_path, args, needle):
    # A malformed trace: had the trace been read first, the error would name it instead.
    bad = tmp_path / "junk.pcap"
    bad.write_bytes(b"not a capture at all\n")
    r = run("replay", bad, *args)
    assert_one_line_error(r, needle)
    assert "junk.pcap" not in r.stderr


def test_replay_options_split_replay_keywords():
    got = replay_options("packet", [("nf", "nat"), ("alpha", 0.5), ("keep_state_sources", True)])
    assert got == {"mode": "packet", "alpha": 0.5, "nf": "nat", "keep_state_sources": True}


def _option_blocks(help_text: str) -> dict[str, str]:
    """Rich help -> {'--name': the option's text, wrapped lines joined}."""
    blocks: dict[str, str] = {}
    name = None
    for line in help_text.splitlines():
        body = line.strip().strip("│").strip()
        words = body.lstrip("* ").split()
        if words and words[0].startswith("--"):
            name = words[0]
            blocks[name] = body
        elif name is not None and body and not body.startswith("╰"):
            blocks[name] += " " + body
        elif body.startswith("╰"):
            name = None
    return blocks


@pytest.mark.parametrize("cmd", sorted(typer.main.get_command(app).commands))
def test_every_option_shows_its_default(cmd):
    command = typer.main.get_command(app).commands[cmd]
    r = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert r.exit_code == 0, r.output
    blocks = _option_blocks(r.stdout)
    for p in command.params:
        if p.param_type_name != "option" or p.name == "help":
            continue
        if p.is_flag and not p.secondary_opts:  # --json, --small: off unless given
            continue
        text = blocks[p.opts[0]]
        assert "[required]" in text or "[default: " in text, f"{cmd} {p.opts[0]}: {text}"
        assert " ".join(p.help.split()) in " ".join(text.split()), f"{cmd}: help text lost"


def test_replay_with_failures(tmp_path, hand_parquet):
    out = tmp_path / "run"
    span = int(hand_table()["ts_ns"].max() - hand_table()["ts_ns"].min())
    at = f"{span // 2}ns"
    r = run(
        "replay",
        hand_parquet,
        "--fail",
        f"unit@{at}",
        "--fail",
        f"controller@{at}",
        "-p",
        "recovery=chc",
        "-o",
        out,
        "--json",
    )
    assert r.exit_code == 0, r.output
    saved = snfkit.Results.load(out)
    want = snfkit.replay(
        hand_table(),
        recovery="chc",
        failures=[snfkit.Failure(span // 2, "unit"), snfkit.Failure(span // 2, "controller")],
    )
    assert saved.failures.equals(want.failures)
    assert json.loads(r.stdout)["failures"] == 2


def test_a_bad_failure_spec_is_refused_before_reading(tmp_path):
    bad = tmp_path / "junk.pcap"
    bad.write_bytes(b"not a capture\n")
    assert_one_line_error(run("replay", bad, "--fail", "unit@soon"), "--fail", "unit@soon")
