"""The five built-in NFs: hand-computed behaviour, kernel vs twin, configuration errors, a real trace."""

from __future__ import annotations

import warnings

import ahocorasick
import numpy as np
import pytest
from conftest import shared_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nf_helpers import assert_same, both, packets, traffic

import snfkit
from snfkit.errors import NoPayloadWarning, ParameterError
from snfkit.nf import NFS, apply, get_nf
from snfkit.nf.ids import Rule, build_config, parse_rules
from snfkit.reference.nf import connection_hash, packet_fields
from snfkit.traces.transforms import connections

CLIENT, SERVER, OTHER = 0x0A000001, 0x0A000064, 0x0A000065  # 10.0.0.1, 10.0.0.100, 10.0.0.101
V4 = 0x0000FFFF00000000  # the lo half of an IPv4-mapped address is V4 | ipv4


@pytest.mark.parametrize("name", sorted(NFS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=traffic())
def test_sequential_kernel_equals_twin(name, table):
    k, t = both(get_nf(name), table)
    assert_same(k, t)


def test_nat_both_directions():
    nat = get_nf("nat", public_ip="203.0.113.1", port_min=5000, port_max=5000)  # pool of one
    table = packets(
        [
            (1_000, CLIENT, 40000, SERVER, 80, 6, 60),  # outbound, maps to 5000
            (2_000, SERVER, 80, CLIENT, 40000, 6, 60),  # inbound, back to 10.0.0.1:40000
            (3_000, CLIENT, 40000, SERVER, 80, 6, 60),
        ]
    )
    out = apply(nat, table)
    public_lo = V4 | 0xCB007101
    assert out["action"].to_list() == [0, 0, 0]
    assert out["out0"].to_list() == [5000, 40000, 5000]
    assert out["out1"].to_list() == [public_lo, V4 | CLIENT, public_lo]
    # created: port, client port, client lo, timer (client hi is 0 for IPv4); then the timer
    assert out["delta"].to_list() == [32, 8, 8]
    # inbound packet with no mapping (fresh state): dropped like unsolicited traffic
    lost = apply(nat, table, np.array([-1, -1, 1]), np.zeros(3, bool))
    assert lost["action"].to_list() == [0, 1, 0]
    assert lost["out0"].to_list() == [5000, -1, 5000]


def test_nat_port_is_deterministic_per_connection_and_expires():
    nat = get_nf("nat", port_min=20000, port_max=20999, seed=7, idle_timeout_ns=10_000)
    rows = [(1_000 + k, CLIENT, 40000 + k, SERVER, 80, 17, 60) for k in range(50)]
    rows.append((2_000, SERVER, 80, CLIENT, 40000, 17, 60))  # in time
    rows.append((60_000, SERVER, 80, CLIENT, 40001, 17, 60))  # 59 us idle: expired
    table = packets(rows)
    out = apply(nat, table)
    ports = out["out0"].to_list()
    assert all(20000 <= p <= 20999 for p in ports[:50])
    assert len(set(ports[:50])) > 40  # hashed, not all alike
    cols_table = connections(table)
    from snfkit.nf import packet_columns

    cols = packet_columns(cols_table)
    for i in range(50):  # the documented formula
        assert ports[i] == 20000 + connection_hash(packet_fields(cols, i), 7) % 1000
    assert out["out0"][50] == 40000 and out["action"][50] == 0
    assert out["action"][51] == 1  # mapping idle > 10 us: gone
    assert apply(nat, table).equals(out)


def test_lb_sticky_server_and_counts():
    lb = get_nf("lb", servers=["10.1.0.1", "10.1.0.2", "10.1.0.3"], seed=3)
    rows = []
    for k in range(6):  # six connections, three packets each, replies included
        rows.append((10 * k + 1, CLIENT, 40000 + k, SERVER, 80, 6, 60))
        rows.append((10 * k + 2, SERVER, 80, CLIENT, 40000 + k, 6, 60))
        rows.append((10 * k + 3, CLIENT, 40000 + k, SERVER, 80, 6, 60))
    out = apply(lb, packets(rows))
    server = np.asarray(out["out0"]).reshape(6, 3)
    assert (server == server[:, :1]).all()  # sticky, both directions
    assert set(server[:, 0]) <= {0, 1, 2}
    assert np.asarray(out["out1"]).reshape(6, 3).tolist() == [[1, 2, 3]] * 6
    assert out["delta"].to_list() == [16, 8, 8] * 6
    assert lb.params["servers"] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    assert get_nf("lb", servers=3).params["servers"] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]


