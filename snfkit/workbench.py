"""A researcher's workbench in a notebook: offline interactive charts, and a panel that replays the
loaded trace for chosen T, B, K and alpha and compares the runs.

- :func:`notebook_setup`: the snfkit theme, and charts rendered with Vega's JavaScript inlined
  (they draw offline and on cluster nodes; altair's default loads it from a CDN). Needs the
  ``notebooks`` (or ``export``) extra; without it charts keep altair's default and a warning says
  which extra to install.
- :class:`ReplayPanel`: :meth:`ReplayPanel.run` replays the trace with one choice of the four
  knobs and keeps the result beside the earlier ones; :meth:`ReplayPanel.table` and
  :meth:`ReplayPanel.chart` compare them; :meth:`ReplayPanel.widget` wires the same calls to
  ipywidgets sliders and a button (the ``notebooks`` extra). Everything but the widget is plain
  Python, tested without a browser.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from snfkit.errors import MissingExtraError, ParameterError
from snfkit.results import Results

RENDERER = "html"
"""The altair renderer :func:`notebook_setup` enables, with its ``inline`` template: HTML that
carries Vega's JavaScript."""

PANEL_COLUMNS = (
    "run",
    "p50_us",
    "p99_us",
    "p99.9_us",
    "mean_active_units",
    "max_active_units",
    "opportunities",
    "seamless_share",
    "state_pulls",
    "replication_mbps",
)
"""Columns of :meth:`ReplayPanel.table` (those a run reports)."""


def notebook_setup(*, offline: bool = True) -> str:
    """Enable the snfkit chart theme and, with ``offline``, the :data:`RENDERER` renderer (every
    chart carries Vega's JavaScript, about 0.9 MB, so it draws with no network). Returns the
    active renderer's name. Without vl-convert (the ``notebooks`` extra) it warns, naming the
    extra, and keeps altair's default renderer."""
    import altair as alt

    from snfkit.charts import theme
    from snfkit.extras import require

    theme.register(enable=True)
    if offline:
        try:
            require("vl_convert", "notebooks", "offline charts in notebooks")
        except MissingExtraError as exc:
            warnings.warn(f"{exc}; charts load Vega from a CDN instead", stacklevel=2)
        else:
            alt.renderers.enable(RENDERER, template="inline")
    return alt.renderers.active


@dataclass(frozen=True)
class Knobs:
    """One choice of SNF's four knobs, in the units a reader thinks in. Defaults are the paper's
    (§9: T = 500 µs, B = 15 KB, K = 3, alpha = 0.25).

    timeout_us: the inactivity timeout T in µs (> 0). size_kb: the size threshold B in KB of
    1000 bytes (0: no size rule). replicas: K, units that get a proactive copy of an idle flow's
    state (an integer >= 0). alpha: the weight of "holds the flow's state" in the placement score,
    in [0, 1]."""

    timeout_us: float = 500.0
    size_kb: float = 15.0
    replicas: int = 3
    alpha: float = 0.25

    def __post_init__(self) -> None:
        for name in ("timeout_us", "size_kb", "alpha"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ParameterError(name, v, "a finite number")
        if self.timeout_us <= 0:
            raise ParameterError("timeout_us", self.timeout_us, "a timeout above 0 µs")
        if self.size_kb < 0:
            raise ParameterError("size_kb", self.size_kb, "a size of 0 KB (none) or more")
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int):
            raise ParameterError("replicas", self.replicas, "an integer >= 0")

    def params(self) -> dict[str, Any]:
        """The replay parameters (``timeout_ns``, ``size_bytes``, ``replicas``, ``alpha``);
        :func:`snfkit.replay` checks their ranges."""
        return {
            "timeout_ns": round(self.timeout_us * 1_000),
            "size_bytes": round(self.size_kb * 1_000),
            "replicas": self.replicas,
            "alpha": float(self.alpha),
        }

    def label(self) -> str:
        """``'T=500 µs, B=15 KB, K=3, alpha=0.25'``."""
        return (
            f"T={self.timeout_us:g} µs, B={self.size_kb:g} KB, K={self.replicas}, "
            f"alpha={self.alpha:g}"
        )


