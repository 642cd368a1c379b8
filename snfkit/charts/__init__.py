"""Charts in pairs: ``*_data()`` returns the tidy polars frame that is drawn (tested), ``*_chart()``
only draws it with altair, in one theme (:mod:`snfkit.charts.theme`, enabled on import).
:func:`save_chart` writes PNG / SVG (vl-convert) and standalone HTML.

- compute management (Figs 1-3): :func:`provisioning_data`, :func:`latency_percentiles_data`,
  :func:`utilization_data`, :func:`utilization_box_data`, :func:`utilization_bands_data`, :func:`opportunities_data`
- state management (Fig 4): :func:`state_latency_data`, :func:`state_sources_data`
- adversarial flowlets (Fig 5): :func:`adversarial_data`
- sensitivity (Figs 7, 8): :func:`k_alpha_data`, :func:`size_threshold_data`
- interactive (notebooks): :func:`latency_over_time_data` with :func:`provisioning_latency_chart`
  (brush a time window, pick a mode from the legend)
- titles (:mod:`snfkit.charts.titles`): :func:`figure_subtitle` names the trace and the settings
  that differ from the defaults; every ``*_chart`` takes ``subtitle=``
- failures (§9.4, :mod:`snfkit.faults`): :func:`recovery_data`, :func:`latency_around_failure_data`
- billing (:mod:`snfkit.billing`): :func:`cost_components_data`, :func:`cost_vs_load_data`,
  :func:`crossovers`

Inputs are mappings from a label (a mode name, ``(nf, state_mode)``, ``(K, alpha)``, ``B``) to a
:class:`~snfkit.results.Results`; :mod:`snfkit.figures` builds them.
"""

from snfkit.charts import theme
from snfkit.charts.adversarial import adversarial_chart, adversarial_data
from snfkit.charts.billing import (
    cost_components_chart,
    cost_components_data,
    cost_vs_load_chart,
    cost_vs_load_data,
    crossovers,
)
from snfkit.charts.compute import (
    PERCENTILE_ORDER,
    UTILIZATION_BANDS,
    apart_runs,
    latency_over_time_data,
    latency_percentiles_chart,
    latency_percentiles_data,
    opportunities_chart,
    opportunities_data,
    provisioning_chart,
    provisioning_data,
    provisioning_latency_chart,
    utilization_bands_chart,
    utilization_bands_data,
    utilization_box_data,
    utilization_chart,
    utilization_data,
)
from snfkit.charts.controllers import SETUPS, overprovision_chart, overprovision_data
from snfkit.charts.export import save_chart, to_html, to_png, to_svg
from snfkit.charts.faults import (
    PAPER_RECOVERY_US,
    latency_around_failure_chart,
    latency_around_failure_data,
    recovery_chart,
    recovery_data,
)
from snfkit.charts.sensitivity import (
    METRICS,
    k_alpha_chart,
    k_alpha_data,
    metric_scale,
    metric_values,
    size_threshold_chart,
    size_threshold_data,
)
from snfkit.charts.state import (
    moved_flowlets,
    seamless_chart,
    state_latency_chart,
    state_latency_data,
    state_sources_data,
)
from snfkit.charts.titles import common_settings, figure_subtitle, settings_text

theme.register(enable=True)

__all__ = [
    "METRICS",
    "PAPER_RECOVERY_US",
    "PERCENTILE_ORDER",
    "SETUPS",
    "UTILIZATION_BANDS",
    "adversarial_chart",
    "adversarial_data",
    "apart_runs",
    "common_settings",
    "cost_components_chart",
    "cost_components_data",
    "cost_vs_load_chart",
    "cost_vs_load_data",
    "crossovers",
    "figure_subtitle",
    "k_alpha_chart",
    "k_alpha_data",
    "latency_around_failure_chart",
    "latency_around_failure_data",
    "latency_over_time_data",
    "latency_percentiles_chart",
    "latency_percentiles_data",
    "metric_scale",
    "metric_values",
    "moved_flowlets",
    "opportunities_chart",
    "opportunities_data",
    "overprovision_chart",
    "overprovision_data",
    "provisioning_chart",
    "provisioning_data",
    "provisioning_latency_chart",
    "recovery_chart",
    "recovery_data",
    "save_chart",
    "seamless_chart",
    "settings_text",
    "size_threshold_chart",
    "size_threshold_data",
    "state_latency_chart",
    "state_latency_data",
    "state_sources_data",
    "theme",
    "to_html",
    "to_png",
    "to_svg",
    "utilization_bands_chart",
    "utilization_bands_data",
    "utilization_box_data",
    "utilization_chart",
    "utilization_data",
]
