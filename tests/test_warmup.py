"""snfkit.warmup: the first-run notice counts only snfkit's cached kernels, once; ``snfkit warmup``
runs every step. (That the demo compiles nothing after ``snfkit warmup`` in a fresh cache is
measured by ``benchmarks/bench_coldstart.py --warmup``: a cold compile takes about a minute.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from numba.core import event
from numba.core.caching import NullCache
from test_cli import run

from snfkit.engine.mix_nb import buckets_nb
from snfkit.warmup import NOTICE, STEPS, warm_up, watch_compiles

KERNEL = getattr(buckets_nb, "py_func", buckets_nb)  # (a plain function under NUMBA_DISABLE_JIT)


def _compile(dispatcher):
    return event.trigger_event(
        "numba:compile", data={"dispatcher": dispatcher, "args": (), "return_type": None}
    )


def test_watch_counts_cached_snfkit_kernels_once_each():
    cached = SimpleNamespace(py_func=KERNEL, _cache=object())
    uncached = SimpleNamespace(py_func=KERNEL, _cache=NullCache())
    other = SimpleNamespace(py_func=test_watch_counts_cached_snfkit_kernels_once_each, _cache=1)
    notices = []
    with watch_compiles(lambda: notices.append("first")) as watch:
        with _compile(other):  # not snfkit's
            pass
        with _compile(uncached):  # compiles in every process: no first-run notice
            with _compile(other):
                pass
        assert notices == [] and watch.kernels == 0
        with _compile(cached):  # a callee compiled while typing its caller: inside its event
            with _compile(cached):
                pass
        with _compile(cached):
            pass
    assert notices == ["first"]
    assert watch.kernels == 3
    assert watch.seconds > 0
    with _compile(cached):  # the block is over: no longer listening
        pass
    assert watch.kernels == 3


def test_warm_up_runs_every_step():
    steps = []
    done = warm_up(progress=lambda d, total: steps.append((d, total)))
    assert steps == [(k, len(STEPS)) for k in range(1, len(STEPS) + 1)]
    assert done.kernels >= 0 and done.seconds >= 0
    assert warm_up().kernels == 0  # everything is compiled now (in this process, at least)


def test_warmup_command():
    r = run("warmup")
    assert r.exit_code == 0, r.output
    assert "compiled" in r.stdout and "cached in" in r.stdout


@pytest.mark.parametrize("terminal", [True, False])
def test_cli_notice_on_a_terminal_only(monkeypatch, capsys, terminal):
    from snfkit import cli

    monkeypatch.setattr(cli, "_stderr", lambda: SimpleNamespace(is_terminal=terminal))
    if cli._announce_compiles.cache_info().currsize:  # an earlier command's listener: off
        event.unregister("numba:compile", cli._announce_compiles())
        cli._announce_compiles.cache_clear()
    watch = cli._announce_compiles()
    try:
        cached = SimpleNamespace(py_func=KERNEL, _cache=object())
        for _ in range(2):
            with _compile(cached):
                pass
    finally:
        event.unregister("numba:compile", watch)
        cli._announce_compiles.cache_clear()
    assert capsys.readouterr().err == (NOTICE + "\n" if terminal else "")
