"""Saving a reservoir to one ``.npz`` file and loading it back, without pickle.

The file holds the arrays (neuron parameters, CSR weights, bias and noise, the dynamic
state) and one JSON document (``meta``: the format and its version, the reservoir's scalar
settings, the step it stands at). ``numpy.load(path, allow_pickle=False)`` reads it. It is
written atomically (:mod:`spikesub.models.files`), so an interrupted save leaves the
previous file whole. A reservoir loaded from it continues bit for bit where the saved one
stood (same backend and thread count assumed; the CPU backends agree bit for bit anyway).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spikesub.models.errors import SavedModelError
from spikesub.models.files import write_npz
from spikesub.models.network.connectivity import SparseWeights
from spikesub.models.network.homeostasis import InhibitoryHomeostasis
from spikesub.models.network.neurons import IzhikevichPopulation, LIFPopulation

if TYPE_CHECKING:
    from spikesub.models.network.reservoir import SpikingReservoir

FORMAT = "spikesub-reservoir"
VERSION = 1
_FORMATS = (FORMAT, "spikesub-izhikevich-reservoir")  # the second: the same layout, Izhikevich only
_POPULATION_ARRAYS = ("a", "b", "c", "d", "excitatory", "v_init", "u_init", "C", "k", "v_r", "v_t")
_HOMEOSTASIS_SETTINGS = ("tau_ms", "learning_rate", "gain_max", "initial_gain")
_LIF_ARRAYS = ("tau_ms", "v_rest", "v_th", "v_reset", "resistance", "excitatory", "v_init")
_SETTINGS = (
    "synapse", "tau_syn_ms", "tau_rise_ms", "tau_decay_ms", "noise_interval_ms", "dt_ms",
    "precision", "seed",
)  # fmt: skip


def save_reservoir(reservoir: SpikingReservoir, path: str | Path) -> Path:
    """Write ``reservoir`` to ``path`` (``.npz`` is appended when missing); returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    population = reservoir.population
    arrays, population_meta = _population_arrays(population)
    weights = reservoir.weights
    arrays.update(
        {
            "weights.indptr": weights.indptr,
            "weights.indices": weights.indices,
            "weights.weights": weights.weights,
            "bias_current": reservoir.bias_current,
            "noise_std": reservoir.noise_std,
        }
    )
    for name, value in reservoir.state_dict().items():
        arrays[f"state.{name}"] = value
    homeostasis = None
    if reservoir.homeostasis is not None:
        h = reservoir.homeostasis
        arrays["homeostasis.target_hz"] = h.targets(reservoir.n_neurons)
        homeostasis = {name: float(getattr(h, name)) for name in _HOMEOSTASIS_SETTINGS}
        homeostasis["neurons"] = h.neurons
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "population": population_meta,
        "weights": {"n_pre": weights.n_pre, "n_post": weights.n_post},
        "settings": {name: getattr(reservoir, name) for name in _SETTINGS},
        "homeostasis": homeostasis,
        "dtype": np.dtype(reservoir.dtype).name,
        "backend": reservoir.backend,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, **arrays)
    return path


def load_reservoir(path: str | Path, *, backend: str | None = None, n_threads: int | None = None):
    """The reservoir saved at ``path``, at the step it was saved (see the module docstring).

    Args:
        backend: run it on this backend instead of the saved one.
        n_threads: its thread count (default: automatic).

    Raises:
        SavedModelError: no such file, a damaged file, another format or version, or
            contents that do not fit together; the message names the file.
    """
    from spikesub.models.network.reservoir import SpikingReservoir

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise SavedModelError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SavedModelError(f"{path}: not a readable saved reservoir ({exc})") from None
    meta = _meta(path, arrays)
    try:
        population = _population(meta["population"], arrays)
        weights = SparseWeights(
            indptr=arrays["weights.indptr"],
            indices=arrays["weights.indices"],
            weights=arrays["weights.weights"],
            n_pre=meta["weights"]["n_pre"],
            n_post=meta["weights"]["n_post"],
        )
        reservoir = SpikingReservoir.for_population(
            population,
            weights,
            bias_current=arrays["bias_current"],
            noise_std=arrays["noise_std"],
            backend=meta["backend"] if backend is None else backend,
            dtype=np.dtype(meta["dtype"]),
            n_threads=n_threads,
            homeostasis=_homeostasis(meta.get("homeostasis"), arrays),
            **meta["settings"],
        )
        reservoir.load_state_dict(
            {name[len("state.") :]: value for name, value in arrays.items() if name[:6] == "state."}
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SavedModelError(f"{path}: its contents do not fit together ({exc})") from None
    return reservoir


def _population_arrays(population: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays (``population.<name>``) and the JSON settings that rebuild ``population``."""
    if isinstance(population, LIFPopulation):
        params = population.parameters()
        arrays = {f"population.{name}": params[name] for name in _LIF_ARRAYS if name in params}
        arrays["population.excitatory"] = np.asarray(population.excitatory)
        meta = {
            "form": "lif",
            "reset": population.reset,
            "refractory_ms": float(population.refractory_ms),
        }
        return arrays, meta
    arrays = {
        f"population.{name}": np.asarray(getattr(population, name))
        for name in _POPULATION_ARRAYS
        if getattr(population, name) is not None
    }
    meta = {
        "form": population.form,
        "v_peak": float(population.v_peak),
        "n_substeps": int(population.n_substeps),
    }
    return arrays, meta


def _population(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The population that :func:`_population_arrays` described."""
    if meta["form"] == "lif":
        return LIFPopulation(
            n=int(arrays["population.tau_ms"].shape[0]),
            reset=meta["reset"],
            refractory_ms=meta["refractory_ms"],
            **{name: arrays[f"population.{name}"] for name in _LIF_ARRAYS},
        )
    return IzhikevichPopulation(
        form=meta["form"],
        v_peak=meta["v_peak"],
        n_substeps=meta["n_substeps"],
        **{
            name: arrays[f"population.{name}"]
            for name in _POPULATION_ARRAYS
            if f"population.{name}" in arrays
        },
    )


def _homeostasis(settings: dict[str, Any] | None, arrays: dict[str, np.ndarray]):
    """The saved :class:`InhibitoryHomeostasis`, or None."""
    if settings is None:
        return None
    return InhibitoryHomeostasis(target_rate_hz=arrays["homeostasis.target_hz"], **settings)


def _meta(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The file's JSON document, checked to be this format and version."""
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, ValueError):
        raise SavedModelError(f"{path}: not a saved reservoir (no readable 'meta')") from None
    if not isinstance(meta, dict) or meta.get("format") not in _FORMATS:
        raise SavedModelError(f"{path}: not a saved reservoir (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise SavedModelError(
            f"{path}: saved in format version {meta.get('version')}; this spikesub reads "
            f"version {VERSION}"
        )
    return meta
