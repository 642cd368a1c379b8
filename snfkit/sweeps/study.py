"""Run an Optuna study from a :class:`~snfkit.sweeps.config.StudyConfig`: storage, workers, resume.

Storage: any Optuna RDB URL (``sqlite:///...``, ``postgresql://user@host/db``, ...); by default an
SQLite file beside the config (:meth:`StudyConfig.default_storage`). Storages are opened with a
heartbeat (every :data:`HEARTBEAT_S` s): a trial whose worker was killed stops beating and is marked
FAIL by the next worker that looks, :data:`GRACE_S` s after its last beat.

Counting: ``n_trials`` is the number of COMPLETE trials the study should have. Each worker, before a
trial, counts COMPLETE and RUNNING trials: it stops at ``n_trials`` complete, waits while the running
ones could still make up the rest, and otherwise runs one more. A trial asked for in a race with
another worker that would exceed ``n_trials`` is recorded as FAIL (reason ``surplus``) without a
replay. So a study stopped with Ctrl-C (its running trial is recorded as FAIL, reason
``interrupted``) or killed (its running trial goes stale) and run again ends with exactly
``n_trials`` COMPLETE trials, none twice.

Failures: a trial whose parameters are rejected or whose replay raises is recorded as FAIL with the
reason in the user attribute ``fail_reason``; the study goes on.

Starting together: several sweeps (or workers) opening the same fresh storage at once would race
to create its schema, and all but one used to fail ("table studies already exists", a UNIQUE
constraint on ``alembic_version``). An SQLite storage is created under an exclusive lock on a file
beside it (``<file>.db-lock``, left in place: it is empty); any storage whose creation fails that
way (PostgreSQL from several machines) is opened again once the winner has created it.

Workers: by default a study runs one trial process per core (:func:`default_workers`), never
more than the trials it still needs; ``workers=1`` runs the trials in the calling process only.
With N > 1 the calling process is worker 0 and starts N - 1 more. It loads and prepares the trace
once and writes the prepared arrays to a temporary folder (:func:`snfkit.sweeps.trace.share`);
the other workers map them read-only (:func:`~snfkit.sweeps.trace.open_shared`) instead of
loading the trace again. Metrics registered by the caller
(:func:`snfkit.metrics.register_metric`) travel to the workers when a new process can import
their function; a study whose objective or constraint needs one that cannot (a lambda, a
function defined in a notebook) runs in the calling process by default, and is an error with an
explicit ``workers`` > 1.

A killed parent (several workers): each worker watches the process that started it (every
:data:`POLL_S` s). When that parent is gone (SIGKILL, a crash) the worker records its running
trial, and the parent's, as FAIL (``fail_reason`` names the dead parent), removes the temporary
folder holding the shared trace (``$TMPDIR/snfkit-sweep-<parent pid>-*``) and exits, instead of
running trials unattended. A folder whose owner pid is no longer alive (say, the workers were
killed too) is removed by the next run with several workers on the machine.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from snfkit.errors import ConfigError, ParameterError, SnfkitError
from snfkit.metrics import METRICS, Metric, compute_metrics
from snfkit.progress import ProgressCallback, progress_reporter
from snfkit.sweeps.config import StudyConfig
from snfkit.sweeps.samplers import make_sampler, trial_seed
from snfkit.sweeps.trace import TraceSpec, load_packets, open_shared, prepare, run_replay, share

HEARTBEAT_S = 10
"""Seconds between a running trial's heartbeats."""
GRACE_S = 60
"""A RUNNING trial whose last heartbeat is older than this is marked FAIL (its worker is gone).
The replay kernel holds the GIL for one chunk of packets at a time
(:data:`snfkit.sweeps.trace.CHUNK_PACKETS`), during which the heartbeat thread cannot run; the grace
period is many times the longest chunk seen at paper scale (a few seconds)."""
POLL_S = 1.0
"""How often a worker process checks that its parent is alive."""
WAIT_S = 0.25
"""How often a worker waiting for other workers' last trials looks at the storage."""

