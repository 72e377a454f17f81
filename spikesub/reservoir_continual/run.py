"""Running ``spikesub reservoir-continual``: record, learn, score, write.

For each seed of the configuration:

1. **Record.** One reservoir and one task sequence are drawn from the seed
   (:mod:`~spikesub.reservoir_continual.reservoir`, :mod:`~spikesub.reservoir_continual.tasks`);
   the reservoir runs through every task's training trials, then its test trials (new noise),
   and its traces are kept. All traces are multiplied by one gain, which gives the first
   task's training traces in the response windows unit mean squared norm (so the learning
   rate means the same for any reservoir size).
2. **Learn.** Every method of :data:`~spikesub.reservoir_continual.learning.METHODS` learns
   the sequence on these same traces, giving its accuracy matrix.
3. **Measure.** ACC and BWT (:mod:`spikesub.continual.metrics`), the subspace dimension per
   task (HLOP's lateral neurons, GPM's basis vectors), the principal angles between the
   tasks' own trace subspaces (their top ``n_angles`` directions), and between HLOP's and
   GPM's protected subspaces after each task.

Writes ``config.json``, ``seeds/seed-<s>.npz`` as each seed finishes (what ``resume=True``
keeps), ``metrics.json`` (per method: ACC and BWT per seed, mean and worst; the targets met or
missed), ``accuracy.npz`` and ``results.md``; figures are drawn from the folder by
:func:`spikesub.reservoir_continual.figures.plot`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from spikesub.continual.metrics import acc, bwt
from spikesub.continual.projection import principal_angles
from spikesub.models.files import atomic_write_bytes
from spikesub.reservoir_continual.config import ReservoirContinualConfig
from spikesub.reservoir_continual.learning import (
    LABELS,
    METHODS,
    TaskData,
    learn_sequence,
    ridge_per_task,
)
from spikesub.reservoir_continual.reservoir import build_reservoir, record
from spikesub.reservoir_continual.tasks import make_sequence
from spikesub.runs import (
    load_npz,
    prepare_run_dir,
    run_config_document,
    write_json,
    write_npz,
)

__all__ = ["ARRAYS_NAME", "JOB", "RESULTS_NAME", "record_tasks", "run", "run_seed"]

JOB = ReservoirContinualConfig.job
ARRAYS_NAME = "accuracy.npz"
RESULTS_NAME = "results.md"
PROTECTED = ("unprotected", "hlop", "gpm")
"""The methods that learn the sequence with the three-factor rule."""
BWT_FRACTION = 1.0 / 3.0
"""Target: HLOP's forgetting at most this fraction of the unprotected readout's."""
ACC_GAP = 0.05
"""Target: HLOP's ACC within this of the per-task ridge reference's."""


def record_tasks(config: ReservoirContinualConfig, seed: int) -> tuple[list[TaskData], float]:
    """Every task's training and test traces on the reservoir of ``seed``, scaled, and the
    gain they were scaled by."""
    sequence = make_sequence(
        config.n_tasks, config.n_classes, config.n_channels, n_segments=config.n_segments,
        seed=np.random.default_rng([seed, 1]), stimulus_samples=config.stimulus_samples,
        gap_samples=config.gap_samples, noise=config.noise,
    )  # fmt: skip
    model = build_reservoir(
        config.n_neurons, sequence.input_channels, seed=seed,
        spectral_radius=config.spectral_radius, input_scaling=config.input_scaling,
        bias=config.bias, bias_spread=config.bias_spread, tau_syn_ms=config.tau_syn_ms,
        tau_trace_ms=config.tau_trace_ms, sample_ms=config.sample_ms, dt_ms=config.dt_ms,
        backend=config.backend,
    )  # fmt: skip
    recorded = []
    for split, n in (("train", config.n_train), ("test", config.n_test)):
        for t in range(config.n_tasks):
            trials = sequence.trials(t, n, np.random.default_rng([seed, 2, t, split == "test"]))
            recorded.append((split, t, record(model, trials), trials.labels))
    by = {(split, t): (traces, labels) for split, t, traces, labels in recorded}
    data = [
        TaskData(*by["train", t], *by["test", t], sequence.window) for t in range(config.n_tasks)
    ]
    rows = data[0].window_rows()
    power = float(np.mean(np.sum(rows * rows, axis=1)))
    gain = 1.0 / np.sqrt(power) if power > 0 else 1.0
    scaled = [
        TaskData(d.train * gain, d.train_labels, d.test * gain, d.test_labels, d.window)
        for d in data
    ]
    return scaled, float(gain)


def _task_subspace(rows: np.ndarray, k: int) -> torch.Tensor:
    """Top ``k`` right singular vectors of ``rows`` (uncentred), ``(features, k)``."""
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    return torch.from_numpy(vt[:k].T.copy())


def _angles_padded(a: np.ndarray, b: np.ndarray, length: int) -> np.ndarray:
    out = np.full(length, np.nan)
    if a.size and b.size:
        values = principal_angles(torch.from_numpy(a.T.copy()), torch.from_numpy(b.T.copy()))
        out[: values.numel()] = values.numpy()
    return out


def run_seed(config: ReservoirContinualConfig, seed: int, bar=None) -> dict[str, Any]:
    """Everything one seed gives: accuracy matrices, ridge accuracies, dimensions, angles."""
    data, gain = record_tasks(config, seed)
    n_features = data[0].train.shape[-1]
    out: dict[str, Any] = {"gain": gain}
    rows = {}
    for method in PROTECTED:
        result = learn_sequence(
            method, data, n_classes=config.n_classes, learning_rate=config.learning_rate,
            epochs=config.epochs, gate=config.gate, energy_threshold=config.energy_threshold,
            hebbian_epochs=config.hebbian_epochs, hebbian_lr=config.hebbian_lr,
            hebbian_momentum=config.hebbian_momentum, seed=seed,
            backend=config.backend,
        )  # fmt: skip
        out[f"R__{method}"] = result.R
        out[f"k__{method}"] = np.array(result.k_per_task)
        rows[method] = result.rows_per_task
        if bar is not None:
            bar.update()
    out["ridge"] = ridge_per_task(data, n_classes=config.n_classes, ridge=config.ridge)
    T = config.n_tasks
    subspaces = [_task_subspace(d.window_rows(), config.n_angles) for d in data]
    task_angles = np.full((T, T, config.n_angles), np.nan)
    for i in range(T):
        for j in range(T):
            task_angles[i, j] = principal_angles(subspaces[i], subspaces[j]).numpy()
    out["task_angles"] = task_angles
    hlop_gpm = np.full((T, n_features), np.nan)
    for t in range(T):
        h = np.concatenate(rows["hlop"][: t + 1]) if rows["hlop"] else np.zeros((0, n_features))
        g = np.concatenate(rows["gpm"][: t + 1]) if rows["gpm"] else np.zeros((0, n_features))
        hlop_gpm[t] = _angles_padded(h, g, n_features)
    out["hlop_gpm_angles"] = hlop_gpm
    if bar is not None:
        bar.update()
    return out


def summarise(config: ReservoirContinualConfig, per_seed: list[dict[str, Any]]) -> dict:
    """Per method ACC and BWT by seed, their mean and worst; the targets, met or missed."""
    seeds = list(config.seeds)
    methods: dict[str, Any] = {}
    for method in METHODS:
        if method == "ridge":
            accs = [float(np.mean(s["ridge"])) for s in per_seed]
            bwts = [None for _ in per_seed]
        else:
            accs = [acc(s[f"R__{method}"]) for s in per_seed]
            bwts = [bwt(s[f"R__{method}"]) for s in per_seed]
        entry = {
            "label": LABELS[method],
            "ACC": dict(zip(map(str, seeds), accs, strict=True)),
            "ACC_mean": float(np.mean(accs)),
            "ACC_worst": float(np.min(accs)),
        }
        if method != "ridge":
            entry.update(
                BWT=dict(zip(map(str, seeds), bwts, strict=True)),
                BWT_mean=float(np.mean(bwts)),
                BWT_worst=float(np.min(bwts)),
                k_per_task=[s[f"k__{method}"].tolist() for s in per_seed],
            )
        methods[method] = entry
    ratios = [
        (h / u if u < 0 else float("inf")) if h < 0 else 0.0
        for h, u in zip(
            methods["hlop"]["BWT"].values(), methods["unprotected"]["BWT"].values(), strict=True
        )
    ]
    gaps = [
        r - h
        for r, h in zip(
            methods["ridge"]["ACC"].values(), methods["hlop"]["ACC"].values(), strict=True
        )
    ]
    targets = {
        "bwt_ratio": {
            "what": "BWT of HLOP / BWT of the unprotected readout (forgetting kept), per seed",
            "target": f"<= {BWT_FRACTION:.4f}",
            "by_seed": dict(zip(map(str, seeds), ratios, strict=True)),
            "mean": float(np.mean(ratios)),
            "worst": float(np.max(ratios)),
            "met_mean": bool(np.mean(ratios) <= BWT_FRACTION),
            "met_every_seed": bool(np.max(ratios) <= BWT_FRACTION),
        },
        "acc_gap": {
            "what": "ACC of per-task ridge minus ACC of HLOP, per seed (fraction)",
            "target": f"<= {ACC_GAP}",
            "by_seed": dict(zip(map(str, seeds), gaps, strict=True)),
            "mean": float(np.mean(gaps)),
            "worst": float(np.max(gaps)),
            "met_mean": bool(np.mean(gaps) <= ACC_GAP),
            "met_every_seed": bool(np.max(gaps) <= ACC_GAP),
        },
    }
    return {"methods": methods, "targets": targets}


def _seed_path(run_dir: Path, seed: int) -> Path:
    return run_dir / "seeds" / f"seed-{seed}.npz"


def _load_seed(path: Path) -> dict[str, Any]:
    """A finished seed's results as :func:`run_seed` returned them."""
    saved = load_npz(path)
    saved["gain"] = float(saved["gain"])
    return saved