def test_ids_match_spanning_two_packets():
    ids = get_nf("ids")
    table = packets(
        [
            (1, CLIENT, 40000, SERVER, 80, 6, 100, b"GET /etc/pa"),
            (2, CLIENT, 40001, SERVER, 80, 6, 100, b"sswd HTTP/1.0"),  # other flow: no match
            (3, CLIENT, 40000, SERVER, 80, 6, 100, b"sswd HTTP/1.0"),  # completes /etc/passwd
            (4, CLIENT, 40000, SERVER, 80, 6, 100, b"${jndi:ldap://x}"),  # a drop rule
            (5, CLIENT, 40000, SERVER, 69, 17, 100, b"get /bin/sh"),  # two rules, one content
            (6, CLIENT, 40000, SERVER, 80, 17, 100, b"/bin/sh"),  # only the ip rule (port 80)
            (7, CLIENT, 40000, SERVER, 8080, 6, 100, b"/etc/passwd"),  # rule wants port 80
        ],
        payload=True,
    )
    out = apply(ids, table)
    assert out["out0"].to_list() == [-1, -1, 1000001, 1000005, 1000007, 1000007, -1]
    assert out["out1"].to_list() == [0, 0, 1, 1, 2, 1, 0]
    assert out["action"].to_list() == [0, 0, 0, 1, 0, 0, 0]
    # a packet of a new flow starting fresh (src -1) loses the prefix: no match
    fresh = apply(ids, table, np.array([-1, -1, -1, 2, -1, -1, -1]), np.zeros(7, bool))
    assert fresh["out0"][2] == -1


@settings(max_examples=30, deadline=None)
@given(
    words=st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
    chunks=st.lists(st.binary(max_size=12).map(lambda b: bytes(x % 4 for x in b)), max_size=8),
)
def test_ids_counts_what_pyahocorasick_finds(words, chunks):
    words = [bytes(x % 4 for x in w) for w in words]
    words = list(dict.fromkeys(words))
    rules = [Rule(k, "alert", -1, -1, -1, w, "") for k, w in enumerate(words)]
    cfg = build_config(rules)
    from snfkit.nf.ids import process_twin

    row = [0, 0]
    pkt = packet_fields_for(len(chunks))
    total = sum(process_twin(pkt, c, row, cfg).out1 for c in chunks)
    auto = ahocorasick.Automaton()
    for w in words:
        auto.add_word(w.decode("latin1"), w)
    auto.make_automaton()
    stream = b"".join(chunks).decode("latin1")
    assert total == sum(1 for _ in auto.iter(stream)) == row[1]


def packet_fields_for(_n):
    from snfkit.engine.nf_nb import PacketFields

    return PacketFields(0, 0, 0, 0, 0, 1, 2, 6, 60, 0, 0, 0)


def test_ids_rules_errors():
    with pytest.raises(ParameterError, match="line 1"):
        parse_rules('alert tcp any any -> any 80 (content:"x"; nocase; sid:1;)')
    with pytest.raises(ParameterError, match="action"):
        parse_rules('log tcp any any -> any 80 (content:"x"; sid:1;)')
    with pytest.raises(ParameterError, match="unique sid"):
        parse_rules('alert ip any any -> any any (content:"x"; sid:1;)\n' * 2)
    with pytest.raises(ParameterError, match="rules"):
        get_nf("ids", rules="/nonexistent.rules")
    rules = parse_rules(r'drop udp any any -> any 53 (msg:"a;b"; content:"|41 42|c\"d"; sid:9;)')
    assert rules == [Rule(9, "drop", 17, -1, 53, b'ABc"d', "a;b")]


