"""spikesub's Izhikevich reservoir against NEST 3 (optional: ``pip install nest-simulator``).

NEST's ``izhikevich`` model delivers a spike one step later than spikesub and Brian2, so the
two agree in firing rates, not spike for spike; the argument checks run without NEST.
"""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.models.network.neurons import IzhikevichPopulation
from spikesub.models.network.reservoir import IzhikevichReservoir
from spikesub.nest_reference import run_nest


def test_refuses_what_nest_cannot_reproduce():
    pop = IzhikevichPopulation.from_preset("RS", 5)
    with pytest.raises(ValueError, match="synapse"):
        run_nest(IzhikevichReservoir(pop, None, synapse="exponential", backend="numpy"), 10.0)
    with pytest.raises(ValueError, match="2003 form"):
        run_nest(IzhikevichReservoir(IzhikevichPopulation.izhikevich_2007(5), backend="numpy"), 1.0)
    res = IzhikevichReservoir(pop, None, backend="numpy")
    with pytest.raises(ValueError, match="n_substeps"):
        run_nest(IzhikevichReservoir(pop.with_substeps(2), None, backend="numpy"), 10.0)
    with pytest.raises(ValueError, match="threads"):
        run_nest(res, 10.0, threads=0)
    with pytest.raises(ValueError, match="duration_ms"):
        run_nest(res, 10.05)
    with pytest.raises(TypeError, match="duration_ms"):
        run_nest(res, "10")


@pytest.mark.slow
def test_nest_fires_at_spikesub_rates():
    """3000 neurons (p = 0.1, thalamic noise), 1 s: total and per-population counts within 8 %
    (measured on seeds 0-3: -4.4 % to +2.9 %; NEST's one-step delivery delay and its own noise
    make the difference; on 1000 neurons, a bursting regime, it is +18 % to +26 %)."""
    pytest.importorskip("nest")
    res = IzhikevichReservoir.izhikevich_2003(2400, 600, p=0.1, backend="numba", seed=0)
    run = run_nest(res, 1000.0, threads=1)
    assert run.threads == 1 and run.n_synapses == res.weights.nnz
    assert run.build_s > 0 and run.run_s > 0 and run.duration_ms == pytest.approx(1000.0)
    steps = run.spikes.times_ms / 0.1
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-6)
    assert steps.min() >= 0 and steps.max() < 10_000
    theirs = run.spikes.counts()
    ours = res.run(1000.0).spikes.counts()
    for part in (slice(None), slice(0, 2400), slice(2400, None)):
        assert abs(int(theirs[part].sum()) - int(ours[part].sum())) <= 0.08 * ours[part].sum()
