"""IDS (paper §8): Aho-Corasick signature matching over each flow's payload byte stream.

Configuration (read-only): a rule set in a small subset of Snort's syntax (``data/README.md``; the
default ``data/ids.rules`` is illustrative). The automaton of the rules' contents is built by the
``pyahocorasick`` library; its trie and fail links (``Automaton.dump()``) are turned into a dense
transition table (one row of 256 next states per node) that the numba kernel walks one byte at a time.

Per flow the state holds the automaton's node after the flow's last payload byte, so a content split
across two packets of a flow is found in the second one (the stream is the concatenation of the
flow's payloads in arrival order; no TCP reassembly: retransmissions and reordering are scanned as
they come). A rule matches where its content ends, if the packet's protocol and ports fit the rule's
header. Each direction is its own stream (``bidirectional`` is False), as Snort's stream inspection
treats the two sides of a session.

Without payload (a trace read without ``payload_bytes``, or a packets table without a ``payload``
column) the IDS inspects nothing: every packet is forwarded with no match, and
:func:`snfkit.nf.apply` warns once with :class:`~snfkit.errors.NoPayloadWarning`. Payload truncated by
the capture's snap length is scanned as far as it was captured, as if the stream continued after it.

State row (2 words): automaton node (0 = the root), rule matches of the flow so far. Outputs: out0 =
the sid of the packet's first matching rule (by position in the packet; at one position the longest
content first, then file order), -1 if none; out1 = rule matches in this packet. action: drop if a
matching rule's action is ``drop``, else forward. delta: 8 per changed word.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import ahocorasick
import numba as nb
import numpy as np

from snfkit.engine.nf_nb import DROP, FORWARD, NFResult
from snfkit.errors import ParameterError
from snfkit.nf.base import NF, default_state_bytes

WIDTH = 2

# columns of the node table after the 256 transitions
OWN_FIRST = 256  # first row in ``rules`` of the rules whose content ends at this node, -1 none
OWN_COUNT = 257  # how many
DICT_LINK = 258  # nearest node on the fail chain with rules of its own, -1 none
ANY_OUT = 259  # 1 if this node or its fail chain ends some content
FAIL = 260  # the fail link (from pyahocorasick)
DEPTH = 261  # trie depth (content prefix length)
N_COLS = 262

# columns of the rules array
R_SID, R_ACTION, R_PROTO, R_SPORT, R_DPORT = range(5)

PROTOS = {"ip": -1, "tcp": 6, "udp": 17, "icmp": 1}
ACTIONS = {"alert": FORWARD, "drop": DROP}


@dataclass(frozen=True)
class Rule:
    """One rule: sid, action (``'alert'``/``'drop'``), proto (-1 any), sport and dport (-1 any),
    content (bytes), msg."""

    sid: int
    action: str
    proto: int
    sport: int
    dport: int
    content: bytes
    msg: str


class IDSConfig(NamedTuple):
    table: np.ndarray  # int32[n_nodes, N_COLS]
    rules: np.ndarray  # int64[n_rules, 5], grouped by content (see module columns)


_HEADER = re.compile(
    r"^(?P<action>\S+)\s+(?P<proto>\S+)\s+(?P<src>\S+)\s+(?P<sport>\S+)\s+->\s+"
    r"(?P<dst>\S+)\s+(?P<dport>\S+)\s*\((?P<opts>.*)\)\s*$"
)


def _split_options(text: str) -> list[tuple[str, str]]:
    """``msg:"a;b"; sid:1;`` -> [("msg", '"a;b"'), ("sid", "1")]; honours quotes and escapes."""
    opts, cur, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            opts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        opts.append("".join(cur).strip())
    return [(o.partition(":")[0].strip(), o.partition(":")[2].strip()) for o in opts if o]


def _unquote(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        raise ValueError(f"a quoted string, found {value!r}")
    return value[1:-1]


def _content_bytes(text: str) -> bytes:
    """Snort content text: ``|hex hex|`` runs and backslash escapes -> bytes."""
    out, i = bytearray(), 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                raise ValueError("a character after a backslash")
            out += text[i + 1].encode("latin1")
            i += 2
        elif ch == "|":
            end = text.find("|", i + 1)
            if end < 0:
                raise ValueError("a closing | after hex bytes")
            out += bytes.fromhex(text[i + 1 : end])
            i = end + 1
        else:
            out += ch.encode("latin1")
            i += 1
    return bytes(out)


def _port(value: str) -> int:
    if value == "any":
        return -1
    p = int(value)
    if not 0 <= p <= 65535:
        raise ValueError(f"a port in [0, 65535] or any, found {value}")
    return p


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Parse rules (syntax in ``snfkit/nf/data/README.md``); ParameterError names the line."""
    rules: list[Rule] = []
    sids: set[int] = set()
    for k, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"rules ({source} line {k})"
        try:
            m = _HEADER.match(line)
            if m is None:
                raise ValueError("'action proto src sport -> dst dport (options)'")
            if m["action"] not in ACTIONS:
                raise ValueError(f"action alert or drop, found {m['action']!r}")
            if m["proto"] not in PROTOS:
                raise ValueError(f"proto ip, tcp, udp or icmp, found {m['proto']!r}")
            if m["src"] != "any" or m["dst"] != "any":
                raise ValueError("addresses 'any'")
            opts = dict[str, str]()
            for name, value in _split_options(m["opts"]):
                if name not in ("msg", "content", "sid", "rev"):
                    raise ValueError(f"options msg, content, sid, rev; found {name!r}")
                if name in opts:
                    raise ValueError(f"one {name} option")
                opts[name] = value
            if "content" not in opts or "sid" not in opts:
                raise ValueError("a content and a sid option")
            content = _content_bytes(_unquote(opts["content"]))
            if not content:
                raise ValueError("a non-empty content")
            sid = int(opts["sid"])
            if not 0 <= sid < 2**31 or sid in sids:
                raise ValueError(f"a unique sid in [0, 2**31), found {sid}")
            sids.add(sid)
            msg = _unquote(opts["msg"]) if "msg" in opts else ""
            rules.append(
                Rule(
                    sid,
                    m["action"],
                    PROTOS[m["proto"]],
                    _port(m["sport"]),
                    _port(m["dport"]),
                    content,
                    msg,
                )
            )
        except ValueError as e:
            raise ParameterError(where, line, str(e)) from None
    return rules