CONFIG_ATTR = "snfkit_config"
"""Study user attribute holding :meth:`StudyConfig.fingerprint` (checked when a study resumes)."""

FAIL_ERROR, FAIL_INTERRUPTED, FAIL_SURPLUS = "error", "interrupted", "surplus"

TEMP_PREFIX = "snfkit-sweep-"
"""Temporary folders of runs with several workers (the shared prepared trace) are
``$TMPDIR/snfkit-sweep-<parent pid>-<random>``."""
_ORPHANED = threading.Event()
"""Set in a worker process whose parent has died (see :func:`_watch_parent`)."""
_IN_OBJECTIVE = threading.Event()
"""Set while a trial's objective runs, its trial already labelled with its worker: the parent
watcher interrupts the main thread only then (an interrupt between Optuna's steps could leave an
unlabelled trial RUNNING, which no cleanup could tell from another process's)."""


@dataclass
class SweepRun:
    """What :func:`run_study` did. ``complete`` and ``failed`` count the whole study (earlier runs
    included); ``new_trials`` the trials this call added (any state)."""

    study: Any
    storage: str
    n_trials: int
    complete: int
    failed: int
    new_trials: int
    elapsed_s: float


class _Surplus(Exception):
    pass


# -- storage ----------------------------------------------------------------------------------


def storage_url(config: StudyConfig, storage: str | None = None) -> str:
    """``storage`` if given, else the config's default SQLite file."""
    return storage if storage else config.default_storage()


_SCHEMA_RACE = re.compile(
    r"already exists|UNIQUE constraint failed|duplicate key value|DuplicateTable|database is locked",
    re.IGNORECASE,
)
"""Errors of a storage creation that lost a race with another process creating the same schema."""
SCHEMA_RETRY_S = 1.0
"""Pause before opening a storage again whose schema creation lost a race."""


def make_storage(url: str, *, source: Any = None):
    """An Optuna RDBStorage with heartbeats; connection problems raise :class:`ConfigError`.

    Safe to call from several processes at once on a fresh storage (module docstring).
    """
    import optuna

    url = _with_driver(url)
    if url.startswith("postgresql+psycopg2://"):
        from snfkit.extras import require

        require("psycopg2", "postgres", "a PostgreSQL sweep storage")
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    lock: contextlib.AbstractContextManager = contextlib.nullcontext()
    if path and not path.startswith(":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs: dict[str, Any] = {"creator": functools.partial(_sqlite_connect, path)}
        lock = _file_lock(Path(path + "-lock"))
    else:
        engine_kwargs = {"pool_pre_ping": True}

    def create():
        with quiet_optuna():
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
            )

    try:
        with lock:
            try:
                return create()
            except Exception as exc:
                if not _SCHEMA_RACE.search(str(exc)):
                    raise
            time.sleep(SCHEMA_RETRY_S)  # another process is creating the schema: let it finish
            return create()
    except Exception as exc:  # sqlalchemy's errors (bad URL, no server, no driver)
        msg = " ".join(str(exc).split())[:300]
        raise ConfigError(source, "storage", f"cannot open {url!r}: {msg}") from None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing) across processes and threads, where
    ``fcntl`` exists; elsewhere no lock (the retry in :func:`make_storage` remains)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _sqlite_connect(path: str):
    """An SQLite connection in WAL mode with synchronous=NORMAL: readers do not block the writer
    (several workers, a dashboard) and a commit costs no fsync (halves the per-trial overhead); a
    crash may lose the last commits, never corrupt the file. Waits up to 60 s for a lock."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=60, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 (the declared driver) unless psycopg 3 is installed:
    SQLAlchemy >= 2.1 picks psycopg 3 for a bare ``postgresql://``."""
    import importlib.util

    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


