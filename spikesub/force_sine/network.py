"""The FORCE network of Nicola & Clopath (2017): neurons, static weights, feedback encoder.

``N`` Izhikevich (2007) neurons (``C = 250`` pF, ``k = 2.5`` nS/mV, ``v_r = -60`` mV,
``v_peak = 30`` mV, ``v_reset = -65`` mV, ``a = 0.01``/ms, ``d = 200`` pA; ``b``, ``v_t`` and
the bias current from the configuration), initial ``v = v_r + (v_peak - v_r) U(0, 1)`` and
``u = 0``; static weights ``G N(0, 1) [U < p] / (sqrt(N) p)``, optionally balanced row by
row; a feedback encoder ``Q (2 U(0, 1) - 1)`` that carries the readout back into every neuron.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesub.force_sine.config import ForceSineConfig
from spikesub.kernels.force_loop_args import ForceConnections, ForceNeuron, ForceState
from spikesub.models.network.neurons import IzhikevichPopulation

__all__ = [
    "ForceNetwork",
    "build_network",
    "csr_by_presynaptic",
    "force_weights",
    "neuron_settings",
]

C_PF = 250.0
K_NS_PER_MV = 2.5
V_R_MV = -60.0
V_PEAK_MV = 30.0
V_RESET_MV = -65.0
A_PER_MS = 0.01
D_PA = 200.0


def neuron_settings(config: ForceSineConfig) -> dict[str, float]:
    """The neuron parameters of ``config``'s network, with their units in their names."""
    return {
        "C_pF": C_PF,
        "k_nS_per_mV": K_NS_PER_MV,
        "v_r_mV": V_R_MV,
        "v_t_mV": config.v_t_mV,
        "v_peak_mV": V_PEAK_MV,
        "v_reset_mV": V_RESET_MV,
        "a_per_ms": A_PER_MS,
        "b_nS": config.b_nS,
        "d_pA": D_PA,
    }


def force_weights(
    n_neurons: int,
    *,
    gain_pA: float = 5e3,
    p_connect: float = 0.1,
    balance_rows: bool = False,
    rng: np.random.Generator,
) -> np.ndarray:
    """Static weights of the FORCE network, dense ``(post, pre)`` float64, in pA.

    ``gain_pA * N(0, 1) * [U(0, 1) < p_connect] / (sqrt(N) * p_connect)``, drawn as one
    ``(N, N)`` normal array then one ``(N, N)`` uniform array from ``rng``. With
    ``balance_rows`` the mean of each row's nonzero entries is subtracted from them, so every
    neuron's input weights sum to zero.

    Raises:
        ValueError / TypeError: ``n_neurons`` < 1, ``p_connect`` outside ``(0, 1]``.
    """
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)):
        raise TypeError(f"n_neurons must be an integer >= 1; got {n_neurons!r}")
    if n_neurons < 1:
        raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
    if not 0.0 < p_connect <= 1.0:
        raise ValueError(f"p_connect must be in (0, 1]; got {p_connect}")
    n, p = int(n_neurons), float(p_connect)
    weights = rng.standard_normal((n, n))
    mask = rng.random((n, n)) < p
    weights *= mask * (float(gain_pA) / (math.sqrt(n) * p))
    if balance_rows:
        counts = mask.sum(axis=1)
        means = np.divide(weights.sum(axis=1), counts, out=np.zeros(n), where=counts > 0)
        weights -= mask * means[:, None]
    return weights


