"""The measures a sweep reports for each job: where they are in ``metrics.json``, how they
are shown, and which way is better.

A sweep file's ``[summary] metrics`` and a search's ``metric`` name entries of
:data:`METRICS`; unnamed, a sweep reports the job's :data:`HEADLINES`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["HEADLINES", "METRICS", "Metric", "metric_value", "metrics_of"]


@dataclass(frozen=True)
class Metric:
    """One measure of a run.

    Attributes:
        name: what a sweep file calls it.
        path: where it is in ``metrics.json``, keys joined by dots; a list there (one value
            per task, say) counts as the mean of its finite values.
        label: the column heading of the summary table.
        scale: shown values are multiplied by this (100 for a fraction shown in percent).
        digits: decimals shown.
        better: ``"higher"`` or ``"lower"``: a search's default direction.
        style: ``"mean_std"`` (mean ± sample std) or ``"range"`` (mean, then min-max).
        suffix: written after each shown value (``"x"`` for a ratio).
    """

    name: str
    path: str
    label: str
    scale: float = 1.0
    digits: int = 2
    better: str = "higher"
    style: str = "mean_std"
    suffix: str = ""


def _table(*metrics: Metric) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


METRICS: dict[str, dict[str, Metric]] = {
    "continual": _table(
        Metric("ACC", "ACC", "ACC (%)", scale=100.0),
        Metric("BWT", "BWT", "BWT (%)", scale=100.0),
        Metric(
            "cost",
            "overhead_ratio",
            "cost vs plain training",
            better="lower",
            style="range",
            suffix="x",
        ),
        Metric("train_s", "total_train_s", "training time (s)", digits=0, better="lower"),
    ),
    "simulate": _table(
        Metric("mean_rate_hz", "mean_rate_hz", "mean rate (Hz)"),
        Metric("cv_isi_mean", "cv_isi_mean", "CV of ISIs"),
        Metric("synchrony_chi", "synchrony_chi", "synchrony chi", digits=3),
        Metric("wall_time_s", "wall_time_s", "wall time (s)", digits=3, better="lower"),
    ),
    "whatwhen": _table(
        Metric(
            "timing_error_pct",
            "methods.three_factor.timing_max_abs_error_pct",
            "timing error, max (%)",
            better="lower",
        ),
        Metric(
            "probability_r",
            "methods.three_factor.probability.correlation",
            "magnitude-probability r",
            digits=3,
        ),
        Metric("final_angle_deg", "methods.three_factor.angles.final_deg", "what angle (deg)"),
        Metric("mean_rate_hz", "reservoir.mean_rate_hz", "mean rate (Hz)"),
    ),
    "force_sine": _table(
        Metric("test_rel_rmse", "test_rel_rmse", "test relative RMSE", digits=3, better="lower"),
        Metric("test_frequency_hz", "test_frequency_hz", "test frequency (Hz)"),
        Metric("mean_rate_hz", "mean_rate_hz", "mean rate (Hz)"),
        Metric("wall_s", "wall_s", "wall time (s)", better="lower"),
    ),
    "rc": _table(
        *(
            Metric(
                f"{task}_{model}",
                f"tasks.{task}.{model}.test_mean",
                f"{label}, {model}",
                digits=2 if task == "mc" else 3,
                better="higher" if task == "mc" else "lower",
            )
            for task, label in (
                ("mc", "MC"),
                ("narma10", "NARMA-10 NRMSE"),
                ("mg1", "Mackey-Glass 1-step NRMSE"),
                ("mg84", "Mackey-Glass 84-step NRMSE"),
            )
            for model in ("izhikevich", "lif", "esn")
        )
    ),
    "reservoir-continual": _table(
        *(
            Metric(
                f"{measure}_{method}",
                f"methods.{method}.{measure}_mean",
                f"{measure} {method} (%)",
                scale=100.0,
            )  # fmt: skip
            for method in ("hlop", "gpm", "unprotected")
            for measure in ("ACC", "BWT")
        ),
        Metric("ACC_ridge", "methods.ridge.ACC_mean", "ACC ridge (%)", scale=100.0),
    ),
}
"""Each job's measures by name (``rc``: each task's test score of each model, the mean over
the run's seeds; ``reservoir-continual``: each method's ACC and BWT, the mean over the run's
seeds)."""

HEADLINES: dict[str, tuple[str, ...]] = {
    "continual": ("ACC", "BWT", "cost"),
    "simulate": ("mean_rate_hz", "wall_time_s"),
    "whatwhen": ("timing_error_pct", "probability_r", "final_angle_deg"),
    "force_sine": ("test_rel_rmse", "mean_rate_hz"),
    "rc": ("mc_izhikevich", "mc_lif", "narma10_izhikevich", "narma10_lif"),
    "reservoir-continual": ("ACC_hlop", "BWT_hlop", "ACC_unprotected", "BWT_unprotected"),
}
"""What a sweep of each job reports when its file does not say."""


def metrics_of(job: str, names: tuple[str, ...] | list[str] | None = None) -> list[Metric]:
    """The measures ``names`` of ``job`` (default its headlines); ValueError naming the
    known ones for an unknown name."""
    table = METRICS.get(job, {})
    chosen = HEADLINES.get(job, ()) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in table]
    if unknown:
        known = ", ".join(table) or "none"
        raise ValueError(f"unknown {job} metric(s) {', '.join(unknown)}; known: {known}")
    return [table[n] for n in chosen]


def metric_value(metrics: Mapping[str, Any], metric: Metric) -> float | None:
    """The value of ``metric`` in a run's ``metrics.json`` content; None when it is missing
    or not a finite number (a NaN BWT, a timing never measured)."""
    value: Any = metrics
    for key in metric.path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    if isinstance(value, list):
        finite = [float(v) for v in value if _finite(v)]
        return sum(finite) / len(finite) if finite else None
    return float(value) if _finite(value) else None


def _finite(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
