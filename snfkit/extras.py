"""Optional parts of snfkit (pyproject's extras) and the check a feature makes before using one.

| extra | installs | for |
|---|---|---|
| ``export`` | vl-convert-python | PNG / SVG charts, self-contained (offline) HTML charts |
| ``postgres`` | psycopg2-binary | sweeps stored in PostgreSQL |
| ``dashboard`` | optuna-dashboard | browsing a sweep's study |
| ``notebooks`` | jupyterlab, ipywidgets, ipython, vl-convert-python | the notebooks, the replay panel, offline charts |

The ``test`` extra installs all of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from snfkit.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "export": ("vl_convert",),
    "postgres": ("psycopg2",),
    "dashboard": ("optuna_dashboard",),
    "notebooks": ("ipywidgets", "IPython", "vl_convert"),
}
"""Each extra and the modules it provides."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``; :class:`~snfkit.errors.MissingExtraError` naming
    ``extra`` when it is not installed."""
    if module not in EXTRAS.get(extra, ()):
        raise ValueError(f"{module!r} is not part of the {extra!r} extra")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(feature, module, extra) from None


def has(module: str) -> bool:
    """True when ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None