def open_study(config: StudyConfig, storage: str | None = None):
    """Create the config's study in ``storage`` or load it; a study of the same name made from a
    different config (trace, fixed parameters, search space, objectives, constraints) is an error."""
    import optuna

    url = storage_url(config, storage)
    st = make_storage(url, source=config.source)
    with quiet_optuna():
        study = optuna.create_study(
            study_name=config.name,
            storage=st,
            directions=config.directions,
            load_if_exists=True,
        )
    stored = study.user_attrs.get(CONFIG_ATTR)
    mine = config.fingerprint()
    if stored is None:
        study.set_user_attr(CONFIG_ATTR, mine)
        study.set_user_attr("objectives", config.metric_names)
    elif stored != mine:
        old, new = json.loads(stored), json.loads(mine)
        parts = [k for k in new if old.get(k) != new.get(k)]
        raise ConfigError(
            config.source,
            "study.name",
            f"study {config.name!r} in {url} was made from a different config "
            f"({', '.join(parts)} differ); give this config a new study.name, or delete the old "
            f"study (optuna delete-study --study-name {config.name} --storage {url})",
        )
    return study


# -- counting ---------------------------------------------------------------------------------


def study_counts(study) -> dict[str, int]:
    """Trials by state (``COMPLETE``, ``RUNNING``, ``FAIL``, ...) and ``seed_index`` (COMPLETE plus
    FAIL from a replay error: the trials whose sampler draw is used up)."""
    counts: dict[str, int] = {}
    seed_index = 0
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
        if t.state.name == "COMPLETE" or (
            t.state.name == "FAIL" and t.user_attrs.get("fail_kind") == FAIL_ERROR
        ):
            seed_index += 1
    counts["seed_index"] = seed_index
    return counts


# -- one trial --------------------------------------------------------------------------------


class _Objective:
    def __init__(self, config: StudyConfig, prepared: Any, n_trials: int, worker: str) -> None:
        import optuna

        self.config = config
        self.prepared = prepared
        self.n_trials = n_trials
        self.worker = worker
        self.set_constraint = hasattr(optuna.trial.Trial, "set_constraint")  # Optuna >= 5

    def __call__(self, trial) -> float | list[float]:
        cfg = self.config
        trial.set_user_attr("worker", self.worker)
        _IN_OBJECTIVE.set()
        try:
            if _ORPHANED.is_set():  # the parent died while no trial ran: stop at this one
                raise KeyboardInterrupt
            self._check_room(trial)
            flat = dict(cfg.fixed)
            for spec in cfg.search:
                flat[spec.name] = spec.suggest(trial)
            t0 = time.perf_counter()
            results = run_replay(self.prepared, flat)
            replay_s = time.perf_counter() - t0
            metrics = compute_metrics(results)
        except KeyboardInterrupt:
            _fail(trial, FAIL_INTERRUPTED, _interrupted_reason())
            raise
        except _Surplus as exc:
            _fail(trial, FAIL_SURPLUS, str(exc))
            raise
        except Exception as exc:
            _fail(trial, FAIL_ERROR, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _IN_OBJECTIVE.clear()
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("replay_s", replay_s)
        violations = [v for c in cfg.constraints for v in c.values(metrics)]
        if cfg.constraints:
            if self.set_constraint:
                labels = [lab for c in cfg.constraints for lab in c.labels()]
                for label, v in zip(labels, violations, strict=True):
                    trial.set_constraint(label, v)
            else:
                trial.set_user_attr("constraints", violations)
        values = [metrics[m] for m in cfg.metric_names]
        return values if cfg.multi_objective else values[0]

    def _check_room(self, trial) -> None:
        from optuna.trial import TrialState

        ahead = trial.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
        )
        if sum(1 for t in ahead if t.number < trial.number) >= self.n_trials:
            raise _Surplus(f"surplus: other workers reached n_trials={self.n_trials}")


def _interrupted_reason() -> str:
    if _ORPHANED.is_set():
        return "interrupted: the sweep's parent process died (its workers stop with it)"
    return "interrupted (Ctrl-C)"


def _fail(trial, kind: str, reason: str) -> None:
    with contextlib.suppress(Exception):
        trial.set_user_attr("fail_kind", kind)
        trial.set_user_attr("fail_reason", reason[:2000])


def _constraints_func(frozen) -> list[float]:  # Optuna < 5 only
    return list(frozen.user_attrs.get("constraints", []))


