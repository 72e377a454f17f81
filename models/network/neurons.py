"""Neuron populations: parameters of Izhikevich and leaky integrate-and-fire neurons.

:class:`IzhikevichPopulation` holds the per-neuron parameters and initial state
of an Izhikevich population (the 2003 "simple model" or the 2007 form, see
:mod:`spikesub.kernels.izhikevich`); reservoirs simulate it.
:class:`LIFPopulation` holds LIF parameters and runs an unconnected population
driven by a given current with the kernels of :mod:`spikesub.kernels.lif`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spikesub.kernels.backends import resolve_backend
from spikesub.models.memory import check_allocation
from spikesub.models.validation import as_dtype, check_real, size_in_bytes

__all__ = ["IZHIKEVICH_PRESETS", "IzhikevichPopulation", "LIFPopulation"]

SeedLike = int | np.random.Generator | np.random.SeedSequence | None

IZHIKEVICH_PRESETS: dict[str, dict[str, float]] = {
    "RS": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},  # regular spiking
    "IB": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},  # intrinsically bursting
    "CH": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},  # chattering
    "FS": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},  # fast spiking
    "LTS": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0},  # low-threshold spiking
    "TC": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 0.05},  # thalamo-cortical
    "RZ": {"a": 0.1, "b": 0.26, "c": -65.0, "d": 2.0},  # resonator
}
"""Parameters ``a, b, c, d`` of the 2003 model's cell classes (Izhikevich 2003, Fig. 2)."""

_INHIBITORY_PRESETS = frozenset({"FS", "LTS"})
_FORMS = ("2003", "2007")


