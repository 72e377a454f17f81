"""A sweep's summary: its trials grouped by their settings, the seed left out, with the mean
and spread of the job's measures over each group's seeds.

``summary.json``
    ``{"job": "sweep", "trial_job", "sweep", "kind": "grid" | "search", "varied",
    "metrics": [{"name", "label", ...}], "groups": [{"name", "settings", "label", "trials",
    "seeds", "metrics": {name: {"values", "mean", "std", "min", "max", "n"}}}],
    "trials": {name: {"status", "varied", "run_dir", "error", "seconds", "resumed",
    "metrics"}}, "counts": {"done", "failed", "pending"}}``; ``std`` is the sample standard
    deviation (0 for a single seed), values are as in ``metrics.json`` (fractions, not
    percent);
``summary.md``
    the same as a Markdown table, with the failed trials and their errors under it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spikesub.runs import atomic_write_bytes, read_json, write_json
from spikesub.sweep.metrics import Metric, metric_value, metrics_of
from spikesub.sweep.spec import SEED, Sweep, Trial
from spikesub.sweep.trial import TRIAL_FILE, read_error, trial_status

__all__ = [
    "TRIALS_DIR",
    "cell",
    "collect",
    "format_stats",
    "summarize",
    "summary_markdown",
    "write_summary",
]

TRIALS_DIR = "trials"
"""The sweep folder's sub-folder that holds one run folder per trial."""


def collect(sweep: Sweep, out: Path, trials: list[Trial]) -> dict[str, dict[str, Any]]:
    """Each trial's state, error and measures, read from its run folder."""
    metrics = metrics_of(sweep.job, sweep.metrics)
    records = {}
    for trial in trials:
        run_dir = out / TRIALS_DIR / trial.name
        status = trial_status(run_dir)
        record: dict[str, Any] = {
            "status": status if status in ("done", "failed") else "pending",
            "varied": trial.varied,
            "run_dir": f"{TRIALS_DIR}/{trial.name}",
            "error": read_error(run_dir) if status == "failed" else None,
            "metrics": {},
        }
        if status == "done":
            record.update(_outcome(run_dir))
            saved = _read(run_dir / "metrics.json")
            record["metrics"] = {m.name: metric_value(saved, m) for m in metrics}
        records[trial.name] = record
    return records