# -- a worker ---------------------------------------------------------------------------------


def work(
    study,
    config: StudyConfig,
    prepared: Any,
    n_trials: int,
    *,
    worker: int = 0,
    on_trial: Callable[[dict[str, int]], None] | None = None,
) -> None:
    """Run trials in this process until the study has ``n_trials`` COMPLETE trials."""
    import optuna

    label = _worker_label(worker)
    objective = _Objective(config, prepared, n_trials, label)
    legacy = None if objective.set_constraint or not config.constraints else _constraints_func
    with quiet_optuna():
        while True:
            optuna.storages.fail_stale_trials(study)
            counts = study_counts(study)
            complete, running = counts.get("COMPLETE", 0), counts.get("RUNNING", 0)
            if on_trial is not None:
                on_trial(counts)
            if complete >= n_trials:
                return
            if complete + running >= n_trials:
                time.sleep(WAIT_S)  # others' trials may still make up the rest, or go stale
                continue
            seed = trial_seed(config.sampler.seed, worker, counts["seed_index"])
            study.sampler = make_sampler(
                config.sampler.name, seed, dict(config.sampler.options), legacy
            )
            try:
                study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
            except ValueError as exc:
                # Our trial was marked FAIL as stale by another worker while we ran it (its
                # heartbeat was late): Optuna refuses to tell it. Count it lost and go on.
                if not str(exc).startswith("Cannot tell a"):
                    raise