def run(
    config: ReservoirContinualConfig,
    out: str | Path | None = None,
    *,
    progress=None,
    resume: bool = False,
) -> Path:
    """Run every seed of ``config`` and write the run folder (see the module docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/reservoir-continual-<time>``).
        progress: show a progress bar (default: when stderr is a terminal).
        resume: continue the run in ``out``: the seeds it finished are read back, the others
            run; ``config`` must equal the saved one.

    Returns:
        the run folder.

    Raises:
        RunFolderError: ``out`` holds another run, or (``resume``) nothing to resume or a run
            with other settings.
    """
    run_dir = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix=JOB, resume=resume)
    if not resume:
        write_json(run_dir / "config.json", run_config_document(JOB, config.to_dict()))
    torch_threads = torch.get_num_threads()
    started = time.perf_counter()
    show = progress if progress is not None else sys.stderr.isatty()
    per_seed = []
    total = len(config.seeds) * (len(PROTECTED) + 1)
    try:
        torch.set_num_threads(1)
        with tqdm(total=total, disable=not show, desc=JOB, leave=False) as bar:
            for seed in config.seeds:
                path = _seed_path(run_dir, seed)
                if resume and path.is_file():
                    per_seed.append(_load_seed(path))
                    bar.update(len(PROTECTED) + 1)
                    continue
                bar.set_postfix_str(f"seed {seed}", refresh=False)
                result = run_seed(config, seed, bar)
                path.parent.mkdir(exist_ok=True)
                write_npz(path, **{**result, "gain": np.asarray(result["gain"])})
                per_seed.append(result)
    finally:
        torch.set_num_threads(torch_threads)
    summary = summarise(config, per_seed)
    arrays = {key: np.stack([s[key] for s in per_seed]) for key in per_seed[0] if key != "gain"}
    write_npz(run_dir / ARRAYS_NAME, seeds=np.array(config.seeds), **arrays)
    write_json(
        run_dir / "metrics.json",
        {
            "experiment": JOB,
            "status": "complete",
            "seeds": list(config.seeds),
            "chosen_on": "seed 0 (experiments/reservoir_continual.py --validate)",
            "trace_gain": [s["gain"] for s in per_seed],
            **summary,
            "wall_s": time.perf_counter() - started,
        },
    )
    write_results_table(run_dir, config, summary)
    return run_dir


