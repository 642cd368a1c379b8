"""The search space: one :class:`ParamSpec` per replay parameter a study varies.

Any flat parameter name that :meth:`snfkit.ReplayParams.from_flat` accepts can be searched; its kind
(integer, float or categorical) follows the type of the parameter's default, so ``timeout_ns``
(T) and ``size_bytes`` (B) are integers, ``alpha`` a float, ``mode`` or ``state_mode`` categorical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class ParamSpec:
    """One searched parameter.

    kind: 'int' (``trial.suggest_int``), 'float' (``suggest_float``) or 'categorical'.
    low, high: inclusive bounds (int and float); log: sample on a log scale; step: grid step
        (not with log). choices: the values of a categorical parameter.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial: Any) -> Any:
        """Draw this parameter's value for an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices or ()))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (stored with the study to detect a changed search space)."""
        if self.kind == "categorical":
            return {"kind": self.kind, "choices": list(self.choices or ())}
        d: dict[str, Any] = {"kind": self.kind, "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            d["step"] = self.step
        return d

    def corners(self) -> list[Any]:
        """Values to check against the parameter rules when the config is loaded."""
        if self.kind == "categorical":
            return list(self.choices or ())
        return [self.low, self.high]