def _worker_label(worker: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{worker}"


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's per-trial log lines and experimental-feature warnings off (the caller reports)."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def _worker_main(
    config: StudyConfig,
    url: str,
    n_trials: int,
    worker: int,
    folder: str,
    parent: int,
    metrics: bytes,
    ready: Any,
    abort: Any,
) -> None:
    """Entry point of a worker process. ``folder`` holds the shared prepared trace
    (:func:`~snfkit.sweeps.trace.share`) once ``ready`` is set (and ``abort`` not: the parent
    could not prepare it), ``parent`` is the starting process's pid, ``metrics`` what
    :func:`_metrics_for_workers` packed."""
    import optuna

    _watch_parent(parent)
    study = None
    try:
        _adopt_metrics(metrics, config, worker)
        while not ready.wait(POLL_S):
            if _ORPHANED.is_set():
                raise KeyboardInterrupt
        if abort.is_set():
            return
        prepared = open_shared(Path(folder))
        with quiet_optuna():
            study = optuna.load_study(study_name=config.name, storage=make_storage(url))
        work(study, config, prepared, n_trials, worker=worker)
        # Done: every trial is stored (each storage call commits) and no heartbeat thread runs.
        # Skip the interpreter's teardown (numba, polars, SQLAlchemy: 0.25-0.3 s measured), which
        # the parent would otherwise wait for at the end of every study; a forked worker of
        # multiprocessing ends the same way.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    except KeyboardInterrupt:
        if _ORPHANED.is_set():
            _orphan_cleanup(study, worker, Path(folder), parent)
        sys.exit(130)
    except SnfkitError as exc:
        print(f"snfkit: worker {worker}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _watch_parent(parent: int) -> None:
    """Interrupt this process's main thread (KeyboardInterrupt, as Ctrl-C would) once ``parent``
    is no longer its parent: it died and the process was re-parented. Checked every POLL_S s; the
    interrupt waits for a trial's objective to run (:data:`_IN_OBJECTIVE`)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_S)
        _ORPHANED.set()
        # interrupt a running objective (its trial is labelled: the cleanup fails it); between
        # trials the next objective sees _ORPHANED and stops at once
        while not _IN_OBJECTIVE.wait(POLL_S):
            pass
        _thread.interrupt_main()

    threading.Thread(target=watch, name="snfkit-parent-watch", daemon=True).start()


def _orphan_cleanup(study, worker: int, folder: Path, parent: int) -> None:
    """A worker whose parent died: record the trials still RUNNING of its own (an interrupt that
    came between Optuna's steps, outside the objective, leaves one) and of the parent (worker 0,
    killed mid-trial) as FAIL, and remove the parent's temporary folder (the other workers may have
    already)."""
    if study is not None:
        from optuna.trial import TrialState

        labels = {_worker_label(worker), f"{socket.gethostname()}:{parent}:0"}
        with contextlib.suppress(Exception):
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if t.user_attrs.get("worker") in labels:
                    study._storage.set_trial_user_attr(t._trial_id, "fail_kind", FAIL_INTERRUPTED)
                    study._storage.set_trial_user_attr(
                        t._trial_id, "fail_reason", _interrupted_reason()
                    )
                    study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    if folder.name.startswith(TEMP_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_folders(tmpdir: str | None = None) -> list[Path]:
    """Remove ``snfkit-sweep-<pid>-*`` folders in ``tmpdir`` (default: the temp folder) whose pid is
    no longer alive and that belong to this user; returns them. A live pid (possibly a reused one)
    keeps its folder."""
    removed = []
    base = Path(tmpdir or tempfile.gettempdir())
    for folder in base.glob(TEMP_PREFIX + "*"):
        m = re.fullmatch(re.escape(TEMP_PREFIX) + r"(\d+)-.*", folder.name)
        if m is None or not folder.is_dir() or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if folder.stat().st_uid != os.getuid():
                continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


# -- metrics in worker processes --------------------------------------------------------------


def _needed_metrics(config: StudyConfig) -> dict[str, str]:
    """The metrics a trial cannot do without (objectives, then constraints) -> the config key."""
    needed = {name: "study.objectives" for name in config.metric_names}
    for c in config.constraints:
        needed.setdefault(c.metric, "study.constraints")
    return needed


def _travels(metric: Metric) -> bool:
    """Whether a new process can have ``metric``: snfkit's own (registered when
    :mod:`snfkit.metrics` is imported), or one whose function pickles by a name that a new
    process can import (not a lambda, not a function defined in a notebook)."""
    module = getattr(metric.func, "__module__", None)
    if module == "snfkit.metrics":
        return True
    if module == "__main__" and not getattr(sys.modules.get("__main__"), "__file__", None):
        return False  # a notebook or an interactive session: a new process has no such module
    try:
        pickle.dumps(metric)
    except Exception:  # a lambda, a closure: pickle says which in many ways
        return False
    return True


def _metrics_for_workers() -> bytes:
    """Every registered metric's name, and the metrics that are not snfkit's own, pickled (those
    that pickle): what a worker needs to compute what this process would."""
    shipped = {}
    for name, metric in METRICS.items():
        if getattr(metric.func, "__module__", None) == "snfkit.metrics":
            continue
        with contextlib.suppress(Exception):
            shipped[name] = pickle.dumps(metric)
    return pickle.dumps((list(METRICS), shipped))


def _adopt_metrics(blob: bytes, config: StudyConfig, worker: int) -> None:
    """In a worker: register the metrics the parent sent; a metric the study needs that did not
    arrive is a :class:`ConfigError`; others are left out with a note (the first worker started,
    worker 1, says it)."""
    names, shipped = pickle.loads(blob)
    for name, data in shipped.items():
        with contextlib.suppress(Exception):  # its module cannot be imported here
            METRICS[name] = pickle.loads(data)
    missing = [n for n in names if n not in METRICS]
    for name, key in _needed_metrics(config).items():
        if name in missing:
            raise ConfigError(
                config.source,
                key,
                f"metric {name!r} cannot be computed in a worker process (its function cannot be "
                "imported there); register it from an importable module, or run with workers=1",
            )
    if missing and worker == 1:
        print(
            f"snfkit: note: worker processes do not compute the metrics {', '.join(missing)} "
            "(their functions cannot be imported there; workers=1 computes them)",
            file=sys.stderr,
        )


# -- how many processes -----------------------------------------------------------------------


def default_workers() -> int:
    """Trial processes a study runs by default: the cores this process may run on
    (``os.sched_getaffinity`` where the system has it, else ``os.cpu_count()``), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        n = os.cpu_count() or 1
    return max(1, n)