def _size(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


_BYTES_PER_NEURON = 256
"""Bytes a population's constructor makes per neuron: a dozen float64 parameter and state
arrays, plus the temporaries they are computed from."""


def _check_population_bytes(n: int, what: str) -> None:
    """Refuse a population too large for the memory budget before any array is made."""
    check_allocation(
        f"the parameters of {what} = {n:,} neurons", size_in_bytes(n, _BYTES_PER_NEURON)
    )


def _per_neuron(name: str, value: Any, n: int) -> np.ndarray:
    """A scalar or ``(n,)`` real value as a fresh ``(n,)`` float64 array (finiteness checked)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or a ({n},) real array; got {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full(n, float(arr), dtype=np.float64)
    elif arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got {arr.shape}")
    else:
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return arr


def _excitatory(value: Any, n: int, default: bool) -> np.ndarray:
    if value is None:
        return np.full(n, default, dtype=bool)
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "iu" or not np.isin(arr, (0, 1)).all():
            raise TypeError(f"excitatory must be a bool or a ({n},) bool array; got {arr.dtype}")
        arr = arr.astype(bool)
    if arr.ndim == 0:
        return np.full(n, bool(arr), dtype=bool)
    if arr.shape != (n,):
        raise ValueError(f"excitatory must be a bool or have shape ({n},); got {arr.shape}")
    return arr.copy()


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())}


# ----------------------------------------------------------------------------------------------
# Izhikevich
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class IzhikevichPopulation:
    """Parameters and initial state of ``N`` Izhikevich neurons.

    2003 form (Izhikevich 2003; v in mV, t in ms, dimensionless current):
    ``v' = 0.04 v^2 + 5 v + 140 - u + I``, ``u' = a (b v - u)``; spike when ``v >= v_peak``,
    then ``v = c``, ``u += d``.

    2007 form (Izhikevich 2007; Nicola & Clopath 2017; I in pA, C in pF):
    ``C v' = k (v - v_r)(v - v_t) - u + I``, ``u' = a (b (v - v_r) - u)``; spike when
    ``v >= v_peak``, then ``v = c`` (the reset potential), ``u += d``.

    Attributes:
        form: ``"2003"`` or ``"2007"``.
        a, b, c, d: ``(N,)`` float64 recovery and reset parameters (c in mV).
        C: ``(N,)`` capacitance in pF (2007 form; None for 2003).
        k: ``(N,)`` gain in nS/mV (2007 form; None for 2003).
        v_r, v_t: ``(N,)`` resting and threshold potentials in mV (2007 form; None for 2003).
        v_peak: spike cut-off in mV.
        excitatory: ``(N,)`` bool, True for excitatory neurons.
        v_init, u_init: ``(N,)`` float64 initial ``v`` (mV) and ``u``.
        n_substeps: Euler sub-steps of ``v`` per time step (>= 1).

    Arrays are stored as read-only float64 (bool for ``excitatory``) copies. Build with the
    keyword constructor or, more often, with :meth:`from_preset`, :meth:`izhikevich_2003` or
    :meth:`izhikevich_2007`.
    """

    form: str
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    excitatory: np.ndarray
    v_init: np.ndarray
    u_init: np.ndarray
    C: np.ndarray | None = None
    k: np.ndarray | None = None
    v_r: np.ndarray | None = None
    v_t: np.ndarray | None = None
    v_peak: float = 30.0
    n_substeps: int = 1

    _ARRAYS_2003: ClassVar[tuple[str, ...]] = ("a", "b", "c", "d", "v_init", "u_init")
    _ARRAYS_2007: ClassVar[tuple[str, ...]] = ("C", "k", "v_r", "v_t")

    def __post_init__(self) -> None:
        form = str(self.form)
        if form not in _FORMS:
            raise ValueError(f"form must be one of {_FORMS}; got {self.form!r}")
        a = np.asarray(self.a)
        if a.ndim != 1:
            raise ValueError(f"a must be a 1-D (N,) array; got shape {a.shape}")
        n = a.shape[0]
        if n < 1:
            raise ValueError(f"the population must have N >= 1 neurons; got {n}")
        values: dict[str, Any] = {"form": form}
        for name in self._ARRAYS_2003:
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},) like a; got {arr.shape}")
            values[name] = _per_neuron(name, arr, n)
        for name in self._ARRAYS_2007:
            value = getattr(self, name)
            if form == "2003":
                if value is not None:
                    raise ValueError(f"{name} is a 2007-form parameter and must be None for 2003")
                values[name] = None
            else:
                if value is None:
                    raise ValueError(f"{name} is required for form '2007'")
                arr = np.asarray(value)
                if arr.shape != (n,):
                    raise ValueError(f"{name} must have shape ({n},) like a; got {arr.shape}")
                values[name] = _per_neuron(name, arr, n)
        if form == "2007" and np.any(values["C"] <= 0):
            raise ValueError(f"C must be > 0 (pF); got min {values['C'].min()}")
        exc = np.asarray(self.excitatory)
        if exc.shape != (n,):
            raise ValueError(f"excitatory must have shape ({n},) like a; got {exc.shape}")
        values["excitatory"] = _excitatory(exc, n, True)
        if isinstance(self.v_peak, bool) or not isinstance(self.v_peak, numbers.Real):
            raise TypeError(f"v_peak must be a real number (mV); got {self.v_peak!r}")
        if not math.isfinite(self.v_peak):
            raise ValueError(f"v_peak must be finite; got {self.v_peak}")
        values["v_peak"] = float(self.v_peak)
        values["n_substeps"] = _size("n_substeps", self.n_substeps, minimum=1)
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                value = _frozen(value)
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"IzhikevichPopulation(form={self.form!r}, n={self.n}, "
            f"n_excitatory={int(self.excitatory.sum())}, n_substeps={self.n_substeps})"
        )

    @property
    def n(self) -> int:
        """Number of neurons."""
        return int(self.a.shape[0])

    @property
    def n_excitatory(self) -> int:
        """Number of excitatory neurons."""
        return int(np.count_nonzero(self.excitatory))

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_preset(
        cls,
        name: str,
        n: int,
        *,
        excitatory: bool | np.ndarray | None = None,
        v_init: float | np.ndarray = -65.0,
    ) -> IzhikevichPopulation:
        """``n`` identical 2003-form neurons of a cell class of :data:`IZHIKEVICH_PRESETS`.

        Args:
            name: preset name, case-insensitive (``"RS"``, ``"fs"``, ...).
            n: number of neurons (>= 1).
            excitatory: bool or ``(n,)`` bool; by default True for RS, IB, CH, TC, RZ and
                False for FS and LTS.
            v_init: initial ``v`` in mV, scalar or ``(n,)``; ``u_init = b * v_init``.
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a preset name string; got {name!r}")
        key = name.upper()
        if key not in IZHIKEVICH_PRESETS:
            raise ValueError(
                f"unknown Izhikevich preset {name!r}; known presets: "
                + ", ".join(IZHIKEVICH_PRESETS)
            )
        n = _size("n", n, minimum=1)
        _check_population_bytes(n, f"from_preset({name!r}, n)")
        params = {p: np.full(n, value) for p, value in IZHIKEVICH_PRESETS[key].items()}
        v0 = _per_neuron("v_init", v_init, n)
        return cls(
            form="2003",
            **params,
            excitatory=_excitatory(excitatory, n, key not in _INHIBITORY_PRESETS),
            v_init=v0,
            u_init=params["b"] * v0,
        )

    @classmethod
    def izhikevich_2003(
        cls, n_exc: int = 800, n_inh: int = 200, *, seed: SeedLike = None
    ) -> IzhikevichPopulation:
        """The heterogeneous population of Izhikevich (2003), excitatory neurons first.

        Excitatory (``r ~ U(0, 1)``): ``a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2``;
        inhibitory: ``a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65, d = 2``;
        ``v_init = -65``, ``u_init = b * v_init``. The excitatory ``r`` are drawn first, then the
        inhibitory ones, from ``numpy.random.default_rng(seed)``.
        """
        n_exc = _size("n_exc", n_exc)
        n_inh = _size("n_inh", n_inh)
        if n_exc + n_inh < 1:
            raise ValueError(f"n_exc + n_inh must be >= 1; got {n_exc} + {n_inh}")
        _check_population_bytes(n_exc + n_inh, "izhikevich_2003: n_exc + n_inh")
        rng = np.random.default_rng(seed)
        re = rng.random(n_exc)
        ri = rng.random(n_inh)
        a = np.concatenate([np.full(n_exc, 0.02), 0.02 + 0.08 * ri])
        b = np.concatenate([np.full(n_exc, 0.2), 0.25 - 0.05 * ri])
        c = np.concatenate([-65.0 + 15.0 * re**2, np.full(n_inh, -65.0)])
        d = np.concatenate([8.0 - 6.0 * re**2, np.full(n_inh, 2.0)])
        v_init = np.full(n_exc + n_inh, -65.0)
        excitatory = np.concatenate([np.ones(n_exc, bool), np.zeros(n_inh, bool)])
        return cls(
            form="2003",
            a=a,
            b=b,
            c=c,
            d=d,
            excitatory=excitatory,
            v_init=v_init,
            u_init=b * v_init,
        )

    @classmethod
    def izhikevich_2007(
        cls,
        n: int,
        *,
        C: float | np.ndarray = 250.0,
        k: float | np.ndarray = 2.5,
        v_r: float | np.ndarray = -60.0,
        v_t: float | np.ndarray = -40.0,
        v_peak: float = 30.0,
        v_reset: float | np.ndarray = -65.0,
        a: float | np.ndarray = 0.01,
        b: float | np.ndarray = 0.0,
        d: float | np.ndarray = 200.0,
        excitatory: bool | np.ndarray | None = None,
        v_init: float | np.ndarray | None = None,
        u_init: float | np.ndarray = 0.0,
        seed: SeedLike = None,
    ) -> IzhikevichPopulation:
        """``n`` neurons of the 2007 form (defaults: Nicola & Clopath 2017's FORCE network).

        Every parameter is a scalar or an ``(n,)`` array: ``C`` in pF, ``k`` in nS/mV,
        potentials in mV, ``d`` in pA; ``c = v_reset``. With ``v_init=None`` the initial
        potentials are ``v_r + (v_peak - v_r) * U(0, 1)`` drawn from
        ``numpy.random.default_rng(seed)``, as in Nicola & Clopath (2017). ``excitatory``
        defaults to all True (their network has no Dale's law).
        """
        n = _size("n", n, minimum=1)
        _check_population_bytes(n, "izhikevich_2007: n")
        v_peak = check_real("v_peak", v_peak)
        v_r_arr = _per_neuron("v_r", v_r, n)
        if v_init is None:
            rng = np.random.default_rng(seed)
            v_init = v_r_arr + (float(v_peak) - v_r_arr) * rng.random(n)
        return cls(
            form="2007",
            a=_per_neuron("a", a, n),
            b=_per_neuron("b", b, n),
            c=_per_neuron("v_reset", v_reset, n),
            d=_per_neuron("d", d, n),
            C=_per_neuron("C", C, n),
            k=_per_neuron("k", k, n),
            v_r=v_r_arr,
            v_t=_per_neuron("v_t", v_t, n),
            v_peak=v_peak,
            excitatory=_excitatory(excitatory, n, True),
            v_init=_per_neuron("v_init", v_init, n),
            u_init=_per_neuron("u_init", u_init, n),
        )

    @classmethod
    def concatenate(cls, *pops: IzhikevichPopulation) -> IzhikevichPopulation:
        """One population made of ``pops`` in order (same form, ``v_peak`` and ``n_substeps``)."""
        if not pops:
            raise ValueError("concatenate needs at least one population")
        for pop in pops:
            if not isinstance(pop, IzhikevichPopulation):
                raise TypeError(
                    f"pops must be IzhikevichPopulation instances; got {type(pop).__name__}"
                )
        first = pops[0]
        for pop in pops[1:]:
            for attr in ("form", "v_peak", "n_substeps"):
                if getattr(pop, attr) != getattr(first, attr):
                    raise ValueError(
                        f"populations to concatenate must share {attr}; got "
                        f"{getattr(first, attr)!r} and {getattr(pop, attr)!r}"
                    )
        names = cls._ARRAYS_2003 + ("excitatory",)
        if first.form == "2007":
            names += cls._ARRAYS_2007
        joined = {name: np.concatenate([getattr(p, name) for p in pops]) for name in names}
        return cls(form=first.form, v_peak=first.v_peak, n_substeps=first.n_substeps, **joined)

    def with_substeps(self, n_substeps: int) -> IzhikevichPopulation:
        """A copy with another number of Euler sub-steps of ``v`` per time step."""
        return dataclasses.replace(self, n_substeps=n_substeps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary for ``config.json``: form, sizes, parameter min / mean / max."""
        names = ("a", "b", "c", "d")
        if self.form == "2007":
            names += self._ARRAYS_2007
        return {
            "form": self.form,
            "n": self.n,
            "n_excitatory": self.n_excitatory,
            "n_inhibitory": self.n - self.n_excitatory,
            "v_peak": self.v_peak,
            "n_substeps": self.n_substeps,
            "parameters": {name: _stats(getattr(self, name)) for name in names},
            "v_init": _stats(self.v_init),
            "u_init": _stats(self.u_init),
        }


# ----------------------------------------------------------------------------------------------
# Leaky integrate-and-fire
# ----------------------------------------------------------------------------------------------

_LIF_RESETS = {"zero": 0, "subtract": 1}


@dataclass
class LIFPopulation:
    """``n`` leaky integrate-and-fire neurons.

    ``tau_ms dv/dt = -(v - v_rest) + resistance * I``; a neuron spikes when ``v >= v_th`` and is
    then reset (``reset="zero"``: ``v = v_reset``; ``"subtract"``: ``v -= v_th - v_reset``) and
    held at ``v_reset`` for ``refractory_ms``. See :mod:`spikesub.kernels.lif` for the exact
    update of one step.

    Attributes:
        n: number of neurons (>= 1).
        tau_ms: membrane time constant in ms, > 0, scalar or ``(n,)``.
        v_rest, v_th, v_reset: potentials (mV or dimensionless), scalar or ``(n,)``,
            ``v_th > v_reset``.
        resistance: membrane resistance (MOhm with I in nA), scalar or ``(n,)``.
        refractory_ms: refractory period in ms (>= 0), rounded to whole steps in :meth:`run`.
        reset: ``"zero"`` or ``"subtract"``.
        excitatory: which neurons are excitatory (a bool or ``(n,)`` bool; default all), for
            Dale's-law weights, E/I balance and plots when the population is a reservoir's
            (:class:`spikesub.models.network.reservoir.LIFReservoir`).
        v_init: initial potential of a reservoir's neurons, scalar or ``(n,)``; ``v_rest``
            by default.
    """

    n: int
    tau_ms: float | np.ndarray
    v_rest: float | np.ndarray = 0.0
    v_th: float | np.ndarray = 1.0
    v_reset: float | np.ndarray = 0.0
    resistance: float | np.ndarray = 1.0
    refractory_ms: float = 0.0
    reset: str = "zero"
    excitatory: Any = None
    v_init: float | np.ndarray | None = None

    form: ClassVar[str] = "lif"

    def __post_init__(self) -> None:
        self._validate()
        self.excitatory = _frozen(_excitatory(self.excitatory, int(self.n), True))

    @property
    def n_excitatory(self) -> int:
        """Number of excitatory neurons."""
        return int(np.count_nonzero(self.excitatory))

    def parameters(self) -> dict[str, np.ndarray]:
        """The checked per-neuron parameters as ``(n,)`` float64 arrays: ``tau_ms``,
        ``v_rest``, ``v_th``, ``v_reset``, ``resistance`` and ``v_init``."""
        params = self._validate()
        init = params["v_rest"]
        if self.v_init is not None:
            init = _per_neuron("v_init", self.v_init, self.n)
        return {**params, "v_init": init}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary for ``config.json``: sizes, parameter min / mean / max."""
        params = self.parameters()
        return {
            "form": self.form,
            "n": int(self.n),
            "n_excitatory": self.n_excitatory,
            "n_inhibitory": int(self.n) - self.n_excitatory,
            "reset": self.reset,
            "refractory_ms": float(self.refractory_ms),
            "parameters": {name: _stats(value) for name, value in params.items()},
        }

    def _validate(self) -> dict[str, np.ndarray]:
        """Check the parameters; return them as ``(n,)`` float64 arrays."""
        n = _size("n", self.n, minimum=1)
        _check_population_bytes(n, "LIFPopulation: n")
        p = {
            name: _per_neuron(name, getattr(self, name), n)
            for name in ("tau_ms", "v_rest", "v_th", "v_reset", "resistance")
        }
        if np.any(p["tau_ms"] <= 0):
            raise ValueError(f"tau_ms must be > 0; got {p['tau_ms'].min()}")
        if np.any(p["v_th"] <= p["v_reset"]):
            i = int(np.argmax(p["v_th"] <= p["v_reset"]))
            raise ValueError(
                f"v_th must be > v_reset; got v_th={p['v_th'][i]} and v_reset={p['v_reset'][i]}"
            )
        if isinstance(self.refractory_ms, bool) or not isinstance(self.refractory_ms, numbers.Real):
            raise TypeError(f"refractory_ms must be a real number >= 0; got {self.refractory_ms!r}")
        if not (math.isfinite(self.refractory_ms) and self.refractory_ms >= 0):
            raise ValueError(f"refractory_ms must be >= 0 and finite; got {self.refractory_ms}")
        if self.reset not in _LIF_RESETS:
            raise ValueError(f"reset must be one of {tuple(_LIF_RESETS)}; got {self.reset!r}")
        return p

    def run(
        self,
        current: Any,
        dt_ms: float,
        *,
        steps: int | None = None,
        backend: str = "auto",
        dtype: Any = np.float32,
        v_init: float | np.ndarray | None = None,
        record_v: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Simulate the population driven by ``current``.

        Args:
            current: ``(time, n)`` input current per step, or a scalar or ``(n,)`` constant
                current together with ``steps``.
            dt_ms: time step in ms (> 0).
            steps: number of steps for a constant current; must match ``time`` if given with a
                ``(time, n)`` current.
            backend: ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cuda"``.
            dtype: state dtype, float32 or float64.
            v_init: initial potential, scalar or ``(n,)``; ``v_rest`` by default.
            record_v: also return the potential after every step (after reset).

        Returns:
            ``(spikes, v)``: ``spikes`` ``(time, n)`` bool; ``v`` ``(time, n)`` in ``dtype``, or
            None when ``record_v`` is False.
        """
        params = self._validate()
        n = int(self.n)
        if isinstance(dt_ms, bool) or not isinstance(dt_ms, numbers.Real):
            raise TypeError(f"dt_ms must be a real number > 0; got {dt_ms!r}")
        dt_ms = float(dt_ms)
        if not (math.isfinite(dt_ms) and dt_ms > 0):
            raise ValueError(f"dt_ms must be > 0 and finite; got {dt_ms}")
        dt = as_dtype("dtype", dtype)
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"dtype must be float32 or float64; got {dt}")
        name = resolve_backend(backend)

        cur = np.asarray(current)
        if cur.dtype.kind not in "biuf":
            raise TypeError(f"current must be a real array; got dtype {cur.dtype}")
        if cur.ndim == 2:
            if cur.shape[1] != n:
                raise ValueError(f"current must have shape (time, {n}); got {cur.shape}")
            if steps is not None and _size("steps", steps) != cur.shape[0]:
                raise ValueError(
                    f"steps must equal the time length of current ({cur.shape[0]}); got {steps}"
                )
            n_steps = cur.shape[0]
            constant = False
        elif cur.ndim <= 1:
            if cur.ndim == 1 and cur.shape != (n,):
                raise ValueError(f"current must have shape ({n},) or (time, {n}); got {cur.shape}")
            if steps is None:
                raise ValueError(
                    "steps is required with a constant (scalar or (n,)) current; "
                    "give steps=... or a (time, n) current"
                )
            n_steps = _size("steps", steps)
            cur = np.broadcast_to(cur, (n,))
            constant = True
        else:
            raise ValueError(f"current must have shape (time, {n}) or ({n},); got {cur.shape}")
        if not np.all(np.isfinite(cur)):
            raise ValueError("current must be finite; got NaN or inf")
        cur = np.ascontiguousarray(cur, dtype=dt)
        if not np.all(np.isfinite(cur)):
            raise ValueError(f"current must fit in {dt}; got values that overflow")

        v = (
            params["v_rest"].astype(dt)
            if v_init is None
            else _per_neuron("v_init", v_init, n).astype(dt)
        )
        decay = np.exp(-dt_ms / params["tau_ms"])
        refractory_steps = int(round(self.refractory_ms / dt_ms))
        args = (
            decay,
            params["v_rest"],
            params["v_th"],
            params["v_reset"],
            params["resistance"],
            refractory_steps,
            _LIF_RESETS[self.reset],
        )
        per_step = n * (1 + (dt.itemsize if record_v else 0))
        check_allocation(
            f"the recording of run(steps={n_steps:,}) of {n:,} neurons",
            size_in_bytes(n_steps, per_step),
        )
        spikes = np.zeros((n_steps, n), dtype=bool)
        v_rec = np.empty((n_steps, n), dtype=dt) if record_v else None
        if n_steps == 0:
            return spikes, v_rec
        if name == "cuda":
            self._run_cuda(cur, constant, v, args, spikes, v_rec)
        else:
            from spikesub.kernels import lif

            update = lif.lif_update_numpy if name == "numpy" else lif.lif_update_numba
            refractory_left = np.zeros(n, dtype=np.int32)
            for t in range(n_steps):
                update(v, cur if constant else cur[t], refractory_left, *args, spikes[t])
                if v_rec is not None:
                    v_rec[t] = v
        return spikes, v_rec

    @staticmethod
    def _run_cuda(
        cur: np.ndarray,
        constant: bool,
        v: np.ndarray,
        args: tuple,
        spikes: np.ndarray,
        v_rec: np.ndarray | None,
    ) -> None:
        from numba import cuda

        from spikesub.kernels.lif import lif_update_cuda

        n = v.shape[0]
        v_d = cuda.to_device(v)
        cur_d = cuda.to_device(cur)
        refractory_d = cuda.to_device(np.zeros(n, dtype=np.int32))
        params_d = [cuda.to_device(np.ascontiguousarray(a)) for a in args[:5]]
        spikes_d = cuda.device_array(spikes.shape, dtype=np.bool_)
        v_rec_d = cuda.device_array(v_rec.shape, dtype=v_rec.dtype) if v_rec is not None else None
        for t in range(spikes.shape[0]):
            lif_update_cuda(
                v_d,
                cur_d if constant else cur_d[t],
                refractory_d,
                *params_d,
                *args[5:],
                spikes_d[t],
            )
            if v_rec_d is not None:
                v_rec_d[t].copy_to_device(v_d)
        spikes[...] = spikes_d.copy_to_host()
        if v_rec is not None:
            v_rec[...] = v_rec_d.copy_to_host()
