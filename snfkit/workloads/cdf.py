"""Flow-size distributions given as a CDF table, read as piecewise-linear.

A :class:`FlowSizeCDF` holds points ``(size_i, p_i)``: sizes in bytes (non-decreasing), cumulative
probabilities as fractions in [0, 1] (non-decreasing, the last one 1). Between two points the CDF
is linear, so the size is uniformly distributed within each segment; below the first point there
is no mass except an atom of ``p_0`` at ``size_0`` (the shipped files all start at ``p_0 = 0``).
Sampling is by inversion: ``size = interp(u, p, size)`` with ``u ~ U[0, 1)``, then rounded to whole
bytes (at least 1). The HPCC traffic generator and CONGA-style simulators interpolate likewise.

Shipped distributions (``data/``, see ``data/CITATIONS.md``) are listed by
:func:`list_distributions`; :func:`load_distribution` takes one of those names or the path of a
user's own file in the same format (``<size> <cdf>`` per line; a first line holding a single number
is a stated mean and is skipped; ``#`` starts a comment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from statistics import NormalDist

import numpy as np

from snfkit.arguments import check_bool, check_int, check_number
from snfkit.errors import ParameterError

_DATA = "snfkit.workloads"


@dataclass(frozen=True)
class Distribution:
    """A shipped CDF file: its name, file, CDF units and the measurement it reproduces."""

    name: str
    file: str
    units: str  # 'percent' or 'fraction'
    workload: str


DISTRIBUTIONS: dict[str, Distribution] = {
    d.name: d
    for d in (
        Distribution(
            "websearch", "WebSearch_distribution.txt", "percent",
            "web search cluster (Alizadeh et al., DCTCP, SIGCOMM 2010)",
        ),
        Distribution(
            "datamining", "VL2_CDF.txt", "fraction",
            "data-mining cluster (Greenberg et al., VL2, SIGCOMM 2009)",
        ),
        Distribution(
            "fb_hadoop", "FbHdp_distribution.txt", "percent",
            "Facebook Hadoop cluster (Roy et al., SIGCOMM 2015)",
        ),
        Distribution(
            "fb_cache_follower", "Facebook_CacheFollowerDist_IntraCluster.txt", "fraction",
            "Facebook cache-follower cluster, intra-cluster (Roy et al., SIGCOMM 2015)",
        ),
        Distribution(
            "ali_storage", "AliStorage2019.txt", "percent",
            "Alibaba production distributed storage, 2019 (HPCC repository)",
        ),
        Distribution(
            "google_rpc", "GoogleRPC2008.txt", "percent",
            "Google aggregated RPC sizes, all applications (Homa W3, SIGCOMM 2018)",
        ),
    )
}  # fmt: skip
"""Shipped distributions by name."""


@dataclass(frozen=True, eq=False)
class FlowSizeCDF:
    """A piecewise-linear flow-size CDF: ``sizes`` in bytes, ``probs`` cumulative fractions.

    Build it with :meth:`from_points`, :func:`load_distribution` or :meth:`lognormal`.
    ``stated_mean`` is the mean a file states on its first line (bytes), if any.
    """

    sizes: np.ndarray
    probs: np.ndarray
    name: str = ""
    stated_mean: float | None = None

    @classmethod
    def from_points(
        cls,
        sizes: np.ndarray | list[float],
        probs: np.ndarray | list[float],
        *,
        units: str = "fraction",
        name: str = "",
        stated_mean: float | None = None,
    ) -> FlowSizeCDF:
        """Validate points and build the CDF; ``units`` says whether ``probs`` are a 'fraction'
        (0-1) or a 'percent' (0-100). Raises :class:`ParameterError` on non-monotone points,
        negative sizes, or a last probability that is not 1 (100%), which is also what a unit mix-up
        looks like."""
        s = np.asarray(sizes, np.float64).ravel()
        p = np.asarray(probs, np.float64).ravel()
        if units not in ("fraction", "percent"):
            raise ParameterError("units", units, "'fraction' or 'percent'")
        if s.size < 1 or s.size != p.size:
            raise ParameterError("points", f"{s.size} sizes, {p.size} probs", "equal, >= 1 points")
        if units == "percent":
            p = p / 100.0
        if not (np.isfinite(s).all() and np.isfinite(p).all()):
            raise ParameterError("points", name or "<cdf>", "finite numbers")
        if (s < 0).any() or (np.diff(s) < 0).any():
            raise ParameterError("sizes", name or "<cdf>", "non-negative, non-decreasing sizes")
        if (p < 0).any() or (np.diff(p) < 0).any():
            raise ParameterError("probs", name or "<cdf>", "non-negative, non-decreasing probs")
        if abs(p[-1] - 1.0) > 1e-3:
            raise ParameterError(
                "probs",
                f"{name or '<cdf>'} ends at {p[-1]:g} as a {units}",
                "a CDF ending at 1 (fraction) or 100 (percent): check the units",
            )
        p = np.minimum(p / p[-1], 1.0)
        s.setflags(write=False)
        p.setflags(write=False)
        return cls(s, p, name, stated_mean)

    @classmethod
    def lognormal(
        cls,
        median_bytes: float,
        sigma: float,
        *,
        tail: float = 1e-5,
        points: int = 513,
        name: str = "",
    ) -> FlowSizeCDF:
        """A log-normal flow-size law (``ln size ~ N(ln median_bytes, sigma**2)``), tabulated.

        The table has ``points`` knots equally spaced in z between the ``tail`` and ``1 - tail``
        quantiles: the lowest ``tail`` of mass becomes an atom at the lowest knot and the top
        ``tail`` is cut off (the CDF reaches 1 at the last knot), so samples are bounded.
        """
        median_bytes = check_number("median_bytes", median_bytes, 0, lo_open=True)
        sigma = check_number("sigma", sigma, 0, lo_open=True)
        tail = check_number("tail", tail, 0, 0.5, lo_open=True, hi_open=True)
        points = check_int("points", points, 2, 1_000_000)
        nd = NormalDist()
        z = np.linspace(nd.inv_cdf(tail), nd.inv_cdf(1 - tail), points)
        probs = np.array([nd.cdf(v) for v in z])
        probs = (probs - probs[0]) / (probs[-1] - probs[0]) * (1 - tail) + tail
        sizes = median_bytes * np.exp(sigma * z)
        label = name or f"lognormal(median={median_bytes:g} B, sigma={sigma:g})"
        return cls.from_points(sizes, probs, name=label)

    def quantile(self, u: np.ndarray | float) -> np.ndarray:
        """Inverse CDF (bytes, float) at probabilities ``u`` in [0, 1], piecewise-linear."""
        return np.interp(np.asarray(u, np.float64), self.probs, self.sizes)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """P(size <= x) for sizes ``x`` in bytes (0 below the first point)."""
        x = np.asarray(x, np.float64)
        return np.where(x < self.sizes[0], 0.0, np.interp(x, self.sizes, self.probs))

    def sample(self, n: int, rng: np.random.Generator, *, stratified: bool = False) -> np.ndarray:
        """``n`` flow sizes (int64 bytes, >= 1) drawn with ``rng`` by inversion.

        stratified: draw one ``u`` in each of ``n`` equal slices of [0, 1) (in random order) instead
            of ``n`` independent ones, so that the sample follows the CDF closely even for small
            ``n`` (sizes are then exchangeable but not independent).
        """
        from snfkit.workloads.synth import MAX_PACKETS

        n = check_int("n", n, 0, MAX_PACKETS)
        stratified = check_bool("stratified", stratified)
        if not isinstance(rng, np.random.Generator):
            raise ParameterError("rng", rng, "a numpy.random.Generator (numpy.random.default_rng)")
        if stratified:
            u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
        else:
            u = rng.random(n)
        return np.maximum(np.rint(self.quantile(u)), 1).astype(np.int64)

    def mean(self) -> float:
        """Mean size in bytes of the piecewise-linear law (exact; before rounding to bytes)."""
        s, p = self.sizes, self.probs
        return float(p[0] * s[0] + np.sum(np.diff(p) * (s[1:] + s[:-1]) / 2.0))

    def expect(self, func: Callable[[np.ndarray], np.ndarray], n: int = 1 << 18) -> float:
        """E[func(size)] by the midpoint rule on the quantile function (deterministic, no RNG).

        Exact for func linear (the quantile function is piecewise-linear in u); used e.g. for the
        mean bytes of a flow after packetization.
        """
        u = (np.arange(n) + 0.5) / n
        return float(np.mean(func(np.maximum(np.rint(self.quantile(u)), 1))))

    def __repr__(self) -> str:
        return (
            f"FlowSizeCDF({self.name or '<cdf>'}: {self.sizes.size} points, "
            f"{self.sizes[0]:g}-{self.sizes[-1]:g} B, mean {self.mean():.6g} B)"
        )


def list_distributions() -> list[str]:
    """Names of the shipped flow-size distributions (see ``data/CITATIONS.md``)."""
    return list(DISTRIBUTIONS)


def read_cdf_file(path: str | PathLike[str], *, units: str = "auto", name: str = "") -> FlowSizeCDF:
    """Read a ``<size bytes> <cdf>`` text file (whitespace separated).

    units: 'fraction', 'percent', or 'auto' (percent if the largest CDF value is above 1.5).
    A first data line with a single number is taken as the stated mean (bytes) and skipped.
    """
    p = Path(path)
    sizes: list[float] = []
    probs: list[float] = []
    stated = None
    for lineno, raw in enumerate(p.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        try:
            nums = [float(f) for f in fields]
        except ValueError:
            raise ParameterError(f"{p}: line {lineno}", raw, "'<size> <cdf>' numbers") from None
        if len(nums) == 1 and not sizes and stated is None:
            stated = nums[0]
            continue
        if len(nums) != 2:
            raise ParameterError(f"{p}: line {lineno}", raw, "two numbers '<size> <cdf>'")
        sizes.append(nums[0])
        probs.append(nums[1])
    if units == "auto":
        units = "percent" if probs and max(probs) > 1.5 else "fraction"
    return FlowSizeCDF.from_points(
        sizes, probs, units=units, name=name or p.stem, stated_mean=stated
    )


def load_distribution(name: str | PathLike[str], *, units: str | None = None) -> FlowSizeCDF:
    """A shipped distribution by name (:func:`list_distributions`), or a CDF file by path.

    units: override the CDF units ('fraction' or 'percent'); by default the shipped table's known
        units, and for a user file 'auto' (see :func:`read_cdf_file`).
    """
    if not isinstance(name, str | PathLike):
        raise ParameterError("distribution", name, "a shipped distribution's name or a file path")
    key = str(name)
    if key in DISTRIBUTIONS:
        d = DISTRIBUTIONS[key]
        ref = resources.files(_DATA).joinpath("data").joinpath(d.file)
        with resources.as_file(ref) as path:
            return read_cdf_file(path, units=units or d.units, name=d.name)
    path = Path(name)
    if not path.exists():
        raise ParameterError(
            "distribution", key, f"one of {list_distributions()} or an existing CDF file"
        )
    return read_cdf_file(path, units=units or "auto")


__all__ = [
    "DISTRIBUTIONS",
    "Distribution",
    "FlowSizeCDF",
    "list_distributions",
    "load_distribution",
    "read_cdf_file",
]