def default_rules_path() -> Path:
    """The shipped, illustrative rule set ``snfkit/nf/data/ids.rules``."""
    return Path(str(resources.files("snfkit.nf") / "data" / "ids.rules"))


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """Rules from a file (default: :func:`default_rules_path`)."""
    p = default_rules_path() if path is None else Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ParameterError("rules", str(p), f"a readable rules file ({e.strerror})") from None
    return parse_rules(text, str(p))


def build_config(rules: list[Rule]) -> IDSConfig:
    """The dense tables of the rules' Aho-Corasick automaton (built by pyahocorasick)."""
    contents: list[bytes] = []
    for r in rules:
        if r.content not in contents:
            contents.append(r.content)
    grouped = sorted(rules, key=lambda r: contents.index(r.content))  # stable: file order within
    rule_rows = np.array(
        [[r.sid, ACTIONS[r.action], r.proto, r.sport, r.dport] for r in grouped], np.int64
    ).reshape(len(grouped), 5)

    auto = ahocorasick.Automaton()
    for i, c in enumerate(contents):
        auto.add_word(c.decode("latin1"), i)  # one code point per byte
    children: dict[int, dict[int, int]] = {}
    fail_ptr: dict[int, int] = {}
    if contents:
        auto.make_automaton()
        nodes, edges, fails = auto.dump()
        for parent, label, child in edges:
            byte = label[0] if len(label) == 1 else int.from_bytes(label, "little")
            children.setdefault(parent, {})[byte] = child
        has_parent = {child for _, _, child in edges}
        roots = [ptr for ptr, _ in nodes if ptr not in has_parent]
        root_ptr = roots[0]
        fail_ptr = dict(fails)
    else:
        root_ptr = 0
    # dense ids in breadth-first order: the root is 0 and a fail target precedes its source
    ids = {root_ptr: 0}
    order = [root_ptr]
    queue = deque([root_ptr])
    while queue:
        p = queue.popleft()
        for byte in sorted(children.get(p, {})):
            c = children[p][byte]
            ids[c] = len(order)
            order.append(c)
            queue.append(c)
    n = len(order)
    table = np.zeros((n, N_COLS), np.int32)
    table[:, OWN_FIRST] = -1
    table[:, DICT_LINK] = -1
    # the rules of each content sit at the content's end node
    first_row = 0
    for c in contents:
        node = root_ptr
        for byte in c:
            node = children[node][byte]
        count = sum(1 for r in grouped if r.content == c)
        table[ids[node], OWN_FIRST] = first_row
        table[ids[node], OWN_COUNT] = count
        first_row += count
    for p in order:
        s = ids[p]
        f = 0 if s == 0 else ids[fail_ptr.get(p, root_ptr)]
        table[s, FAIL] = f
        kids = children.get(p, {})
        for byte in range(256):
            if byte in kids:
                table[s, byte] = ids[kids[byte]]
                table[ids[kids[byte]], DEPTH] = table[s, DEPTH] + 1
            else:
                table[s, byte] = 0 if s == 0 else table[f, byte]
        if s != 0:
            table[s, DICT_LINK] = f if table[f, OWN_COUNT] > 0 else table[f, DICT_LINK]
        table[s, ANY_OUT] = int(table[s, OWN_COUNT] > 0 or table[s, DICT_LINK] >= 0)
    return IDSConfig(table, rule_rows)