def _in_this_process_only(config: StudyConfig, url: str) -> str | None:
    """Why this study's trials cannot run in other processes, or None."""
    if url in ("sqlite://", "sqlite:///:memory:") or url.startswith("sqlite:///:memory:"):
        return "its storage lives in this process's memory"
    for name in _needed_metrics(config):
        metric = METRICS.get(name)
        if metric is not None and not _travels(metric):
            return f"metric {name!r} is defined in this session only (another process cannot import it)"
    return None


PER_CORE, PER_TRIAL_LEFT = "one per core", "one per trial left"
_QUIET_REASONS = ("", PER_CORE, PER_TRIAL_LEFT)
"""Reasons for a single process that are not worth a line: asked for, one core, one trial left."""


def plan_workers(config: StudyConfig, url: str, workers: int | None, left: int) -> tuple[int, str]:
    """How many trial processes a run starts and why (``""``: as asked): ``workers``, or (None)
    one per core (:func:`default_workers`); never more than the ``left`` trials the study still
    needs. A study that can only run here (:func:`_in_this_process_only`) gets 1 by default, the
    reason saying why; an explicit ``workers`` > 1 is then a :class:`ParameterError`."""
    n, why = (default_workers(), PER_CORE) if workers is None else (workers, "")
    if n > 1 and left < n:
        n, why = max(left, 1), PER_TRIAL_LEFT
    if n > 1:
        blocker = _in_this_process_only(config, url)
        if blocker is not None:
            if workers is not None:
                raise ParameterError("workers", workers, f"1 for this study: {blocker}")
            return 1, blocker
    return n, why


def workers_note(n: int, why: str, opt_out: str = "workers=1") -> str:
    """The line a run with several workers prints (``opt_out``: how to run in this process)."""
    if n == 1:
        return f"running the trials in this process: {why}"
    because = f" ({why})" if why else ""
    return f"running {n} trial processes{because}; {opt_out} to run in this process"


# -- the study --------------------------------------------------------------------------------

_PACKETS: dict[TraceSpec, pl.DataFrame] = {}
_PREPARED: dict[TraceSpec, Any] = {}


def cached_packets(config: StudyConfig) -> pl.DataFrame:
    """The config's packets table, loaded once per process (the last trace only is kept)."""
    spec = config.trace
    if spec not in _PACKETS:
        _PACKETS.clear()
        _PREPARED.clear()
        _PACKETS[spec] = load_packets(spec, source=config.source)
    return _PACKETS[spec]


def cached_prepared(config: StudyConfig) -> Any:
    """The config's prepared trace, prepared once per process (worker processes map the
    starting process's instead: :func:`~snfkit.sweeps.trace.open_shared`)."""
    spec = config.trace
    if spec not in _PREPARED:
        _PREPARED[spec] = prepare(cached_packets(config))
    return _PREPARED[spec]


