"""Study configs: the shipped examples load; every kind of bad input names its key."""

from __future__ import annotations

import copy

import pytest
from conftest import REPO, shared_trace

from snfkit.errors import ConfigError
from snfkit.metrics import METRICS, register_metric
from snfkit.sweeps import config_from_dict, load_config
from snfkit.sweeps.config import ConstraintSpec

SWEEPS = REPO / "sweeps"

BASE = {
    "study": {"name": "t", "n_trials": 3, "objectives": ["p99_latency_us"]},
    "trace": {"workload": "paper_like", "seed": 0, "scale": 0.001},
    "search": {
        "timeout_ns": {"low": 50_000, "high": 2_000_000, "log": True},
        "alpha": {"low": 0.0, "high": 1.0},
    },
}


def cfg(**changes):
    """BASE with dotted-key changes; a value of None deletes the key."""
    d = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = d
        for p in path:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return d


def error_of(data, base_dir=None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, base_dir=base_dir, source="x.toml")
    return info.value


def test_base_is_valid():
    c = config_from_dict(BASE)
    assert [p.name for p in c.search] == ["timeout_ns", "alpha"]
    t, a = c.search
    assert (t.kind, t.low, t.high, t.log) == ("int", 50_000, 2_000_000, True)
    assert (a.kind, a.low, a.high, a.log) == ("float", 0.0, 1.0, False)
    assert c.directions == ["minimize"]
    assert c.sampler.name == "tpe" and c.sampler.seed == 0


def test_synthetic_example_loads():
    c = load_config(SWEEPS / "paper_like_units.toml")
    assert c.name == "paper_like_units"
    assert {p.name for p in c.search} == {"timeout_ns", "size_bytes", "alpha", "replicas"}
    assert c.constraints == (ConstraintSpec("p99_latency_us", max=2000.0),)
    assert c.default_storage().endswith("/sweeps/paper_like_units.db")


def test_cost_example_loads():
    c = load_config(SWEEPS / "paper_like_cost.toml")
    assert c.metric_names == ["billed_cost"] and c.directions == ["minimize"]
    assert c.constraints == (ConstraintSpec("p99_latency_us", max=2000.0),)
    assert dict(c.fixed)["mode"] == "flowlet"


def test_a_declared_but_unavailable_metric_is_a_config_error():
    register_metric("declared_only", None, doc="declared by a test, not computable")
    try:
        err = error_of(cfg(study__objectives=["declared_only"]))
    finally:
        del METRICS["declared_only"]
    assert err.key == "study.objectives[0]" and "not available yet" in str(err)


def test_caida_example_loads():
    shared_trace("caida-nyc-2018-10k.pcap")
    c = load_config(SWEEPS / "caida_pareto.toml")
    assert c.trace.path is not None and c.trace.path.name == "caida-nyc-2018-10k.pcap"
    assert c.metric_names == ["p99_latency_us", "mean_active_units"]
    assert c.sampler.name == "nsga2"