class ReplayPanel:
    """Replays of one trace for chosen knobs, kept side by side.

    ``trace``: a packets table, a :class:`~snfkit.prepared.PreparedTrace` or a
    :class:`snfkit.figures.Workload` (the trace is prepared once for every run). ``params``: other
    replay parameters for every run (``keep_packets`` is False unless given). ``nf``: the NF every
    run executes (None: no NF)."""

    def __init__(self, trace: Any, params: Mapping[str, Any] | None = None, nf: Any = None):
        from snfkit.figures import Workload
        from snfkit.prepared import PreparedTrace, prepare_trace

        if isinstance(trace, Workload):
            self.name = trace.name
            self.trace = trace.prepared_for(nf)
        elif isinstance(trace, PreparedTrace):
            self.name, self.trace = "trace", trace
        elif isinstance(trace, pl.DataFrame):
            self.name, self.trace = "packets", prepare_trace(trace)
        else:
            raise ParameterError(
                "trace", type(trace).__name__, "a packets table, a PreparedTrace or a Workload"
            )
        self.params = {"keep_packets": False, **dict(params or {})}
        for knob in ("timeout_ns", "size_bytes", "replicas", "alpha"):
            if knob in self.params:
                raise ParameterError("params", knob, "no knob of the panel (set it in run())")
        self.nf = nf
        self.runs: dict[str, Results] = {}

    def run(self, knobs: Knobs | None = None, **choice: Any) -> Results:
        """Replay with ``knobs`` (or ``Knobs(**choice)``: ``timeout_us``, ``size_kb``,
        ``replicas``, ``alpha``) and keep the result under its label (a run with the same label
        is replaced)."""
        from snfkit.runner import replay

        knobs = knobs if knobs is not None else Knobs(**choice)
        res = replay(self.trace, nf=self.nf, **self.params, **knobs.params())
        self.runs.pop(knobs.label(), None)
        self.runs[knobs.label()] = res
        return res

    def table(self) -> pl.DataFrame:
        """One row per run so far (:data:`PANEL_COLUMNS` that the runs report)."""
        from snfkit.figures import runs_table

        t = runs_table(self.runs)
        return t.select([c for c in PANEL_COLUMNS if c in t.columns])

    def chart(self):
        """Latency percentiles of the runs so far, side by side (one log axis)."""
        from snfkit import charts
        from snfkit.charts.titles import figure_subtitle

        data = charts.latency_percentiles_data(self.runs)
        return charts.latency_percentiles_chart(
            data,
            "Latency per choice of T, B, K, alpha",
            subtitle=figure_subtitle(self.name, self.runs),
            apart=[],
        )

    def widget(self):
        """An ipywidgets panel: sliders for T (µs, log steps), B (KB), K and alpha, a button that
        calls :meth:`run`, and an output area with :meth:`table` and :meth:`chart`."""
        from snfkit.extras import require

        w = require("ipywidgets", "notebooks", "the replay panel")
        d = Knobs()
        self.sliders = {
            "timeout_us": w.SelectionSlider(
                options=[20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000],
                value=round(d.timeout_us),
                description="T (µs)",
            ),
            "size_kb": w.SelectionSlider(
                options=[0, 1.5, 3, 7.5, 15, 30, 60, 120], value=d.size_kb, description="B (KB)"
            ),
            "replicas": w.IntSlider(value=d.replicas, min=0, max=9, description="K"),
            "alpha": w.FloatSlider(value=d.alpha, min=0.0, max=1.0, step=0.05, description="alpha"),
        }
        self.button = w.Button(description="replay", button_style="primary")
        self.output = w.Output()

        def on_click(_button) -> None:
            choice = {name: s.value for name, s in self.sliders.items()}
            self.button.disabled = True
            try:
                self.run(**choice)
            finally:
                self.button.disabled = False
            self.output.clear_output(wait=True)
            with self.output:
                from IPython.display import display

                display(self.table())
                display(self.chart())

        self.button.on_click(on_click)
        sliders = list(self.sliders.values())
        rows = [w.HBox(sliders[:2]), w.HBox(sliders[2:])]
        return w.VBox([*rows, self.button, self.output])