@nb.njit(cache=True)
def process_nb(pkt, payload, state, row, cfg):
    table = cfg.table
    rules = cfg.rules
    s0 = state[row, 0]
    s = s0
    first = -1
    count = 0
    action = FORWARD
    for p in range(pkt.pay_start, pkt.pay_end):
        s = np.int64(table[s, payload[p]])
        if table[s, ANY_OUT]:
            node = s if table[s, OWN_COUNT] > 0 else np.int64(table[s, DICT_LINK])
            while node >= 0:
                r0 = table[node, OWN_FIRST]
                for r in range(r0, r0 + table[node, OWN_COUNT]):
                    if (
                        (rules[r, R_PROTO] < 0 or rules[r, R_PROTO] == pkt.proto)
                        and (rules[r, R_SPORT] < 0 or rules[r, R_SPORT] == pkt.sport)
                        and (rules[r, R_DPORT] < 0 or rules[r, R_DPORT] == pkt.dport)
                    ):
                        count += 1
                        if first < 0:
                            first = rules[r, R_SID]
                        if rules[r, R_ACTION] == DROP:
                            action = DROP
                node = np.int64(table[node, DICT_LINK])
    state[row, 0] = s
    state[row, 1] += count
    delta = 8 * (np.int64(s != s0) + np.int64(count > 0))
    return NFResult(action, first, count, delta)


def process_twin(pkt, payload, row, cfg):
    """Twin of :func:`process_nb` in the textbook form: trie edges and fail links, no dense goto.

    ``row`` = [automaton node, matches]. A transition is a trie edge when it leads one level deeper.
    """
    table, rules = cfg.table, cfg.rules
    old = list(row)
    node, first, count, action = row[0], -1, 0, FORWARD
    for byte in payload:
        while True:  # follow fail links until a trie edge for this byte (or the root)
            nxt = int(table[node, byte])
            if table[nxt, DEPTH] == table[node, DEPTH] + 1:
                node = nxt
                break
            if node == 0:
                break
            node = int(table[node, FAIL])
        v = node
        while v != 0:  # every content ending here: this node and its fail chain
            start = int(table[v, OWN_FIRST])
            for r in range(start, start + int(table[v, OWN_COUNT])):
                sid, act, proto, sport, dport = (int(x) for x in rules[r])
                if (
                    proto in (-1, pkt.proto)
                    and sport in (-1, pkt.sport)
                    and dport in (-1, pkt.dport)
                ):
                    count += 1
                    first = sid if first < 0 else first
                    action = DROP if act == DROP else action
            v = int(table[v, FAIL])
    row[0] = node
    row[1] += count
    delta = 8 * sum(a != b for a, b in zip(old, row, strict=True))
    return NFResult(action, first, count, delta)


PACKET_NS = 200
"""Processing cost per packet (ns) declared for ``nf_cost=True`` replays: one automaton step per payload byte (Aho-Corasick) on top of the per-packet lookup.
The paper publishes no per-NF cost; these order the NFs by their work (:data:`snfkit.nf.NF_COSTS`)."""
BYTE_PS = 500
"""Processing cost per byte of ``wire_len`` (ps) declared for ``nf_cost=True`` replays."""


def make(rules: str | Path | list[Rule] | None = None) -> NF:
    """An IDS over ``rules``: a rules file, a list of :class:`Rule`, or None for the shipped set."""
    if rules is None or isinstance(rules, str | Path):
        parsed = load_rules(rules)
        source = str(default_rules_path() if rules is None else rules)
    elif isinstance(rules, list) and all(isinstance(r, Rule) for r in rules):
        parsed, source = rules, "<list>"
    else:
        raise ParameterError("rules", rules, "a rules file path, a list of Rule, or None")
    cfg = build_config(parsed)
    return NF(
        packet_ns=PACKET_NS,
        byte_ps=BYTE_PS,
        name="ids",
        process=process_nb,
        twin=process_twin,
        state_width=WIDTH,
        state_bytes=default_state_bytes(WIDTH),
        needs_payload=True,
        bidirectional=False,
        config=cfg,
        params={"rules": source, "n_rules": len(parsed), "n_nodes": int(cfg.table.shape[0])},
        outputs=("sid", "matches"),
    )


__all__ = [
    "IDSConfig",
    "Rule",
    "build_config",
    "default_rules_path",
    "load_rules",
    "make",
    "parse_rules",
    "process_nb",
    "process_twin",
]