def run_study(
    config: StudyConfig,
    *,
    storage: str | None = None,
    workers: int | None = None,
    n_trials: int | None = None,
    progress: bool | ProgressCallback = False,
    announce: bool | Callable[[int, str], None] = True,
) -> SweepRun:
    """Run (or resume) the config's study until it has ``n_trials`` (default: the config's) COMPLETE
    trials.

    storage: an Optuna storage URL; default an SQLite file beside the config.
    workers: trial processes. None (the default): one per core (:func:`default_workers`), never
        more than the trials still needed, and 1 when the study can only run here (an in-memory
        storage, an objective metric defined in this session). 1 runs the trials in this process,
        and only then is a study repeatable (with several workers the order in which trials
        finish decides what the sampler sees). N > 1 runs trials here and in N - 1 processes
        started for it, which share the storage and one prepared trace (written once by this
        process, memory-mapped by the others). Ctrl-C stops them all; the running trials are
        recorded as FAIL (``interrupted``) and KeyboardInterrupt propagates. Run again to
        continue.
    progress: True draws a bar; a callable gets ``(complete, n_trials)``.
    announce: True prints on stderr how many trial processes run (:func:`workers_note`) when
        more than one does, or why the default fell back to this process; a callable gets
        ``(processes, why)`` instead; False is silent.
    """
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ParameterError("workers", workers, "an integer >= 1, or None for one per core")
    n = config.n_trials if n_trials is None else n_trials
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError("n_trials", n, "an integer >= 1")
    url = storage_url(config, storage)
    study = open_study(config, url)
    before = len(study.get_trials(deepcopy=False))
    left = n - study_counts(study).get("COMPLETE", 0)
    processes, why = plan_workers(config, url, workers, left)
    if announce and (processes > 1 or why not in _QUIET_REASONS):
        if callable(announce):
            announce(processes, why)
        else:
            print(f"sweep {config.name}: {workers_note(processes, why)}", file=sys.stderr)
    t0 = time.perf_counter()
    with progress_reporter(progress, n, f"sweep {config.name}") as bar:

        def show(counts: dict[str, int]) -> None:
            bar.advance(min(counts.get("COMPLETE", 0), n) - bar.done)

        if processes == 1:
            work(study, config, cached_prepared(config), n, on_trial=show)
        else:
            _run_workers(study, config, url, n, processes, show)
    counts = study_counts(study)
    return SweepRun(
        study=study,
        storage=url,
        n_trials=n,
        complete=counts.get("COMPLETE", 0),
        failed=counts.get("FAIL", 0),
        new_trials=len(study.get_trials(deepcopy=False)) - before,
        elapsed_s=time.perf_counter() - t0,
    )


def _run_workers(study, config, url, n, processes, show) -> None:
    """Run the study on ``processes`` processes: this one (worker 0) and ``processes - 1``
    spawned workers. The workers start first; meanwhile this process loads and prepares the
    trace, writes the copy they map, and tells them it is there (or, if the trace cannot be
    loaded, that it will not be: they exit and the error propagates). A worker that fails stops
    the others and raises :class:`SnfkitError`."""
    ctx = multiprocessing.get_context("spawn")
    metrics = _metrics_for_workers()
    remove_stale_folders()
    me = os.getpid()
    ready, abort = ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{me}-") as tmp:
        procs = {
            i: ctx.Process(
                target=_worker_main,
                args=(config, url, n, i, tmp, me, metrics, ready, abort),
                daemon=True,
            )
            for i in range(1, processes)
        }
        for p in procs.values():  # they start Python and import snfkit (a second or two) ...
            p.start()
        try:  # ... while this process loads, prepares and writes the trace
            prepared = cached_prepared(config)
            share(prepared, Path(tmp))
        except BaseException:
            abort.set()
            ready.set()
            for p in procs.values():
                p.join(timeout=30)
            raise
        ready.set()

        def between_trials(counts: dict[str, int]) -> None:
            show(counts)
            _check_workers(procs)

        try:
            work(study, config, prepared, n, worker=0, on_trial=between_trials)
            while alive := [p.sentinel for p in procs.values() if p.is_alive()]:
                between_trials(study_counts(study))  # their last trials
                multiprocessing.connection.wait(alive, timeout=WAIT_S)
            between_trials(study_counts(study))
        except KeyboardInterrupt:
            _stop(procs.values(), signalled=True)
            raise
        except BaseException:
            _stop(procs.values(), signalled=False)
            raise
        finally:
            for p in procs.values():
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()


def _check_workers(procs: dict[int, Any]) -> None:
    """Raise :class:`SnfkitError` if a worker process ended with an error (its own message, on
    stderr, says which)."""
    bad = [(i, p.exitcode) for i, p in procs.items() if p.exitcode not in (0, None)]
    if bad:
        raise SnfkitError(
            "sweep workers failed: "
            + ", ".join(f"worker {i} exited with status {code}" for i, code in bad)
            + " (see their messages above)"
        )


def _stop(procs, *, signalled: bool) -> None:
    """Stop the workers: after Ctrl-C (``signalled``: they got SIGINT from the terminal too) give
    them time to record their running trial as interrupted; interrupt the ones that did not get
    it; then end them."""
    procs = list(procs)
    deadline = time.monotonic() + (2 if signalled else 0)
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in procs:
        if p.is_alive() and p.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