def test_whitelist_drops_unsolicited_responses():
    wl = get_nf("whitelist", service_ports=[53, 123])
    table = packets(
        [
            (1, CLIENT, 40000, SERVER, 53, 17, 80),  # request
            (2, SERVER, 53, CLIENT, 40000, 17, 512),  # its response: forwarded
            (3, OTHER, 53, CLIENT, 40001, 17, 3000),  # unsolicited response: dropped
            (4, OTHER, 53, CLIENT, 40001, 6, 3000),  # not UDP: forwarded
            (5, CLIENT, 123, SERVER, 123, 17, 76),  # NTP 123 -> 123 is a request
            (6, CLIENT, 5000, SERVER, 6000, 17, 76),  # other UDP
            (7, CLIENT, 40000, OTHER, 53, 17, 80),  # a request to OTHER from 40000 ...
            (8, OTHER, 53, CLIENT, 40001, 17, 3000),  # ... does not whitelist port 40001
        ]
    )
    out = apply(wl, table)
    assert out["action"].to_list() == [0, 0, 1, 0, 0, 0, 0, 1]
    assert out["out0"].to_list() == [1, 2, 2, 0, 1, 0, 1, 2]
    assert out["out1"].to_list() == [1, 1, 0, 0, 1, 0, 1, 0]


def test_qos_bucket_empties_and_refills():
    qos = get_nf("qos", rate_bps=8_000_000, bucket_bytes=3_000)  # 1 byte per us
    ts = [0, 10, 20, 30, 5_000_000, 5_000_010]  # ns
    table = packets([(t, CLIENT, 1, SERVER, 2, 17, 1000) for t in ts])
    out = apply(qos, table)
    assert out["action"].to_list() == [0, 0, 0, 1, 0, 0]  # 3 fit, the 4th is out of profile
    assert out["out0"].to_list() == [2000, 1000, 0, 0, 2000, 1000]  # full again after 3 ms
    assert out["out1"].to_list() == [0, 0, 0, 1, 1, 1]
    big = apply(qos, packets([(0, CLIENT, 1, SERVER, 2, 17, 3001)]))
    assert big["action"].to_list() == [1]  # larger than the bucket: never conforms


@pytest.mark.parametrize(
    ("name", "config", "param"),
    [
        ("nat", {"port_min": 0}, "port_min"),
        ("nat", {"port_min": 3000, "port_max": 2000}, "port_max"),
        ("nat", {"public_ip": "300.1.1.1"}, "public_ip"),
        ("nat", {"idle_timeout_ns": -1}, "idle_timeout_ns"),
        ("lb", {"servers": []}, "servers"),
        ("lb", {"servers": ["10.0.0.1", "nope"]}, r"servers\[1\]"),
        ("lb", {"servers": 0}, "servers"),
        ("whitelist", {"service_ports": [53, 70000]}, "service_ports"),
        ("whitelist", {"service_ports": []}, "service_ports"),
        ("qos", {"rate_bps": 0}, "rate_bps"),
        ("qos", {"bucket_bytes": 2.5}, "bucket_bytes"),
        ("ids", {"rules": 5}, "rules"),
    ],
)
def test_config_errors(name, config, param):
    with pytest.raises(ParameterError, match=param):
        get_nf(name, **config)


def test_descriptors():
    for name in NFS:
        nf = get_nf(name)
        assert nf.name == name
        assert nf.state_bytes == 37 + 8 * nf.state_width
        assert nf.needs_payload == (name == "ids")
        assert nf.bidirectional == (name in ("nat", "lb", "whitelist"))


@pytest.mark.shared
def test_all_nfs_over_a_real_trace():
    packets_ = snfkit.load_trace(shared_trace("caida-nyc-2018-10k.pcap"), payload_bytes=64)
    for name in NFS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoPayloadWarning)
            out = apply(get_nf(name), packets_)
        assert out.height == packets_.height
        assert out.null_count().sum_horizontal().item() == 0
        assert set(out["action"].unique().to_list()) <= {0, 1}
        assert (out["delta"] >= 0).all()
