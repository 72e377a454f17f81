"""The models of the reservoir-computing benchmark, their searched settings, and their states.

Three models, each built from a setting (a dict of the names below) and a seed, each giving
its state after every input sample as a ``(samples, features)`` array:

* ``"izhikevich"``: an :class:`~spikesub.IzhikevichReservoir` of the Izhikevich (2003)
  population (80 % excitatory) with its Dale's-law weights (``p = 0.1``), the inhibitory
  ones scaled to an E/I balance, then all to a spectral radius;
* ``"lif"``: an :class:`~spikesub.LIFReservoir` (``tau = 20`` ms, threshold 1, reset to 0,
  2 ms refractory) with Gaussian weights (``p = 0.1``, no sign rule) scaled to a spectral
  radius: the echo-state recipe on spiking neurons;
* ``"esn"``: ReservoirPy's ``Reservoir`` (tanh units, its default sparse weights and
  inputs), when ReservoirPy is installed (the ``bench`` extra).

The spiking models are driven through a dense random encoder (:func:`~spikesub.rc.model.
random_encoder`), each input sample held for ``sample_ms``, every neuron with a bias current
``bias + bias_spread * U(-1, 1)`` (a spread of thresholds makes the neurons' responses to one
input differ, as an ESN's bias vector does), and read through
:class:`~spikesub.rc.model.SpikingReservoirModel` as spike traces of three time constants,
``sample_ms * (0.5, 2, 8)``: what the last sample did and what the last few did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SPACES",
    "TRACE_TAUS",
    "Param",
    "check_fixed",
    "check_setting",
    "draw_setting",
    "esn_available",
    "model_states",
]

TRACE_TAUS: tuple[float, ...] = (0.5, 2.0, 8.0)
"""The spiking readouts' trace time constants, in units of ``sample_ms``."""


@dataclass(frozen=True)
class Param:
    """One searched setting: drawn uniformly on ``[low, high]`` (on a log scale when ``log``),
    or among ``choices``; ``positive`` settings must be > 0, all must be finite."""

    name: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] | None = None
    positive: bool = True
    help: str = ""

    def draw(self, rng: np.random.Generator) -> Any:
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def check(self, model: str, value: Any) -> Any:
        """``value`` checked: one of the choices, or a finite number (> 0 if ``positive``)."""
        where = f"{model}.{self.name}"
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(
                    f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where} must be a number; got {value!r}")
        value = float(value)
        if not math.isfinite(value) or (self.positive and value <= 0.0) or value < 0.0:
            bound = "> 0" if self.positive else ">= 0"
            raise ValueError(f"{where} must be a finite number {bound}; got {value}")
        if self.name == "leak_rate" and value > 1.0:
            raise ValueError(f"{where} must be in (0, 1]; got {value}")
        return value


_SAMPLE_MS = Param("sample_ms", choices=(2.0, 5.0, 10.0), help="ms per input sample")

SPACES: dict[str, tuple[Param, ...]] = {
    "izhikevich": (
        Param("spectral_radius", 0.5, 30.0, log=True, help="of the recurrent weights (mV)"),
        Param("input_scaling", 5.0, 80.0, log=True, help="encoder weights U(-s, s)"),
        Param("bias", 0.0, 8.0, positive=False, help="mean bias current"),
        Param("bias_spread", 0.0, 5.0, positive=False, help="bias spread U(-s, s)"),
        Param("ei_balance", 0.5, 4.0, log=True, help="inhibitory over excitatory weight"),
        Param("tau_syn_ms", 2.0, 30.0, log=True, help="exponential synapses' decay"),
        _SAMPLE_MS,
    ),
    "lif": (
        Param("spectral_radius", 0.02, 2.0, log=True, help="of the recurrent weights"),
        Param("input_scaling", 0.2, 3.0, log=True, help="encoder weights U(-s, s)"),
        Param("bias", 0.5, 2.0, positive=False, help="mean bias current (threshold 1)"),
        Param("bias_spread", 0.0, 1.0, positive=False, help="bias spread U(-s, s)"),
        Param("tau_syn_ms", 2.0, 30.0, log=True, help="exponential synapses' decay"),
        _SAMPLE_MS,
    ),
    "esn": (
        Param("spectral_radius", 0.1, 1.5, help="of the recurrent weights"),
        Param("leak_rate", 0.05, 1.0, log=True, help="leaky integration"),
        Param("input_scaling", 0.05, 2.0, log=True, help="input weights"),
        Param("bias", 0.0, 1.0, positive=False, help="bias U(-b, b)"),
    ),
}
"""What the search draws for each model (every model gets the same number of draws). The
spiking ranges stop where a first exploration on NARMA-10 and the memory capacity saw the
networks run away (Izhikevich: weights' spectral radius above about 30 mV, the 2003
weights scaled by 0.3; LIF: above about 0.4 with 20 ms synapses, 2 with 10 ms); below them
the draws are log-uniform down to nearly unconnected networks."""


def _param(model: str, name: str) -> Param:
    for param in SPACES[model]:
        if param.name == name:
            return param
    known = ", ".join(p.name for p in SPACES[model])
    raise ValueError(f"{model} has no setting {name!r}; its settings: {known}")


