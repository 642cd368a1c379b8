"""Per-flow state between units (paper §5, DESIGN.md "State"): replicas, logical clocks, sources.

A flow's *logical clock* counts its packets processed so far. In ``proactive`` mode, once a flow has
been idle ``push_after_ns`` (T/2) and its last packet is processed, its unit pushes the state to
K other active units chosen by the replication policy; each copy carries the clock at the push.
Each flow remembers its two latest pushes: the clock, the time, the packet whose post-state was sent,
and one bit per unit slot (``masks[f, 0]`` latest, ``masks[f, 1]`` the one before). A copy at slot u
is still there if the slot's current unit started no later than the push.

When a flow's next item opens on unit u, its state comes from (:data:`~snfkit.engine.enums.StateSource`):
``new_flow`` (no state yet), ``same_unit`` (u ran the previous item), ``replica`` (u holds a copy
whose clock equals the flow's clock and it has arrived: no wait, *seamless*), ``replica_wait`` (that
copy is still in flight: wait for it), ``pull`` (no fresh copy: fetch from the previous unit once its
last packet is processed, ``pull_ns``), ``store`` (``external``: a store read that waits
for the flow's last write to land) or ``free`` (``local``).

Values are kept copy-on-write: a copy is the post-state of the packet it was pushed after
(``rep_pkt``), so the NF pass (:mod:`snfkit.engine.nf_nb`) processes each packet against the
version its unit holds. With ``clock_check`` off, a stale copy is used as if fresh, and the NF
output shows it.
"""

from __future__ import annotations

import numpy as np

from snfkit.engine._jit import helper
from snfkit.engine.calendar_nb import cal_book, cal_fit
from snfkit.engine.enums import ReplicationPolicy, StateMode, StateSource, TransferKind
from snfkit.engine.mix_nb import GOLDEN, mix64, pop_low_bit

TRANSFER_COLUMNS = ("time_ns", "arrive_ns", "flow_id", "from_unit", "to_unit", "kind", "clock",
                    "packet")  # fmt: skip
"""One state transfer (a push copy, a pull or a store read) is a column of an int64
[len(TRANSFER_COLUMNS), rows] array: when sent, when it arrives, the flow, the slot it comes from
(-1: the store) and goes to, its kind (:data:`~snfkit.engine.enums.TransferKind`), the flow's logical clock carried,
and the global index of the packet whose post-state moved (-1 none). Rows are columns so that the
transfers table takes them without copies; every transfer moves ``state_bytes``."""
TR_TIME, TR_ARRIVE, TR_FLOW, TR_FROM, TR_TO, TR_KIND, TR_CLOCK, TR_PACKET = range(8)


def new_transfers(rows: int) -> np.ndarray:
    """A transfer buffer with room for ``rows`` transfers (:data:`TRANSFER_COLUMNS`)."""
    return np.empty((len(TRANSFER_COLUMNS), rows), np.int64)


@helper
def uniform(c):
    """Next draw in [0, 1) from the controller's splitmix64 stream (state in ``c.rng``)."""
    c.rng = c.rng + GOLDEN
    z = mix64(c.rng)
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@helper
def has_copy(masks, f, which, u, un, push_time):
    """Does slot u (record un) still hold flow f's copy from push ``which`` (0 latest, 1 before)?"""
    word = masks[f, which, u >> 6]
    bit = (word >> np.uint64(u & 63)) & np.uint64(1)
    return bit != 0 and un.active and un.start <= push_time