def _read(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _outcome(run_dir: Path) -> dict[str, Any]:
    saved = _read(run_dir / TRIAL_FILE)
    return {"seconds": saved.get("seconds"), "resumed": saved.get("resumed")}


def summarize(sweep: Sweep, trials: list[Trial], records: Mapping[str, dict]) -> dict[str, Any]:
    """The summary (see the module's docstring) of ``trials`` whose states are ``records``."""
    metrics = metrics_of(sweep.job, sweep.metrics)
    varied = _varied_keys(trials)
    groups: dict[str, dict[str, Any]] = {}
    for trial in trials:
        key = json.dumps(trial.group, sort_keys=True)
        group = groups.setdefault(
            key,
            {
                "name": trial.name.split("_")[0] if sweep.is_search else _label(trial.group),
                "settings": trial.group,
                "label": _label(trial.group),
                "trials": [],
                "seeds": [],
            },
        )
        if records[trial.name]["status"] == "done":
            group["trials"].append(trial.name)
            group["seeds"].append(trial.settings.get(SEED))
    for group in groups.values():
        group["metrics"] = {
            m.name: _stats([records[name]["metrics"].get(m.name) for name in group["trials"]])
            for m in metrics
        }
    counts = {s: sum(r["status"] == s for r in records.values()) for s in ("done", "failed")}
    counts["pending"] = len(records) - counts["done"] - counts["failed"]
    return {
        "job": "sweep",
        "trial_job": sweep.job,
        "sweep": sweep.name,
        "file": str(sweep.path),
        "kind": "search" if sweep.is_search else "grid",
        "varied": varied,
        "metrics": [_metric_dict(m) for m in metrics],
        "groups": list(groups.values()),
        "trials": dict(records),
        "counts": counts,
    }


def _varied_keys(trials: list[Trial]) -> list[str]:
    keys: list[str] = []
    for trial in trials:
        keys.extend(k for k in trial.group if k not in keys)
    return keys


def _label(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={cell(v)}" for k, v in settings.items()) or "all"


def cell(value: Any) -> str:
    """A setting's value as a table shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(cell(v) for v in value)
    if value is None:
        return "default"
    return str(value)


def _metric_dict(metric: Metric) -> dict[str, Any]:
    return {
        "name": metric.name,
        "label": metric.label,
        "path": metric.path,
        "scale": metric.scale,
        "digits": metric.digits,
        "better": metric.better,
        "style": metric.style,
        "suffix": metric.suffix,
    }


def _stats(values: list[float | None]) -> dict[str, Any]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if not n:
        return {"values": values, "mean": None, "std": None, "min": None, "max": None, "n": 0}
    mean = sum(finite) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else 0.0
    return {
        "values": values,
        "mean": mean,
        "std": std,
        "min": min(finite),
        "max": max(finite),
        "n": n,
    }


# ---------------------------------------------------------------------------------------------
# The table


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as Markdown: a table of the groups, the failed trials, a legend."""
    metrics = [Metric(**m) for m in summary["metrics"]]
    varied = summary["varied"] or ["setting"]
    counts = summary["counts"]
    lines = [
        f"# {summary['sweep']}: {summary['trial_job']}, {len(summary['trials'])} trials "
        f"({counts['done']} done, {counts['failed']} failed, {counts['pending']} not run)",
        "",
    ]
    per_seed = metrics and any(len(g["trials"]) > 1 for g in summary["groups"])
    search = summary["kind"] == "search"
    header = [*(["trial"] if search else []), *varied, "seeds", *(m.label for m in metrics)]
    if per_seed:
        header.append(f"per seed {metrics[0].label}")
    lines.append("| " + " | ".join(header) + " |")
    align = ["---"] * (len(varied) + search) + ["---:"] * (1 + len(metrics))
    align += ["---"] if per_seed else []
    lines.append("|" + "|".join(align) + "|")
    for group in summary["groups"]:
        row = [group["name"]] if search else []
        row += [cell(group["settings"].get(k)) for k in varied] if summary["varied"] else ["all"]
        row.append(str(len(group["trials"])))
        row.extend(format_stats(group["metrics"][m.name], m) for m in metrics)
        if per_seed:
            row.append(_per_seed(group["metrics"][metrics[0].name], metrics[0]))
        lines.append("| " + " | ".join(row) + " |")
    failed = {n: r for n, r in summary["trials"].items() if r["status"] == "failed"}
    if failed:
        lines += ["", "Failed trials (rerun the same command to retry them):", ""]
        lines += [
            f"- {name}: {r['error']} ({r['run_dir']}/error.txt)" for name, r in failed.items()
        ]
    lines += ["", _legend(metrics), ""]
    return "\n".join(lines)


def format_stats(stats: Mapping[str, Any], metric: Metric) -> str:
    """``mean ± std`` (or ``mean (min-max)``) of a group's values, scaled; ``n/a`` if none."""
    if not stats["n"]:
        return "n/a"
    d, s, suffix = metric.digits, metric.scale, metric.suffix
    mean = f"{stats['mean'] * s:.{d}f}{suffix}"
    if stats["n"] == 1:
        return mean
    if metric.style == "range":
        return f"{mean} ({stats['min'] * s:.{d}f}-{stats['max'] * s:.{d}f})"
    return f"{mean} ± {stats['std'] * s:.{d}f}"


def _per_seed(stats: Mapping[str, Any], metric: Metric) -> str:
    return ", ".join(
        "n/a" if v is None else f"{v * metric.scale:.{metric.digits}f}" for v in stats["values"]
    )


def _legend(metrics: list[Metric]) -> str:
    parts = ["Mean ± sample std over the seeds (the trials that differ only in seed)"]
    if any(m.style == "range" for m in metrics):
        parts.append("for " + ", ".join(m.label for m in metrics if m.style == "range"))
        parts[-1] += ": mean over the seeds, then the lowest and highest seed's"
    return "; ".join(parts) + "."


def write_summary(sweep: Sweep, out: Path, trials: list[Trial]) -> dict[str, Any]:
    """Collect the trials' results and write ``summary.json`` and ``summary.md`` into
    ``out``; returns the summary."""
    summary = summarize(sweep, trials, collect(sweep, out, trials))
    write_json(out / "summary.json", summary)
    atomic_write_bytes(out / "summary.md", summary_markdown(summary).encode("utf-8"))
    return summary