def results_table(config: ReservoirContinualConfig, summary: dict) -> list[str]:
    """The table: ACC and BWT (percent) per method, mean and worst over the seeds."""
    lines = [
        "| method | ACC mean (%) | ACC worst (%) | BWT mean (%) | BWT worst (%) |",
        "|---|---|---|---|---|",
    ]
    for method in METHODS:
        entry = summary["methods"][method]
        bwt_cells = (
            ["n/a", "n/a"]
            if method == "ridge"
            else [f"{100 * entry['BWT_mean']:.1f}", f"{100 * entry['BWT_worst']:.1f}"]
        )
        lines.append(
            f"| {entry['label']} | {100 * entry['ACC_mean']:.1f} | "
            f"{100 * entry['ACC_worst']:.1f} | " + " | ".join(bwt_cells) + " |"
        )
    return lines


def write_results_table(run_dir: Path, config: ReservoirContinualConfig, summary: dict) -> Path:
    """``results.md``: :func:`results_table`, the seeds and the targets."""
    lines = results_table(config, summary)
    ratio, gap = summary["targets"]["bwt_ratio"], summary["targets"]["acc_gap"]
    lines += [
        "",
        f"Seeds {', '.join(map(str, config.seeds))} (settings chosen on seed 0); worst = "
        "lowest ACC, most negative BWT over the seeds.",
        f"HLOP BWT / unprotected BWT: mean {ratio['mean']:.3f}, worst {ratio['worst']:.3f} "
        f"(target <= 1/3: {'met' if ratio['met_every_seed'] else 'missed'} on every seed).",
        f"ridge ACC - HLOP ACC: mean {100 * gap['mean']:.1f} points, worst "
        f"{100 * gap['worst']:.1f} (target <= 5: "
        f"{'met' if gap['met_every_seed'] else 'missed'} on every seed).",
    ]
    atomic_write_bytes(run_dir / RESULTS_NAME, ("\n".join(lines) + "\n").encode())
    return run_dir / RESULTS_NAME
