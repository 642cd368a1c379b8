"""The billing check of docs/REPRODUCTION.md: is SNF's bill competitive with VMs (paper §3, Idea 1)?

For each real trace in ``../shared/traces`` (skipped when absent) and ``paper_like(seed=0, scale)``:
replays the four allocation modes (:func:`snfkit.billing.report.mode_runs`), bills each under every
model extrapolated to a month at the trace's rate, and prints (markdown) the cheapest model per
mode for the user and for the provider, SNF's and the VMs' monthly bills, and the per-flowlet fee at
which SNF's bill equals the VMs'. Then, on the paper-like trace at several offered loads, SNF
against the VMs (with the shipped Lambda request fee per flowlet, and with none), and the bills of
the serverless models at 1 ms and 100 ms rounding.
The SNF variants: ``snf`` (the shipped Lambda request fee, $0.20 per million, per flowlet),
``snf_no_fee`` (busy time only) and ``snf_fee_1e-9`` ($1 per billion flowlets).

Usage: ``python benchmarks/reproduce_billing.py [--scale 0.05] [--loads 0.1,0.5,1,2,5,10]``
(about a minute at the defaults).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from snfkit import figures as F  # noqa: E402
from snfkit.billing import compare  # noqa: E402
from snfkit.billing.report import (  # noqa: E402
    break_even_allocation_usd,
    cheapest,
    load_runs,
    mode_runs,
    rounding_table,
)
from snfkit.charts import cost_vs_load_data, crossovers  # noqa: E402
from snfkit.workloads import paper_like  # noqa: E402

REAL_TRACES = ("caida-nyc-2018-10k.pcap", "auckland-2000-31k.pcap")


def markdown(df: pl.DataFrame) -> str:
    def cell(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * df.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.05, help="paper_like scale (default 0.05)")
    ap.add_argument("--loads", default="0.1,0.5,1,2,5,10", help="offered loads in Gbps")
    args = ap.parse_args(argv)
    loads = [float(x) for x in args.loads.split(",")]

    traces: dict[str, pl.DataFrame] = {}
    for name in REAL_TRACES:
        path = F.shared_traces() / name
        if path.is_file():
            traces[name.split("-")[0]] = F.workload(path).packets
        else:
            print(f"{path}: absent, skipped", file=sys.stderr)
    synth = paper_like(0, args.scale)
    traces[f"paper_like({args.scale:g})"] = synth

    summary = []
    for name, packets in traces.items():
        runs = mode_runs(packets)
        table = compare(runs, scale_to="month")
        print(f"\n### {name}: cheapest model per mode, a month at the trace's rate (USD)\n")
        print(markdown(cheapest(table)))
        monthly = table.filter(pl.col("model").is_in(["snf", "vm", "vm_autoscaled"])).pivot(
            on="model", index="run", values="user_usd"
        )
        fee = break_even_allocation_usd(runs, "vm", scale_to="month")
        summary.append({"trace": name, **monthly.row(0, named=True), "break_even_fee_usd": fee})
    print(
        "\n### SNF against VMs, flowlet mode, USD per month; the per-flowlet fee that equalises\n"
    )
    print(markdown(pl.DataFrame(summary).drop("run")))

    by_load = load_runs(synth, loads)
    data = cost_vs_load_data(by_load, ["snf", "vm", "vm_autoscaled"], scale_to="month")
    variants = [data]
    for label, fee in (("snf_no_fee", 0.0), ("snf_fee_1e-9", 1e-9)):
        v = cost_vs_load_data(by_load, ["snf"], scale_to="month", snf_allocation_usd=fee)
        variants.append(v.with_columns(model=pl.lit(label)))
    both = pl.concat(variants)
    wide = both.pivot(on="model", index="load_gbps", values="user_usd")
    fees = [break_even_allocation_usd(r, "vm", scale_to="month") for r in by_load.values()]
    print("\n### paper_like at several loads, flowlet mode, USD per month\n")
    print(markdown(wide.with_columns(break_even_fee_usd=pl.Series(fees))))
    for model in ("snf", "snf_no_fee", "snf_fee_1e-9"):
        where = crossovers(both, ("flowlet", model), ("flowlet", "vm"))
        print(f"\n{model} crosses vm at loads (Gbps): {where or 'none in this range'}")

    rounding = rounding_table(mode_runs(synth), scale_to="month")
    print("\n### paper_like: serverless bills at 1 ms and 100 ms rounding, USD per month\n")
    print(markdown(rounding))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
