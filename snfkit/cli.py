"""The ``snfkit`` command: ingest traces, summarize them, replay them, and run a demo.

Errors about the input (a missing file, a malformed trace, a bad parameter) and parser errors (a
missing argument, an unknown option, an option value out of range) print one line,
``snfkit: error: <message>``, to stderr and exit with status 2; no traceback. Progress bars and
notes go to stderr, so stdout holds only the result (a table, or JSON with ``--json``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from snfkit import __version__

# typer's click: vendored as typer._click by recent typer, click itself before (not a dependency
# of snfkit in its own right); its exceptions module either way.
_click = getattr(typer.core, "_click", None) or typer.core.click  # type: ignore[attr-defined]
click_errors = _click.exceptions


class _SnfkitGroup(TyperGroup):
    """The ``snfkit`` command group: parser errors as one line, and a default in every help.

    Typer prints a parser error (a missing argument, a bad option value such as ``--workers 0``,
    an unknown option) as a boxed panel under the usage line; snfkit prints it like its input
    errors, one line ``snfkit: error: COMMAND: <message> (see 'snfkit COMMAND --help')`` on stderr,
    exit status 2. An option without a default value (None) and without its own ``show_default``
    text shows ``[default: none]``, so no option's help leaves its default unsaid.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            for p in command.params:
                if (
                    p.param_type_name == "option"
                    and not p.required
                    and not p.is_flag
                    and p.default is None
                    and not isinstance(p.show_default, str)
                ):
                    p.show_default = "none"

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            # Not standalone, typer returns the exit code of a typer.Exit (and of --help).
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_errors.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # click >= 8.2: 'snfkit' alone
                text = exc.format_message()  # typer's rich help has printed itself: ""
                if text.strip():
                    typer.echo(text, err=True)
                sys.exit(exc.exit_code)
            typer.echo(_usage_error_line(exc), err=True)
            sys.exit(
                EXIT_INPUT_ERROR if isinstance(exc, click_errors.UsageError) else exc.exit_code
            )
        except click_errors.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error_line(exc: Exception) -> str:
    """``snfkit: error: info: Missing argument 'trace'. (see 'snfkit info --help')``."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    words = ctx.command_path.split()[1:] if ctx is not None else []
    command = " ".join(["snfkit", *words])
    where = f"{' '.join(words)}: " if words else ""
    return f"snfkit: error: {where}{message} (see '{command} --help')"


app = typer.Typer(
    cls=_SnfkitGroup,
    name="snfkit",
    help=(
        "Replay packet traces through SNF (serverless network functions, SoCC '20) and its "
        "baselines. Run 'snfkit demo' for a first look, 'snfkit COMMAND --help' for details."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

EXIT_INPUT_ERROR = 2
"""Exit status for bad input (same as a usage error)."""

MODE_TABLE_KEYS = (
    "packets_in",
    "packets_processed",
    "latency_us",
    "latency_mean_us",
    "latency_max_us",
    "mean_active_units",
    "max_active_units",
    "allocations",
    "opportunities",
    "overflow",
)
"""Keys of ``Results.summary`` (:data:`snfkit.results.SUMMARY_KEYS`) that ``modes.csv`` shows, in
column order (:func:`snfkit.figures.runs_table`: ``latency_us`` becomes ``p1_us`` ... ``p99.9_us``)."""


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def _stdout():
    from rich.console import Console

    return Console()


def _fail(message: str) -> typer.Exit:
    one_line = " ".join(str(message).split())
    typer.echo(f"snfkit: error: {one_line}", err=True)
    return typer.Exit(EXIT_INPUT_ERROR)


def _input_errors(func: Callable) -> Callable:
    """Turn snfkit's input errors into a one-line message on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from snfkit.errors import SnfkitError

        try:
            return func(*args, **kwargs)
        except (SnfkitError, OSError) as exc:
            raise _fail(str(exc)) from None

    return wrapper


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A transient progress bar on stderr (none when stderr is not a terminal), fed by a
    ``(done, total)`` callback."""
    from snfkit.progress import progress_bar

    with progress_bar(description, console=_stderr(), transient=True) as update:
        yield update


def _read(path: Path, *, strict: bool = True, payload_bytes: int = 0):
    """Read a trace (any format) with a progress bar; print what was skipped or noted to stderr."""
    from snfkit.errors import format_skips
    from snfkit.traces import read_trace

    with _progress_bar(f"reading {path.name}") as update:
        result = read_trace(path, strict=strict, payload_bytes=payload_bytes, progress=update)
    if any(result.skipped.values()):
        typer.echo(
            f"{result.path}: skipped {sum(result.skipped.values())} of {result.records} records "
            f"({format_skips(result.skipped)})",
            err=True,
        )
    if any(result.notes.values()):
        typer.echo(f"{result.path}: notes: {format_skips(result.notes)}", err=True)
    return result


def _print_table(df, title: str) -> None:
    """A table on stdout, numbers rounded (:func:`snfkit.display.format_number`)."""
    import polars as pl
    from rich.table import Table

    from snfkit.display import format_number

    table = Table(title=title)
    for name in df.columns:
        table.add_column(name, justify="left" if df.schema[name] == pl.String else "right")
    for row in df.iter_rows():
        table.add_row(*(v if isinstance(v, str) else format_number(v) for v in row))
    _stdout().print(table)


def _skip_charts(what: str, exc: Exception) -> None:
    """A chart export needs an extra that is not installed: say so and go on."""
    typer.echo(f"{what} skipped: {exc}", err=True)


def _write_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"snfkit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Replay packet traces through SNF (serverless network functions) and its baselines."""
    _announce_compiles()