@helper
def push_state(units, masks, transfers, c, fl, f, when, p):
    """Flow f (record fl)'s unit pushes its state at ``when`` to the units the policy picks;
    returns the number of copies.

    Candidates are the other active slots in ID order. ``weighted`` makes K distinct draws, each
    with weight 1/(ID+1) (``units.w``) among the candidates not drawn yet, scanning them in ID
    order (the total shrinks by each drawn weight); ``first_k`` takes the K lowest IDs,
    ``broadcast`` all of them. The candidates' count and weight sum are kept per pushing slot
    until a slot starts or retires (the same sum, in the same order: the draws do not change)."""
    pu = units[fl.unit]
    if pu.px_ver == c.act_ver:  # the same candidates as this slot's last push
        n = pu.px_n
        total = pu.px_tot
    else:
        n = 0
        total = 0.0
        for u in range(c.hi):
            un = units[u]
            if un.active and u != fl.unit:
                n += 1
                total += un.w
        pu.px_ver = c.act_ver
        pu.px_n = n
        pu.px_tot = total
    k = n
    if p.replication_policy == ReplicationPolicy.none:
        k = 0
    elif p.replication_policy != ReplicationPolicy.broadcast and p.replicas < n:
        k = p.replicas
    if k == 0:
        return 0
    # the latest push becomes the previous one. Every word: a bit left over from an older push
    # could name a slot that restarts before this push's time (max(event, last finish)) and so
    # pass has_copy's start check
    fl.prev_clock = fl.rep_clock
    fl.prev_time = fl.rep_time
    fl.prev_pkt = fl.rep_pkt
    for w in range(p.mask_words):
        masks[f, 1, w] = masks[f, 0, w]
        masks[f, 0, w] = 0
    fl.rep_clock = fl.clock
    fl.rep_time = when
    fl.rep_arrive = when + p.push_ns
    if p.push_unit_ns > 0:  # the sender serializes the k copies: they leave when it is done
        send = k * p.push_unit_ns
        s = cal_fit(pu, when, send)
        # forget only what ended by the flow's last arrival: ``when`` may lie beyond packets
        # booked on this unit that have not been served yet
        cal_book(pu, fl.last_ts, s, send)
        pu.busy += send
        if s + send > pu.free:
            pu.free = s + send
        fl.rep_arrive = s + send + p.push_ns
    fl.rep_pkt = fl.last_pkt
    draw = p.replication_policy == ReplicationPolicy.weighted and k < n
    pick = -1
    for _ in range(k):
        if draw:
            r = uniform(c) * total
            acc = 0.0
            for u in range(c.hi):
                un = units[u]
                if not un.active or u == fl.unit or un.drawn:
                    continue
                pick = u  # the last candidate if r reaches past the sum (rounding)
                acc += un.w
                if r < acc:
                    break
            units[pick].drawn = True
            total -= units[pick].w
        else:  # the next candidate in ID order
            pick += 1
            while not units[pick].active or pick == fl.unit:
                pick += 1
        masks[f, 0, pick >> 6] |= np.uint64(1) << np.uint64(pick & 63)
        if p.record_transfers:
            add_transfer(transfers, c, p, when, fl.rep_arrive, f, fl.unit, pick, TransferKind.push,
                         fl.clock, fl.last_pkt)  # fmt: skip
        else:
            c.transfer_bytes[TransferKind.push] += p.state_bytes
    if draw:  # clear the drawn flags: the slots just marked in the mask
        for w in range(p.mask_words):
            word = masks[f, 0, w]
            while word != np.uint64(0):
                bit, word = pop_low_bit(word)
                units[w * 64 + bit].drawn = False
    c.pushes += 1
    c.copies += k
    return k


@helper
def add_transfer(transfers, c, p, when, arrive, f, src, dst, kind, clock, pkt):
    """Count a transfer of ``p.state_bytes``; write its row when ``p.record_transfers``."""
    c.transfer_bytes[kind] += p.state_bytes
    if not p.record_transfers:
        return
    n = c.n_transfers
    transfers[TR_TIME, n] = when
    transfers[TR_ARRIVE, n] = arrive
    transfers[TR_FLOW, n] = f
    transfers[TR_FROM, n] = src
    transfers[TR_TO, n] = dst
    transfers[TR_KIND, n] = kind
    transfers[TR_CLOCK, n] = clock
    transfers[TR_PACKET, n] = pkt
    c.n_transfers += 1


@helper
def open_source(units, masks, transfers, c, fl, f, u, t, p):
    """Where flow f's (record fl) state comes from for an item opening on slot u at t (module
    docstring). Returns (source, ready time, packet whose post-state the item starts from)."""
    un = units[u]
    if fl.unit < 0:
        return StateSource.new_flow, t, np.int64(-1)
    if p.state_mode == StateMode.external:
        if p.store_read_on_move and fl.unit == u and fl.life == un.life:
            return StateSource.same_unit, t, fl.last_pkt  # the unit still holds what it wrote
        ready = (t if t > fl.wlanded else fl.wlanded) + p.store_rtt_ns
        add_transfer(transfers, c, p, t, ready, f, np.int64(-1), u, TransferKind.store_read,
                     fl.clock, fl.last_pkt)  # fmt: skip
        c.store_reads += 1
        return StateSource.store, ready, fl.last_pkt
    if fl.unit == u and fl.life == un.life:
        return StateSource.same_unit, t, fl.last_pkt
    if p.state_mode == StateMode.local:
        return StateSource.free, t, fl.last_pkt
    if (
        p.state_mode == StateMode.proactive and fl.rep_clock >= 0
    ):  # (the mask row is cold otherwise)
        if has_copy(masks, f, np.int64(0), u, un, fl.rep_time):
            if fl.rep_clock == fl.clock or not p.clock_check:
                if fl.rep_pkt != fl.last_pkt:  # an old copy used as fresh (no clock check)
                    c.stale_used += 1
                if fl.rep_arrive <= t:
                    return StateSource.replica, t, fl.rep_pkt
                return StateSource.replica_wait, fl.rep_arrive, fl.rep_pkt
            c.stale_copies += 1
        elif fl.prev_clock >= 0 and has_copy(masks, f, np.int64(1), u, un, fl.prev_time):
            if not p.clock_check:
                if fl.prev_pkt != fl.last_pkt:
                    c.stale_used += 1
                return (
                    StateSource.replica,
                    t,
                    fl.prev_pkt,
                )  # stale, used as if fresh: fault injection
            c.stale_copies += 1
    base = t if t > fl.last_finish else fl.last_finish
    if fl.state_ready > base:  # the previous unit is still waiting for the state (a recovery)
        base = fl.state_ready
    ready = base + p.pull_ns
    add_transfer(transfers, c, p, base, ready, f, fl.unit, u, TransferKind.pull,
                 fl.clock, fl.last_pkt)  # fmt: skip
    c.state_pulls += 1
    return StateSource.pull, ready, fl.last_pkt