def csr_by_presynaptic(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR over presynaptic rows of a dense ``(post, pre)`` matrix's nonzero entries.

    Returns:
        ``(indptr, indices, values)``: int64 ``(N_pre + 1,)``, int32 ``(nnz,)`` postsynaptic
        indices ascending within a row, float64 ``(nnz,)``.
    """
    by_pre = np.ascontiguousarray(weights.T)
    pre, post = np.nonzero(by_pre)
    indptr = np.zeros(by_pre.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=by_pre.shape[0]), out=indptr[1:])
    return indptr, post.astype(np.int32), by_pre[pre, post].astype(np.float64)


@dataclass(frozen=True)
class ForceNetwork:
    """A built network, in the argument groups of :mod:`spikesub.kernels.force_loop`.

    Attributes:
        neuron: ``(C, k, v_r, v_t, a, b, v_reset, d, i_bias, v_peak, dt_ms)``: nine ``(N,)``
            float64 arrays (pF, nS/mV, mV, mV, 1/ms, nS, mV, pA, pA), then two floats.
        state: ``(v, u, ipsc, h_ipsc, r, h_r, z)``: ``(N,)`` float64 arrays and ``z`` ``(1,)``;
            the initial state, which the loop advances in place.
        weights: the static weights as CSR over presynaptic rows, see
            :func:`csr_by_presynaptic` (pA).
        encoder: ``(N, 1)`` float64 (``W[post, pre]``), pA per unit of readout.
    """

    neuron: ForceNeuron
    state: ForceState
    weights: tuple[np.ndarray, np.ndarray, np.ndarray]
    encoder: np.ndarray

    @property
    def n_neurons(self) -> int:
        return int(self.encoder.shape[0])

    @property
    def connections(self) -> ForceConnections:
        """The loop's ``network`` group: the weights' CSR and the encoder, by output (the
        loop's layout, ``(n_out, N)``)."""
        return ForceConnections(*self.weights, np.ascontiguousarray(self.encoder.T))


def build_network(config: ForceSineConfig) -> ForceNetwork:
    """The network ``config`` describes, drawn from ``numpy.random.default_rng(config.seed)``
    in this order: initial ``v``, static weights (normals, then the mask), encoder."""
    n = config.n_neurons
    rng = np.random.default_rng(config.seed)
    population = IzhikevichPopulation.izhikevich_2007(
        n,
        v_t=config.v_t_mV,
        b=config.b_nS,
        k=K_NS_PER_MV,
        v_r=V_R_MV,
        C=C_PF,
        a=A_PER_MS,
        d=D_PA,
        seed=rng,
    )
    weights = force_weights(
        n,
        gain_pA=config.gain_static_pA,
        p_connect=config.p_connect,
        balance_rows=config.balance_rows,
        rng=rng,
    )
    encoder = (config.gain_feedback_pA * (2.0 * rng.random((1, n)) - 1.0)).T
    csr = csr_by_presynaptic(weights)
    del weights
    return ForceNetwork(
        neuron=_neuron_group(population, config),
        state=_initial_state(population),
        weights=csr,
        encoder=encoder,
    )


def _per_neuron(x: Any, n: int) -> np.ndarray:
    # a writeable copy: the population's arrays are read-only, and the compiled loop would
    # otherwise be compiled a second time for read-only arrays
    return np.array(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)))


def _neuron_group(population: IzhikevichPopulation, config: ForceSineConfig) -> ForceNeuron:
    """The loop's ``neuron`` group of ``population`` with the bias and step of ``config``."""
    n = config.n_neurons
    p = population
    return ForceNeuron(
        C=_per_neuron(p.C, n),
        k=_per_neuron(p.k, n),
        v_r=_per_neuron(p.v_r, n),
        v_t=_per_neuron(p.v_t, n),
        a=_per_neuron(p.a, n),
        b=_per_neuron(p.b, n),
        v_reset=_per_neuron(p.c, n),
        d=_per_neuron(p.d, n),
        i_bias=_per_neuron(config.bias_pA, n),
        v_peak=float(p.v_peak),
        dt_ms=config.dt_ms,
    )


def _initial_state(population: IzhikevichPopulation) -> ForceState:
    """The loop's ``state`` group at the start: the population's ``v`` and ``u``, filters and
    readout at zero."""
    n = population.n
    return ForceState(
        v=population.v_init.astype(np.float64),
        u=population.u_init.astype(np.float64),
        ipsc=np.zeros(n),
        h_ipsc=np.zeros(n),
        r=np.zeros(n),
        h_r=np.zeros(n),
        z=np.zeros(1),
    )