@functools.cache  # (once per process: the callback runs at each invocation of the app)
def _announce_compiles():
    """Print the first-run notice on stderr when a kernel compiles (:mod:`snfkit.warmup`), if
    stderr is a terminal (like the progress bars: a log or a pipe gets only results and errors,
    so an error stays one line)."""
    from snfkit.warmup import announce_compiles

    def notice(text: str) -> None:
        if _stderr().is_terminal:
            typer.echo(text, err=True)

    return announce_compiles(notice)


@app.command()
@_input_errors
def ingest(
    trace: Annotated[Path, typer.Argument(help="pcap, pcapng, parquet or CSV (maybe gz/xz/zst).")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Output: x.parquet, or x.csv; add .gz/.xz/.zst to compress."
        ),
    ],
    strict: Annotated[
        bool,
        typer.Option(
            "--strict/--lenient",
            help="Strict: stop at the first malformed record. Lenient: skip and count it.",
        ),
    ] = True,
    payload_bytes: Annotated[
        int,
        typer.Option("--payload-bytes", min=0, help="Keep up to N payload bytes per packet."),
    ] = 0,
) -> None:
    """Read a trace file and write its packets table (parquet, or CSV) for fast reloading."""
    import polars as pl

    from snfkit.traces.schema import PACKETS_SCHEMA
    from snfkit.traces.tabular import write_packets

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".partial-{out.name}")  # same suffixes: same format and compression
    try:
        # An empty table first: a bad output name fails before a long read, not after it.
        write_packets(pl.DataFrame(schema=PACKETS_SCHEMA), tmp)
        result = _read(trace, strict=strict, payload_bytes=payload_bytes)
        write_packets(result.packets, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    flows = result.packets["flow_id"].max() if result.packets.height else -1
    typer.echo(
        f"{out}: {result.packets.height:,} packets, {flows + 1:,} flows "
        f"(from {result.format}{'/' + result.compression if result.compression else ''})"
    )
    if not any(result.skipped.values()):
        typer.echo("skipped: none", err=True)


def _summary(packets, timeout_us: list[int] | None, size_bytes: int) -> dict:
    from snfkit.traces.summary import trace_summary

    timeouts = timeout_us or [100, 500]
    return trace_summary(packets, [t * 1000 for t in timeouts], size_bytes)


TimeoutOpt = Annotated[
    list[int] | None,
    typer.Option(
        "--timeout-us",
        min=1,
        help="Flowlet timeout T in us (>= 1, as replay requires); repeat for several.",
        show_default="100 and 500",
    ),
]
SizeOpt = Annotated[
    int,
    typer.Option("--size-bytes", min=0, help="Flowlet size threshold B in bytes (0: none)."),
]


@app.command()
@_input_errors
def info(
    trace: Annotated[Path, typer.Argument(help="Trace file (any supported format).")],
    timeout_us: TimeoutOpt = None,
    size_bytes: SizeOpt = 15_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarize a trace: packets, flows, rate, size quantiles, flowlets, protocols."""
    from snfkit.traces.summary import summary_table

    packets = _read(trace).packets
    d = _summary(packets, timeout_us, size_bytes)
    if as_json:
        typer.echo(_write_json(d))
    else:
        _print_table(summary_table(d), f"{trace.name}")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _transpose(modes):
    """modes table -> one row per metric, one column per mode (narrow enough for a terminal)."""
    import polars as pl

    cols = {"metric": modes.columns[1:]}
    for row in modes.iter_rows(named=True):
        cols[row["mode"]] = [row[c] for c in modes.columns[1:]]
    return pl.DataFrame(
        cols, schema={"metric": pl.String(), **{m: pl.Float64() for m in cols if m != "metric"}}
    )


def _demo_packets(trace: Path | None, seed: int, max_packets: int | None):
    if trace is not None:
        packets = _read(trace).packets
    else:
        from snfkit.workloads import presets

        packets = presets.small_demo(seed)
    if max_packets is not None and packets.height > max_packets:
        # Flow ids are dense in first-seen order, so a prefix keeps them dense.
        packets = packets.head(max_packets)
    return packets


@app.command()
@_input_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs.")] = Path(
        "demo-out"
    ),
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Use this trace instead of a synthetic one.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic trace.")] = 0,
    max_packets: Annotated[
        int | None,
        typer.Option("--max-packets", min=1, help="Keep only the first N packets (quick runs)."),
    ] = None,
) -> None:
    """Summarize a small synthetic trace (or --trace) and compare the allocation modes.

    Writes into OUT: summary.json, trace_summary.csv/.parquet, modes.csv (one row per mode),
    epochs_<mode>.csv, latency_percentiles.csv, billing.csv (each mode under each billing
    model), two charts (latency_percentiles.html,
    provisioning.html) and figures/ (the paper's figures on the small grids of 'snfkit figures
    --small', as PNG and HTML, with claims.md and index.html).
    """
    from snfkit import charts, replay
    from snfkit.figures import runs_table
    from snfkit.params import MODES
    from snfkit.traces.summary import summary_table

    packets = _demo_packets(trace, seed, max_packets)
    d = _summary(packets, None, 15_000)
    table = summary_table(d)
    out.mkdir(parents=True, exist_ok=True)
    _print_table(table, "trace" if trace is None else trace.name)
    table.write_csv(out / "trace_summary.csv")
    table.write_parquet(out / "trace_summary.parquet")
    doc: dict[str, Any] = {"trace": str(trace) if trace else f"small_demo(seed={seed})", **d}

    runs = {}
    for mode in MODES:
        with _progress_bar(f"replay {mode}") as update:
            runs[mode] = replay(packets, mode=mode, progress=update)
    modes = runs_table(runs, MODE_TABLE_KEYS).rename({"run": "mode"})
    modes.write_csv(out / "modes.csv")
    _print_table(_transpose(modes), "allocation modes (modes.csv)")
    for mode, res in runs.items():
        res.epochs.write_csv(out / f"epochs_{mode}.csv")
    from snfkit.errors import MissingExtraError

    lat = charts.latency_percentiles_data(runs)
    lat.write_csv(out / "latency_percentiles.csv")
    prov = charts.provisioning_data(runs)
    from snfkit.billing import compare, pivot

    bills = compare(runs)
    bills.write_csv(out / "billing.csv")
    _print_table(pivot(bills), "bill in USD, model x mode (billing.csv; snfkit bill --help)")
    doc["modes"] = {mode: res.summary for mode, res in runs.items()}
    label = trace.name if trace is not None else f"small_demo(seed={seed})"
    try:
        html = ("html",)
        charts.save_chart(charts.latency_percentiles_chart(lat), out / "latency_percentiles", html)
        charts.save_chart(charts.provisioning_chart(prov), out / "provisioning", html)
        _figures(packets, label, out / "figures", params={}, small=True, formats=("png", "html"))
    except MissingExtraError as exc:
        _skip_charts("charts and figures", exc)
    (out / "summary.json").write_text(_write_json(doc) + "\n")
    typer.echo(f"wrote {out}/")


def _figures(packets, label: str, out: Path, *, params: dict, small: bool, formats) -> Any:
    """Run and write the paper's figures (snfkit.figures) with one progress bar per phase."""
    from snfkit import figures as F

    wl = F.Workload.from_packets(packets, label)
    with _progress_bar(f"figures: replays of {label}") as update:
        fd = F.compute_figures(wl, params, small=small, progress=update)
    with _progress_bar("figures: drawing") as update:
        written = F.write_figures(fd, out, formats, progress=update)
    typer.echo(f"wrote {len(written)} files to {out}/ (open {out / 'index.html'})", err=True)
    return fd


_INT = re.compile(r"[+-]?\d+")


def parse_param(text: str) -> tuple[str, Any]:
    """``'alpha=0.25'`` -> ``('alpha', 0.25)``: int, then float, then true/false, else a string."""
    from snfkit.errors import ParameterError

    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise ParameterError("--param", text, "name=value with a Python identifier as the name")
    raw = raw.strip()
    if _INT.fullmatch(raw.replace("_", "")):
        return name, int(raw)
    try:
        return name, float(raw)
    except ValueError:
        pass
    if raw.lower() in ("true", "false"):
        return name, raw.lower() == "true"
    return name, raw


REPLAY_KEYWORDS = ("nf", "chunk_size", "keep_state_sources")
"""``--param`` names that are keywords of :func:`snfkit.replay` rather than ReplayParams names."""


def replay_options(mode: str, params: list[tuple[str, Any]]) -> dict[str, Any]:
    """``snfkit replay``'s keywords for :func:`snfkit.replay`, checked before any input is read.

    The mode and every ``--param`` are validated here (:meth:`snfkit.ReplayParams.from_flat`: names,
    ranges and choices such as ``state_mode`` and ``replication_policy``; ``nf`` against the
    built-in NFs), so a typo fails at once rather than after parsing a whole trace.
    """
    from snfkit.errors import ParameterError
    from snfkit.params import ReplayParams

    flat: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in params:
        (extra if name in REPLAY_KEYWORDS else flat)[name] = value
    if "mode" in flat and flat["mode"] != mode:
        raise ParameterError("mode", flat["mode"], f"--mode or --param mode, not both ({mode!r})")
    flat["mode"] = mode
    ReplayParams.from_flat(**flat)
    nf = extra.get("nf")
    if nf is not None:
        from snfkit.nf import NFS

        if nf not in NFS:
            raise ParameterError("nf", nf, "one of " + ", ".join(repr(k) for k in NFS))
    chunk = extra.get("chunk_size", 1)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ParameterError("chunk_size", chunk, "an integer >= 1")
    keep = extra.get("keep_state_sources", False)
    if not isinstance(keep, bool):
        raise ParameterError("keep_state_sources", keep, "true or false")
    return {**flat, **extra}


@app.command("replay")
@_input_errors
def replay_cmd(
    trace: Annotated[Path, typer.Argument(help="Trace file (any supported format).")],
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="flowlet, flow, smart_flow or packet.")
    ] = "flowlet",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Replay parameter name=value (repeatable): any snfkit.ReplayParams name, or nf, "
            "chunk_size, keep_state_sources.",
            show_default="the paper's values",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the result tables.", show_default="not saved"),
    ] = None,
    fail: Annotated[
        list[str] | None,
        typer.Option(
            "--fail",
            help="A failure to inject (repeatable), as KIND@TIME or KIND:TARGET@TIME, the time "
            "in ns, us, ms or s after the trace's first packet and KIND one of unit, ol, "
            "controller, unit+controller, ol+controller, unit+ol; e.g. unit:3@10ms or "
            "controller@20ms. Recovery per the recovery parameter (snf, chc or ftmb).",
            show_default="none",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Replay a trace in one allocation mode; save the result tables and print the summary."""
    from snfkit import replay
    from snfkit.faults import parse_failure

    params = replay_options(mode, [parse_param(p) for p in param or []])
    failures = [parse_failure(f) for f in fail or []]  # checked before the trace is read
    packets = _read(trace).packets
    with _progress_bar(f"replay {mode}") as update:
        results = replay(packets, progress=update, failures=failures, **params)
    if out is not None:
        results.save(out)
        typer.echo(f"wrote {out}/", err=True)
    if as_json:
        typer.echo(_write_json(results.summary))
    else:
        import polars as pl

        from snfkit.display import format_number

        flat = _flatten(results.summary)
        values = [
            format_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
            for v in flat.values()
        ]
        _print_table(pl.DataFrame({"metric": list(flat), "value": values}), f"{trace.name}: {mode}")


@app.command()
@_input_errors
def sweep(
    config: Annotated[Path, typer.Argument(help="Study config (TOML), e.g. sweeps/x.toml.")],
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage URL (sqlite:///..., postgresql://...).",
            show_default="sqlite: CONFIG's folder/CONFIG-stem.db",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Trial processes sharing the storage and one prepared trace; 1: in this process.",
            show_default="one per core",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials",
            "-n",
            min=1,
            help="COMPLETE trials to reach.",
            show_default="the config's n_trials",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for trials.parquet and the study's charts.",
            show_default="not written",
        ),
    ] = None,
) -> None:
    """Run or resume an Optuna study of replay parameters (docs/sweeps.md).

    Runs trials until the study has N COMPLETE ones, one trial process per core unless
    --workers says otherwise; stop it (Ctrl-C) and run the same command again to continue. Prints the best trial, or the Pareto front of a multi-objective study, and
    the optuna-dashboard command that opens the study.
    """
    from snfkit.sweeps import best_table, load_config, run_study, study_counts, write_trials
    from snfkit.sweeps.charts import study_charts
    from snfkit.sweeps.dashboard import dashboard_command
    from snfkit.sweeps.study import workers_note

    cfg = load_config(config)
    if trials is not None:
        cfg = cfg.with_trials(trials)

    def announce(processes: int, why: str) -> None:
        typer.echo(f"{cfg.name}: {workers_note(processes, why, '--workers 1')}", err=True)

    try:
        with _progress_bar(f"sweep {cfg.name}") as update:
            run = run_study(
                cfg, storage=storage, workers=workers, progress=update, announce=announce
            )
    except KeyboardInterrupt:
        from snfkit.sweeps import open_study

        counts = study_counts(open_study(cfg, storage))
        typer.echo(
            f"interrupted: {counts.get('COMPLETE', 0)} of {cfg.n_trials} trials complete; "
            "run the same command again to continue",
            err=True,
        )
        raise typer.Exit(130) from None
    typer.echo(
        f"{cfg.name}: {run.complete} complete, {run.failed} failed trials "
        f"({run.new_trials} new, {run.elapsed_s:.1f} s) in {run.storage}",
        err=True,
    )
    best = best_table(run.study)
    objectives = run.study.user_attrs.get("objectives") or []
    params = [p.name for p in cfg.search]
    cols = ["number", *objectives, *[p for p in params if p in best.columns]]
    cols += [c.metric for c in cfg.constraints if c.metric not in cols]
    title = "Pareto front" if cfg.multi_objective else "best trial"
    if best.height:
        _print_table(best.select(cols), f"{cfg.name}: {title}")
    else:
        typer.echo("no feasible complete trial yet", err=True)
    if out is not None:
        from snfkit.errors import MissingExtraError

        write_trials(run.study, out / "trials.parquet")
        try:
            written = study_charts(run.study, out)
        except MissingExtraError as exc:
            _skip_charts("study charts", exc)
            written = []
        typer.echo(f"wrote {out}/ (trials.parquet, {len(written)} charts)", err=True)
    typer.echo(f"open the study in optuna-dashboard: {dashboard_command(run.storage)}", err=True)


@app.command("figures")
@_input_errors
def figures_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figures.")],
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Trace file (any format).", show_default="a synthetic trace"),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(
            "--scale",
            min=0.0,
            help="Without --trace: paper_like(seed, scale).",
            show_default="small_demo(seed)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic trace.")] = 0,
    max_packets: Annotated[
        int | None,
        typer.Option(
            "--max-packets",
            min=1,
            help="Keep only the first N packets (quick runs).",
            show_default="all",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Replay parameter name=value for every run.",
            show_default="the paper's values",
        ),
    ] = None,
    small: Annotated[
        bool,
        typer.Option("--small", help="Reduced grids: NAT only, K x alpha 3x3, three B values."),
    ] = False,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="png, svg or html (repeatable).",
            show_default="png, svg and html",
        ),
    ] = None,
    claims: Annotated[
        bool,
        typer.Option(
            "--claims", help="Also print the paper's claims beside this trace (markdown)."
        ),
    ] = False,
) -> None:
    """Regenerate the paper's figures (Figs 1-4, 7, 8, opportunities) on a trace.

    Writes into OUT, per figure: <name>.png/.svg/.html and its data <name>.csv; claims.md (each
    paper claim beside this trace's number) and index.html (all figures on one page).
    """
    from snfkit.errors import ParameterError
    from snfkit.figures import claims_markdown, claims_table

    formats = tuple(f.lower() for f in (fmt or ["png", "svg", "html"]))
    bad = [f for f in formats if f not in ("png", "svg", "html")]
    if bad:
        raise ParameterError("--format", bad[0], "png, svg or html")
    params = dict(parse_param(p) for p in param or [])
    if trace is not None:
        packets, label = _read(trace).packets, trace.name
    elif scale is not None:
        from snfkit.workloads import paper_like

        packets, label = paper_like(seed, scale), f"paper_like(seed={seed}, scale={scale:g})"
    else:
        from snfkit.workloads import small_demo

        packets, label = small_demo(seed), f"small_demo(seed={seed})"
    if max_packets is not None and packets.height > max_packets:
        packets = packets.head(max_packets)
        label = f"{label}, first {max_packets:,} packets"
    if packets.height == 0:
        raise ParameterError("--trace", str(trace), "a trace with at least one packet")
    out.mkdir(parents=True, exist_ok=True)
    fd = _figures(packets, label, out, params=params, small=small, formats=formats)
    if claims:
        typer.echo(claims_markdown(claims_table(fd), fd.workload))


BILL_COLUMNS = ("run", "model", "user_usd", "provider_usd", "margin_usd", "usd_per_gb")
"""Columns of ``snfkit bill``'s table (``--json`` prints every column of the comparison)."""


def _bill_table(table):
    """The comparison's :data:`BILL_COLUMNS`, amounts to 4 significant digits (a terminal's width)."""
    import polars as pl

    money = [c for c in BILL_COLUMNS if c.endswith(("_usd", "_gb"))]
    return table.select(BILL_COLUMNS).with_columns(
        pl.col(c).map_elements(lambda v: f"{v:.4g}", return_dtype=pl.String) for c in money
    )


@app.command("bill")
@_input_errors
def bill_cmd(
    runs: Annotated[
        list[Path], typer.Argument(help="Folders of saved results ('snfkit replay --out').")
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Billing model or group (repeatable): per_packet, per_flow, per_flowlet, snf, "
            "vm, vm_autoscaled, managed_nat_gateway, managed_network_firewall, managed_gwlb; "
            "groups managed, serverless. All models when not given.",
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="Price table (CSV); the shipped table when not given."),
    ] = None,
    granularity_ms: Annotated[
        float | None,
        typer.Option("--granularity-ms", help="Function billing granularity in ms."),
    ] = None,
    scale_to: Annotated[
        str | None,
        typer.Option("--scale-to", help="Extrapolate to hour, day, month, or N seconds."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every row as JSON.")] = False,
) -> None:
    """Bill saved replays under billing models: user cost, provider cost, margin, $/GB.

    One row per run and model (docs/billing.md has every formula). A run is named by its folder.
    """
    from snfkit.billing import compare

    names = [p.name for p in runs]
    if len(set(names)) < len(names):
        names = [str(p) for p in runs]
    target: float | str | None = scale_to
    if scale_to is not None and _INT.fullmatch(scale_to.replace(".", "", 1)):
        target = float(scale_to)
    options = {} if granularity_ms is None else {"granularity_ms": granularity_ms}
    table = compare(dict(zip(names, runs, strict=True)), model, prices, scale_to=target, **options)
    if as_json:
        typer.echo(_write_json(table.to_dicts()))
    else:
        _print_table(_bill_table(table), "bills in USD")


@app.command()
def warmup() -> None:
    """Compile the numba kernels ahead of a first run (a container image, a shared machine).

    A first run compiles the kernels it uses (about half a minute for the demo) and keeps them in
    numba's on-disk cache (next to snfkit's sources, or in NUMBA_CACHE_DIR); this compiles the
    kernels of the demo, replay, info, ingest and figures on a tiny synthetic trace. With the
    kernels already cached it takes a few seconds.
    """
    from numba.core import config

    from snfkit.warmup import STEPS, warm_up

    with _progress_bar(f"warm-up: {', '.join(STEPS)}") as update:
        done = warm_up(progress=update)
    where = config.CACHE_DIR or "the __pycache__ folders next to snfkit's sources"
    if done.kernels:
        typer.echo(f"compiled {done.kernels} kernels in {done.seconds:.0f} s; cached in {where}")
    else:
        typer.echo(f"every kernel was already compiled (cached in {where})")


if __name__ == "__main__":
    app()
