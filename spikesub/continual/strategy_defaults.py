"""The continual-learning strategies' options: their defaults and types, in one place.

The strategies (:mod:`spikesub.continual.strategies`, which needs torch) take their
``option_defaults`` from here, and the job's configuration
(:mod:`spikesub.continual.config`, which must not import torch) fills a method's unset
settings from here too, so a default is written once.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OPTION_DEFAULTS",
    "OPTIONAL_OPTION_TYPES",
    "ByLayer",
    "check_option_type",
    "check_strategy_options",
    "option_default",
]


@dataclass(frozen=True)
class ByLayer:
    """A per-layer default: ``first`` for the layer fed by the input, ``hidden`` for the
    deeper hidden layers (fed by spike trains), ``readout`` for the last layer (fed by the
    last hidden layer's spike rates)."""

    first: float
    hidden: float
    readout: float

    def resolve(self, n_layers: int) -> list[float]:
        """One value per protected layer, for ``n_layers`` layers (>= 1)."""
        if n_layers <= 1:
            return [self.first]
        return [self.first] + [self.hidden] * (n_layers - 2) + [self.readout]


OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "finetune": {},
    "gpm": {
        "energy_threshold": 0.97,
        "energy_threshold_increment": 0.0,
        "samples": 300,
        "max_rows": None,
        "max_k": None,
        "activity_projection": True,
        "freeze_bias": True,
        "trace_decay": None,
        "seed": 0,
    },
    "hlop": {
        "k_per_task": None,
        # chosen on permuted MNIST's validation split, seeds 0 and 1 (README): the input layer
        # keeps 0.98 of its activity energy, deeper layers 0.99 of their presynaptic traces,
        # the readout 0.9 of the spike rates it sees
        "energy_threshold": ByLayer(first=0.98, hidden=0.99, readout=0.9),
        "energy_threshold_increment": 0.0,
        "max_k": None,
        "samples": 300,
        "hebbian_epochs": 2,
        "rule": "oja",
        "mode": "rate",
        "lr": 0.5,
        "momentum": None,
        "lr_final": 0.05,
        "n_iters": 5,
        "clamp": None,
        "spike_steps": 32,
        "step_norm": "top",
        "max_rows": 128,
        "orthonormalise": True,
        "record": "pass",
        # 4000 examples' activity per task halves the recording pass on permuted MNIST's 8,006
        # digits per task and protected as well as all of them on its validation split
        "record_examples": 4000,
        "activity_projection": True,
        "compare_with_gpm": True,
        "freeze_bias": True,
        "trace_decay": None,
        "seed": 0,
    },
    "ewc": {"lam": 300.0, "samples": None},
}
"""Each strategy's options and their defaults (``multitask`` is ``finetune`` on joint data)."""

OPTIONAL_OPTION_TYPES: dict[str, dict[str, str]] = {
    "finetune": {},
    "gpm": {
        "energy_threshold": "real_or_list",
        "max_rows": "int",
        "max_k": "int",
        "trace_decay": "real",
    },
    "hlop": {
        "k_per_task": "counts",
        "energy_threshold": "real_or_list",
        "max_k": "int",
        "max_rows": "int",
        "momentum": "real",
        "clamp": "real",
        "record_examples": "int",
        "trace_decay": "real",
    },
    "ewc": {"samples": "int"},
}
"""The type of each option whose default does not say it (None, or a per-layer default);
the others take the type of their default."""


def _key(method: str) -> str:
    return "finetune" if method == "multitask" else method


def option_default(method: str, option: str, *, n_layers: int) -> Any:
    """The default of ``option`` of ``method``'s strategy, per-layer values resolved for a
    network of ``n_layers`` protected layers."""
    value = OPTION_DEFAULTS[_key(method)][option]
    return value.resolve(n_layers) if isinstance(value, ByLayer) else value


def check_strategy_options(method: str, options: dict[str, Any]) -> None:
    """Refuse unknown option names and values of the wrong type for ``method``'s strategy."""
    key = _key(method)
    defaults = OPTION_DEFAULTS.get(key)
    if defaults is None:
        return
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise TypeError(
            f"{key} strategy got unknown option(s) {', '.join(unknown)}; allowed: {allowed}"
        )
    for name, value in options.items():
        check_option_type(name, value, defaults[name], OPTIONAL_OPTION_TYPES[key].get(name))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_KINDS = {
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (_is_int, "an integer"),
    "real": (_is_real, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "int_or_list": (
        lambda v: _is_int(v) or (isinstance(v, (list, tuple)) and all(_is_int(x) for x in v)),
        "an integer or a list of integers",
    ),
    "counts": (
        lambda v: (
            _is_int(v)
            or (
                isinstance(v, (list, tuple))
                and (
                    all(_is_int(x) for x in v)
                    or all(isinstance(x, (list, tuple)) and all(_is_int(y) for y in x) for x in v)
                )
            )
        ),
        "an integer, a list of integers or a list of lists of integers",
    ),
    "real_or_list": (
        lambda v: _is_real(v) or (isinstance(v, (list, tuple)) and all(_is_real(x) for x in v)),
        "a number or a list of numbers",
    ),
}


def check_option_type(name: str, value: Any, default: Any, declared: str | None) -> None:
    """Refuse an option value of the wrong type (a string where a bool or a number belongs,
    a float where an integer count belongs); ranges are checked where the option is used."""
    if value is None and (default is None or declared is not None):
        return
    kind = declared or _kind_of_default(default)
    if kind is None:
        return
    accepts, wanted = _KINDS[kind]
    if not accepts(value):
        suffix = " or null" if declared is not None else ""
        raise TypeError(f"option {name} must be {wanted}{suffix}; got {value!r}")


def _kind_of_default(default: Any) -> str | None:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "real"
    if isinstance(default, str):
        return "str"
    return None
