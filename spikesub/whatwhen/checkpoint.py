"""The what-and-when experiment's checkpoint: everything a run has learned and measured.

After every block the runner writes ``checkpoint.npz`` (atomically): the readouts' learned
arrays, the per-trial measures, the per-block weights and angles, the attention state and the
kept example outputs, with the run's fingerprint. Each trial is simulated from the
reservoir's rest state with its own noise seed, so the reservoir has no state to save; a run
rebuilt from the same configuration that loads the checkpoint continues exactly where the
interrupted one stopped, and ends with the same results.

The file holds plain arrays only (``np.load(..., allow_pickle=False)`` reads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spikesub.models.errors import RunFolderError
from spikesub.runs import load_run_checkpoint, write_npz

__all__ = ["CHECKPOINT", "load_checkpoint", "save_checkpoint"]

CHECKPOINT = "checkpoint.npz"

_RUNNER_ARRAYS = (
    "rates",
    "associability",
    "attention_gate",
    "surprise",
    "associability_after",
)


def save_checkpoint(runner: Any, fingerprint: str) -> Path:
    """Write ``runner``'s learned and measured state to its run folder's checkpoint."""
    arrays: dict[str, np.ndarray] = {
        "fingerprint": np.asarray(fingerprint),
        "n_done": np.asarray(runner.n_done, np.int64),
        "blocks_done": np.asarray(runner.blocks_done, np.int64),
        "simulate_s": np.asarray(runner.walls["simulate_s"]),
    }
    for name in _RUNNER_ARRAYS:
        arrays[name] = getattr(runner, name)
    for method, readout in runner.readouts.items():
        state = readout.state_dict()
        for key, value in state.items():
            if key != "config":
                arrays[f"readout__{method}__{key}"] = np.asarray(value)
        arrays[f"readout_s__{method}"] = np.asarray(runner.walls["readouts_s"][method])
    for method, measures in runner.per_trial.items():
        for key, value in measures.items():
            arrays[f"trial__{method}__{key}"] = value
        arrays[f"angles__{method}"] = runner.angles[method]
        arrays[f"weights__{method}"] = runner.weights[method]
    for index, outputs in runner.example_outputs.items():
        for method, value in outputs.items():
            arrays[f"example__{index}__{method}"] = value
        targets, gates = runner.example_targets[index]
        arrays[f"example_targets__{index}"] = targets
        arrays[f"example_gates__{index}"] = gates
    return write_npz(runner.run_dir / CHECKPOINT, **arrays)


def load_checkpoint(runner: Any, fingerprint: str) -> bool:
    """Restore ``runner`` from its run folder's checkpoint; False when there is none.

    Raises:
        RunFolderError: the checkpoint is unreadable, belongs to another run, or does not fit
            the runner (another network size or method set).
    """
    path = runner.run_dir / CHECKPOINT
    if not path.exists():
        return False
    data = load_run_checkpoint(path, fingerprint)
    try:
        _restore(runner, data)
    except (KeyError, ValueError) as error:
        raise RunFolderError(f"{path} does not fit this run: {error}") from error
    return True


def _restore(runner: Any, data: dict[str, np.ndarray]) -> None:
    for name in _RUNNER_ARRAYS:
        setattr(runner, name, _same_shape(name, data[name], getattr(runner, name)))
    for method, readout in runner.readouts.items():
        prefix = f"readout__{method}__"
        state: dict[str, Any] = {
            k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)
        }
        if "steps" in state:
            state["steps"] = int(state["steps"])
        readout.load_state_dict(state)
        runner.walls["readouts_s"][method] = float(data[f"readout_s__{method}"])
    for method, measures in runner.per_trial.items():
        for key in measures:
            name = f"trial__{method}__{key}"
            measures[key] = _same_shape(name, data[name], measures[key])
        runner.angles[method] = _same_shape(
            f"angles__{method}", data[f"angles__{method}"], runner.angles[method]
        )
        runner.weights[method] = _same_shape(
            f"weights__{method}", data[f"weights__{method}"], runner.weights[method]
        )
    for index, _ in runner.examples:
        if f"example_targets__{index}" not in data:
            continue
        runner.example_outputs[index] = {
            method: data[f"example__{index}__{method}"]
            for method in runner.readouts
            if f"example__{index}__{method}" in data
        }
        runner.example_targets[index] = (
            data[f"example_targets__{index}"],
            data[f"example_gates__{index}"],
        )
    runner.n_done = int(data["n_done"])
    runner.blocks_done = int(data["blocks_done"])
    runner.walls["simulate_s"] = float(data["simulate_s"])


def _same_shape(name: str, value: np.ndarray, current: np.ndarray) -> np.ndarray:
    if value.shape != current.shape:
        raise ValueError(f"{name} has shape {value.shape}; this run needs {current.shape}")
    return value.astype(current.dtype, copy=True)
