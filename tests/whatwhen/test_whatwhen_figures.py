"""The what-and-when figures, drawn from a run folder only."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from spikesub.models.network.monitors import SpikeTrains
from spikesub.plot import plot_run
from spikesub.runs import save_spikes, write_json
from spikesub.whatwhen.figures import FIGURES as DRAWN
from spikesub.whatwhen.figures import MAX_RASTER_NEURONS, _Run, plot, raster_figure
from spikesub.whatwhen.run import run
from spikesub.whatwhen.runner import WhatWhenDivergedError

FIGURES = {
    "paradigm.png",
    "raster.png",
    "outputs.png",
    "timing.png",
    "magnitude_probability.png",
    "recovery.png",
    "learning.png",
    "angles.png",
}
FIGURE_LIST = list(DRAWN)


@pytest.mark.slow
def test_plot_redraws_every_figure(tiny_run, tmp_path):
    out, _ = tiny_run
    paths = plot(out, out_dir=tmp_path)
    assert {p.name for p in paths} == FIGURES
    assert all(p.stat().st_size > 1000 and p.parent == tmp_path for p in paths)


@pytest.mark.slow
def test_spikesub_plot_finds_the_job_of_the_folder(tiny_run):
    out, _ = tiny_run
    assert {p.name for p in plot_run(out)} == FIGURES


def test_plot_of_an_interrupted_run_draws_what_is_there(tmp_path, tiny_config):
    out = tmp_path / "run"
    with pytest.raises(WhatWhenDivergedError):
        run(tiny_config(tf_learning_rate=1e3, tf_when_normalised=False), out, progress=False)
    names = {p.name for p in plot(out)}
    assert "paradigm.png" in names and "outputs.png" not in names


def test_plot_refuses_other_folders(tmp_path):
    with pytest.raises(FileNotFoundError):
        plot(tmp_path / "missing")
    write_json(tmp_path / "config.json", {"experiment": "simulate"})
    with pytest.raises(ValueError, match="whatwhen"):
        plot(tmp_path)


# ----------------------------------------------------------------------------------------------
# Each figure from the saved files alone

SAVED = (
    "config.json",
    "metrics.json",
    "arrays.npz",
    "paradigm.npz",
    "examples.npz",
    "raster_trial.npz",
    "raster_trial.json",
)


def _saved_copy(run_dir, dest):
    """The run folder's saved results, without its checkpoint or figures."""
    dest.mkdir()
    for name in SAVED:
        shutil.copy(run_dir / name, dest / name)
    return dest


@pytest.mark.parametrize("name, draw", FIGURE_LIST, ids=[n for n, _ in FIGURE_LIST])
def test_each_figure_is_drawn_from_the_saved_files_alone(tiny_run, tmp_path, name, draw):
    out, _ = tiny_run
    fig = draw(_Run(_saved_copy(out, tmp_path / "saved")))
    assert fig is not None and fig.axes, name
    fig.savefig(io.BytesIO(), format="png", dpi=30)


def test_the_true_value_steps_at_the_switch_block(tiny_run, tmp_path):
    out, _ = tiny_run
    run_ = _Run(out)
    edges, delay = run_.truth("delay", 1)  # the tiny run switches cue 1's delay at block 1
    assert list(edges) == [-0.5, 3.5, 7.5, 11.5] and list(delay) == [100.0, 130.0, 130.0]
    saved = _saved_copy(out, tmp_path / "saved")
    (saved / "paradigm.npz").unlink()  # without the paradigm, from the trials themselves
    assert list(_Run(saved).truth("delay", 1)[1]) == [100.0, 130.0, 130.0]


def test_a_large_raster_is_subsampled(tiny_run, tmp_path):
    out, _ = tiny_run
    saved = _saved_copy(out, tmp_path / "saved")
    n = MAX_RASTER_NEURONS + 2000
    rng = np.random.default_rng(0)
    spikes = SpikeTrains(
        times_ms=np.sort(rng.uniform(0, 200, 20000)),
        indices=rng.integers(0, n, 20000).astype(np.int32),
        n_neurons=n,
        duration_ms=200.0,
    )
    save_spikes(saved / "raster_trial.npz", spikes, excitatory=np.arange(n) < 0.8 * n)
    fig = raster_figure(_Run(saved))
    raster = fig.axes[0]
    assert f"random {MAX_RASTER_NEURONS} of the {n}" in raster.get_title(loc="left")
    assert raster.get_ylim()[1] < MAX_RASTER_NEURONS