@pytest.mark.parametrize(
    ("changes", "key", "needle"),
    [
        ({"search__K": {"low": 0, "high": 5}}, "search.K", "valid names: alpha"),
        ({"search__replicas": {"low": 0, "high": 10_000}}, "search.replicas.low/high", "replicas"),
        ({"params": {"bogus": 1}}, "params.bogus", "unknown replay parameter"),
        ({"search__alpha": {"low": 0.5, "high": 0.5}}, "search.alpha", "empty range"),
        ({"search__alpha": {"low": 0.9, "high": 0.1}}, "search.alpha", "low (0.9) must be below"),
        ({"search__alpha": {"low": 0.0}}, "search.alpha.high", "missing"),
        ({"search__alpha": {"low": 0.0, "high": 1.0, "log": True}}, "search.alpha.low", "log"),
        (
            {"search__alpha": {"low": 0.0, "high": 1.0, "spread": 2}},
            "search.alpha.spread",
            "unknown key",
        ),
        ({"search__alpha": {"low": 0.0, "high": 2.0}}, "search.alpha.low/high", "alpha=2.0"),
        ({"search__timeout_ns": {"low": 1.5, "high": 9.0}}, "search.timeout_ns.low", "integer"),
        (
            {"search__timeout_ns": {"low": 50_000, "high": 200_000_000}},
            "search.timeout_ns.low/high",
            "unit_idle_ns",
        ),
        ({"search__mode": {"choices": []}}, "search.mode.choices", "non-empty"),
        ({"search__mode": {"choices": ["flowlet", "nope"]}}, "search.mode.choices", "'nope'"),
        ({"search__keep_packets": {"choices": [True]}}, "search.keep_packets", "always"),
        ({"params": {"alpha": 0.3}}, "search.alpha", "also fixed"),
        ({"search": {}}, "search", "empty"),
        ({"study__objectives": ["p42_latency"]}, "study.objectives[0]", "unknown metric"),
        ({"study__objectives": []}, "study.objectives", "non-empty"),
        (
            {"study__objectives": ["p99_latency_us", "p99_latency_us"]},
            "study.objectives",
            "twice",
        ),
        (
            {"study__objectives": [{"metric": "p99_latency_us", "direction": "up"}]},
            "study.objectives[0].direction",
            "up",
        ),
        ({"study__constraints": [{"metric": "p99_latency_us"}]}, "study.constraints[0]", "max"),
        (
            {"study__constraints": [{"metric": "p99_latency_us", "max": 1, "min": 2}]},
            "study.constraints[0]",
            "nothing is feasible",
        ),
        ({"study__n_trials": 0}, "study.n_trials", ">= 1"),
        ({"study__n_trials": None}, "study.n_trials", ">= 1"),
        ({"study__name": "a b"}, "study.name", "letters"),
        ({"sampler": {"name": "cmaes"}}, "sampler.name", "unknown sampler"),
        (
            {"sampler": {"name": "random", "population_size": 4}},
            "sampler.population_size",
            "no option",
        ),
        ({"sampler": {"name": "nsga2", "population_size": 1}}, "sampler.population_size", ">= 2"),
        ({"sampler": {"seed": -1}}, "sampler.seed", ">= 0"),
        ({"sampler": {"seed": "a"}}, "sampler.seed", ">= 0"),
        ({"trace": {"workload": "paper_like", "scael": 1}}, "trace.scael", "no option"),
        ({"trace": {"workload": "caida"}}, "trace.workload", "not one of"),
        ({"trace": {}}, "trace", "exactly one"),
        ({"trace": {"path": "nope.pcap"}}, "trace.path", "does not exist"),
        ({"trace__max_packets": 0}, "trace.max_packets", ">= 1"),
        ({"extra": {}}, "extra", "unknown key"),
        ({"trace": None}, "trace", "missing"),
    ],
)
def test_bad_config_names_the_key(changes, key, needle):
    err = error_of(cfg(**changes))
    assert err.key == key, str(err)
    assert needle in str(err)
    assert str(err).startswith("x.toml: ")


def test_unknown_parameter_lists_the_valid_names():
    msg = str(error_of(cfg(search__K={"low": 0, "high": 5})))
    for name in (
        "timeout_ns",
        "size_bytes",
        "alpha",
        "replicas",
        "state_mode",
        "unit_capacity_bps",
    ):
        assert name in msg


def test_relative_trace_path_and_unreadable_trace(tmp_path):
    (tmp_path / "traces").mkdir()
    bad = tmp_path / "traces" / "garbage.pcap"
    bad.write_bytes(b"this is not a capture")
    toml = tmp_path / "s" / "x.toml"
    toml.parent.mkdir()
    toml.write_text(
        '[study]\nn_trials = 2\nobjectives = ["p99_latency_us"]\n'
        '[trace]\npath = "../traces/garbage.pcap"\n'
        "[search]\nalpha = { low = 0.0, high = 1.0 }\n"
    )
    c = load_config(toml)
    assert c.trace.path == bad.resolve()
    assert c.name == "x"
    from snfkit.sweeps.trace import load_packets

    with pytest.raises(ConfigError) as info:
        load_packets(c.trace, source=toml)
    assert info.value.key == "trace.path"


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_types_follow_the_parameter_defaults():
    c = config_from_dict(
        cfg(
            search__mode={"choices": ["flowlet", "flow"]},
            search__unit_capacity_bps={"low": 5e8, "high": 2e9, "log": True},
            search__load_buckets={"low": 10, "high": 200, "step": 10},
        )
    )
    kinds = {p.name: p.kind for p in c.search}
    assert kinds == {
        "timeout_ns": "int",
        "alpha": "float",
        "mode": "categorical",
        "unit_capacity_bps": "float",
        "load_buckets": "int",
    }


def test_fingerprint_changes_with_the_search_space_only():
    a = config_from_dict(BASE)
    assert a.fingerprint() == config_from_dict(cfg(study__n_trials=50)).fingerprint()
    assert a.fingerprint() == config_from_dict(cfg(sampler={"seed": 3})).fingerprint()
    assert (
        a.fingerprint()
        != config_from_dict(cfg(search__alpha={"low": 0.0, "high": 0.5})).fingerprint()
    )
