"""NARMA-10 on a spiking reservoir and on ReservoirPy's echo-state network: a first look.

One NARMA-10 series (4,000 samples, seed 0) split into training (samples 0-2,499, the first
200 a washout), validation (2,500-3,199) and test (3,200-3,999). For each model a small grid
of settings is trained on the training part, the setting with the lowest validation NRMSE is
chosen, and its test NRMSE is reported:

* spiking: a 500-neuron Izhikevich (2003) reservoir (:class:`spikesub.rc.model.
  SpikingReservoirModel`, input centred to [-1, 1]), a grid over the recurrent gain, input
  scaling, trace time constant, sample period, ridge penalty and bias current (64 settings);
* ESN: ReservoirPy's ``Reservoir(500) >> Ridge`` over spectral radius, leak rate and input
  scaling (8 settings), when ReservoirPy is installed (the ``bench`` extra).

This is not the tuned comparison benchmark: the grids are small and hand-chosen.

    python experiments/rc_narma_first_look.py --out runs/rc-narma-first-look
    python experiments/rc_narma_first_look.py --quick --out runs/rc-narma-quick  # seconds
"""

from __future__ import annotations

import argparse
import itertools
import warnings
from pathlib import Path

import numpy as np

import spikesub as ss
from spikesub.rc.model import SpikingReservoirModel, random_encoder
from spikesub.rc.tasks import narma, nrmse
from spikesub.runs import write_json
from spikesub.scripting import add_job_arguments, apply_job_arguments, run_script

TRAIN, VALID, TEST = (0, 2500), (2500, 3200), (3200, 4000)
WASHOUT = 200
SPIKING_GRID = {
    "gain": (0.3, 1.0),
    "input_scaling": (20.0, 60.0),
    "tau_ms": (10.0, 40.0),
    "sample_ms": (1.0, 5.0),
    "ridge": (1e-2, 1.0),
    "bias": (0.0, 3.0),
}
ESN_GRID = {"sr": (0.8, 0.95), "lr": (0.3, 1.0), "input_scaling": (0.5, 1.0)}


def spiking_scores(u: np.ndarray, y: np.ndarray, setting: dict) -> tuple[float, float]:
    """Validation and test NRMSE of one spiking setting (one continuous run over the series)."""
    pop = ss.IzhikevichPopulation.izhikevich_2003(400, 100, seed=0)
    weights = ss.izhikevich_2003_weights(pop, seed=1).scaled(setting["gain"])
    reservoir = ss.IzhikevichReservoir(
        pop, weights, bias_current=setting["bias"], backend="numba", seed=1
    )
    model = SpikingReservoirModel(
        reservoir,
        random_encoder(500, 1, scaling=setting["input_scaling"], seed=2),
        sample_ms=setting["sample_ms"],
        tau_ms=setting["tau_ms"],
        ridge=setting["ridge"],
    )
    x = 4.0 * u - 1.0
    model.fit(x[: TRAIN[1]], y[1 : TRAIN[1] + 1], washout=WASHOUT)
    prediction = model.predict(x[VALID[0] : TEST[1] - 1])[:, 0]
    return _split_scores(y, prediction)


def esn_scores(u: np.ndarray, y: np.ndarray, setting: dict) -> tuple[float, float]:
    """Validation and test NRMSE of one ReservoirPy ESN setting."""
    from reservoirpy.nodes import Reservoir, Ridge

    reservoir = Reservoir(
        500, sr=setting["sr"], lr=setting["lr"], input_scaling=setting["input_scaling"], seed=1
    )
    model = reservoir >> Ridge(ridge=1e-6)
    model.fit(u[: TRAIN[1], None], y[1 : TRAIN[1] + 1, None], warmup=WASHOUT)
    prediction = model.run(u[VALID[0] : TEST[1] - 1, None])[:, 0]
    return _split_scores(y, prediction)


def _split_scores(y: np.ndarray, prediction: np.ndarray) -> tuple[float, float]:
    """NRMSE on validation and test of a prediction of ``y[t + 1]`` from sample ``t``, over
    samples ``VALID[0] .. TEST[1] - 2``."""
    target = y[VALID[0] + 1 : TEST[1]]
    n_valid = VALID[1] - VALID[0]
    return (
        nrmse(target[:n_valid], prediction[:n_valid]),
        nrmse(target[n_valid:], prediction[n_valid:]),
    )


def search(name: str, grid: dict, score) -> dict:
    """Every setting of ``grid`` scored; the one with the best validation NRMSE, and all."""
    rows = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values, strict=True))
        valid, test = score(setting)
        rows.append({**setting, "valid_nrmse": valid, "test_nrmse": test})
        print(f"{name} {setting}: validation {valid:.3f}, test {test:.3f}", flush=True)
    best = min(rows, key=lambda row: row["valid_nrmse"])
    return {"best": best, "settings": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--quick", action="store_true", help="the first setting of each grid only (seconds)"
    )
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    apply_job_arguments(args)
    u, y = narma(TEST[1], seed=0)
    spiking_grid, esn_grid = SPIKING_GRID, ESN_GRID
    if args.quick:
        spiking_grid = {name: values[:1] for name, values in SPIKING_GRID.items()}
        esn_grid = {name: values[:1] for name, values in ESN_GRID.items()}
    result = {"spiking": search("spiking", spiking_grid, lambda s: spiking_scores(u, y, s))}
    try:
        import reservoirpy  # noqa: F401
    except ImportError:
        print("ReservoirPy is not installed (the bench extra): the ESN column is left out")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result["esn"] = search("esn", esn_grid, lambda s: esn_scores(u, y, s))
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "metrics.json", result)
    for name, found in result.items():
        best = found["best"]
        print(
            f"{name}: chosen on validation {best['valid_nrmse']:.3f}, test {best['test_nrmse']:.3f}"
        )
    return 0


if __name__ == "__main__":
    run_script(main, "rc_narma_first_look.py")