def check_fixed(fixed: Mapping[str, Any], models: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The fixed settings (``"MODEL.NAME"`` or ``"NAME"`` for every model that has it) of
    ``models``, checked, as ``{model: {name: value}}``.

    Raises:
        ValueError / TypeError: a model or setting that does not exist, a value out of range
            (named as ``model.name``).
    """
    out: dict[str, dict[str, Any]] = {model: {} for model in models}
    for key, value in fixed.items():
        model, _, name = key.rpartition(".")
        if model:
            if model not in SPACES:
                raise ValueError(
                    f"fixed {key!r}: unknown model {model!r}; models: {', '.join(SPACES)}"
                )
            targets = [model] if model in models else []
            _param(model, name).check(model, value)
        else:
            targets = [m for m in models if any(p.name == name for p in SPACES[m])]
            if not any(any(p.name == name for p in SPACES[m]) for m in SPACES):
                names = sorted({p.name for space in SPACES.values() for p in space})
                raise ValueError(
                    f"fixed {key!r}: no model has a setting {name!r}; settings: {', '.join(names)}"
                )
        for target in targets:
            out[target][name] = _param(target, name).check(target, value)
    return out


def draw_setting(
    model: str, rng: np.random.Generator, fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One setting of ``model``: every searched parameter drawn from ``rng`` (in the order of
    :data:`SPACES`, so that fixing one does not change the others' draws), then ``fixed``
    ones put in."""
    setting = {param.name: param.draw(rng) for param in SPACES[model]}
    setting.update(fixed or {})
    return check_setting(model, setting)


def check_setting(model: str, setting: Mapping[str, Any]) -> dict[str, Any]:
    """``setting`` checked against ``model``'s parameters: all present, none unknown, each in
    range (errors name ``model.name``)."""
    if model not in SPACES:
        raise ValueError(f"unknown model {model!r}; models: {', '.join(SPACES)}")
    names = {p.name for p in SPACES[model]}
    missing, unknown = names - set(setting), set(setting) - names
    if missing or unknown:
        raise ValueError(
            f"a {model} setting needs exactly {', '.join(sorted(names))}; missing "
            f"{sorted(missing)}, unknown {sorted(unknown)}"
        )
    return {p.name: p.check(model, setting[p.name]) for p in SPACES[model]}


def esn_available() -> bool:
    """Is ReservoirPy (the ``bench`` extra) installed?"""
    try:
        import reservoirpy  # noqa: F401
    except ImportError:
        return False
    return True


def model_states(
    model: str,
    setting: Mapping[str, Any],
    signal: Any,
    *,
    n_neurons: int,
    seed: int,
    dt_ms: float = 0.1,
    backend: str = "numba",
) -> np.ndarray:
    """The states of ``model`` built from ``setting`` and ``seed``, driven by ``signal``
    ``(samples,)``: ``(samples, features)`` float64, row ``t`` after sample ``t``."""
    setting = check_setting(model, setting)
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or signal.size < 1 or not np.all(np.isfinite(signal)):
        raise ValueError(f"signal must be a finite (samples,) array; got shape {signal.shape}")
    if model == "esn":
        return _esn_states(setting, signal, n_neurons, seed)
    return _spiking_model(model, setting, n_neurons, seed, dt_ms, backend).run(signal)


def _spiking_model(
    model: str, setting: Mapping[str, Any], n: int, seed: int, dt_ms: float, backend: str
):
    import spikesub as ss
    from spikesub.rc.model import SpikingReservoirModel, random_encoder

    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=4)
    common = {
        "synapse": "exponential",
        "tau_syn_ms": setting["tau_syn_ms"],
        "dt_ms": dt_ms,
        "backend": backend,
        "seed": int(seeds[0]),
    }
    bias = setting["bias"] + setting["bias_spread"] * rng.uniform(-1.0, 1.0, n)
    if model == "izhikevich":
        n_exc = int(round(0.8 * n))
        pop = ss.IzhikevichPopulation.izhikevich_2003(n_exc, n - n_exc, seed=int(seeds[1]))
        weights = ss.izhikevich_2003_weights(pop, p=0.1, seed=int(seeds[2]))
        weights = weights.with_ei_balance(pop.excitatory, setting["ei_balance"])
        weights = weights.scaled_to_spectral_radius(setting["spectral_radius"])
        reservoir = ss.IzhikevichReservoir(pop, weights, bias_current=bias, **common)
    else:
        pop = ss.LIFPopulation(n, tau_ms=20.0, v_rest=0.0, v_th=1.0, v_reset=0.0, refractory_ms=2.0)
        conn = ss.random_connectivity(n, n, p=0.1, seed=int(seeds[2]))
        gauss = np.random.default_rng(int(seeds[1])).standard_normal(conn.nnz)
        weights = conn.with_weights(gauss.astype(np.float32))
        weights = weights.scaled_to_spectral_radius(setting["spectral_radius"])
        reservoir = ss.LIFReservoir(pop, weights, bias_current=bias, **common)
    sample_ms = setting["sample_ms"]
    encoder = random_encoder(n, 1, scaling=setting["input_scaling"], seed=int(seeds[3]))
    return SpikingReservoirModel(
        reservoir,
        encoder,
        sample_ms=sample_ms,
        tau_ms=tuple(sample_ms * k for k in TRACE_TAUS),
    )


def _esn_states(setting: Mapping[str, Any], signal: np.ndarray, n: int, seed: int) -> np.ndarray:
    import warnings

    try:
        from reservoirpy.nodes import Reservoir
    except ImportError as error:
        raise ValueError("model esn needs ReservoirPy (pip install 'spikesub[bench]')") from error
    rng = np.random.default_rng(seed)
    bias = rng.uniform(-setting["bias"], setting["bias"], n) if setting["bias"] > 0 else 0.0
    reservoir = Reservoir(
        n,
        sr=setting["spectral_radius"],
        lr=setting["leak_rate"],
        input_scaling=setting["input_scaling"],
        bias=bias,
        seed=int(rng.integers(0, 2**31 - 1)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(reservoir.run(signal[:, None]), dtype=np.float64)
