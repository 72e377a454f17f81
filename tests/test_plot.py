"""Figures: what is drawn, subsampling, PNG files, redrawing a run folder."""

from __future__ import annotations

import threading

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from spikesub.analysis import population_rate_hz
from spikesub.models.network.monitors import SpikeTrains
from spikesub.plot import membrane_traces, plot_run, raster
from spikesub.runs import save_spikes, write_npz


def poisson_spikes(n_neurons, rate_hz, duration_ms, seed):
    rng = np.random.default_rng(seed)
    n = rng.poisson(n_neurons * rate_hz * duration_ms / 1000.0)
    times = np.sort(rng.uniform(0.0, duration_ms, n))
    return times, rng.integers(0, n_neurons, n)


def raster_lines(fig):
    """Spike-mark lines of the raster axes, by label prefix."""
    ax = fig.axes[0]
    return {line.get_label().split(":")[0]: line for line in ax.get_lines()}


def n_drawn(fig):
    return sum(len(line.get_xdata()) for line in raster_lines(fig).values())


def test_raster_draws_every_spike_in_two_axes():
    times, indices = poisson_spikes(50, 10.0, 500.0, seed=0)
    exc = np.arange(50) < 40
    fig = raster(times, indices, 50, excitatory=exc, duration_ms=500.0)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[1])
    lines = raster_lines(fig)
    assert set(lines) == {"excitatory", "inhibitory"}
    assert n_drawn(fig) == times.size
    n_exc_spikes = int(exc[indices].sum())
    assert len(lines["excitatory"].get_xdata()) == n_exc_spikes
    np.testing.assert_array_equal(
        np.sort(lines["inhibitory"].get_ydata()), np.sort(indices[~exc[indices]])
    )
    assert matplotlib.colors.same_color(lines["excitatory"].get_color(), "tab:blue")
    assert matplotlib.colors.same_color(lines["inhibitory"].get_color(), "tab:red")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [
        f"excitatory: 40 neurons, {n_exc_spikes:,} spikes",
        f"inhibitory: 10 neurons, {times.size - n_exc_spikes:,} spikes",
    ]
    assert fig.axes[1].get_xlim() == (0.0, 500.0)


def test_raster_rate_panel_shows_binned_population_rate():
    times, indices = poisson_spikes(20, 30.0, 200.0, seed=1)
    fig = raster(times, indices, 20, duration_ms=200.0, bin_ms=5.0)
    (all_line,) = [ln for ln in fig.axes[1].get_lines() if ln.get_label() == "all"]
    starts, rate = population_rate_hz(times, 20, 200.0, bin_ms=5.0)
    np.testing.assert_allclose(all_line.get_xdata(), starts + 2.5)
    np.testing.assert_allclose(all_line.get_ydata(), rate)
    # without E/I labels a single group is drawn
    assert set(raster_lines(fig)) == {"spikes"}
    assert n_drawn(fig) == times.size


def test_raster_subsamples_neurons_when_too_many_points():
    n_neurons = 300
    times, indices = poisson_spikes(n_neurons, 50.0, 1000.0, seed=2)  # ~15000 spikes
    max_points = 4000
    fig = raster(times, indices, n_neurons, max_points=max_points, seed=5, duration_ms=1000.0)
    drawn = n_drawn(fig)
    max_per_neuron = np.bincount(indices).max()
    assert max_points - max_per_neuron < drawn <= max_points
    title = fig.get_suptitle()
    assert "random subset" in title and "seed 5" in title and f"{drawn:,} of" in title
    # whole trains are drawn: every drawn row holds all of that neuron's spikes
    rows = np.concatenate([ln.get_ydata() for ln in raster_lines(fig).values()])
    n_rows = int(rows.max()) + 1
    assert n_rows < n_neurons
    assert fig.axes[0].get_ylim() == (-0.5, n_rows - 0.5)
    # the same seed gives the same subset, another seed another one
    again = raster(times, indices, n_neurons, max_points=max_points, seed=5, duration_ms=1000.0)
    np.testing.assert_array_equal(
        raster_lines(again)["spikes"].get_xdata(), raster_lines(fig)["spikes"].get_xdata()
    )
    other = raster(times, indices, n_neurons, max_points=max_points, seed=6, duration_ms=1000.0)
    assert not np.array_equal(
        raster_lines(other)["spikes"].get_xdata(), raster_lines(fig)["spikes"].get_xdata()
    )


def test_raster_png_written_and_readable(tmp_path):
    times, indices = poisson_spikes(30, 10.0, 300.0, seed=3)
    path = tmp_path / "raster.png"
    raster(times, indices, 30, path=path, title="hello")
    image = matplotlib.image.imread(path)
    assert image.shape == (720, 1200, 4)  # 10 x 6 inches at 120 dpi
    assert image[..., :3].std() > 0.01  # not blank
    assert [p.name for p in tmp_path.iterdir()] == ["raster.png"]


def test_raster_infers_duration_and_handles_no_spikes():
    fig = raster(np.array([12.3, 47.0]), np.array([0, 1]), 2, bin_ms=10.0)
    assert fig.axes[1].get_xlim() == (0.0, 50.0)
    empty = raster(np.array([]), np.array([], dtype=int), 4, duration_ms=100.0)
    assert n_drawn(empty) == 0 and len(empty.axes) == 2


def test_raster_bad_input():
    with pytest.raises(ValueError, match="indices"):
        raster(np.array([1.0]), np.array([5]), 3)
    with pytest.raises(ValueError, match="max_points"):
        raster(np.array([1.0]), np.array([0]), 3, max_points=0)
    with pytest.raises(ValueError, match="excitatory"):
        raster(np.array([1.0]), np.array([0]), 3, excitatory=np.ones(2, bool))


def test_raster_in_threads():
    times, indices = poisson_spikes(40, 10.0, 200.0, seed=4)
    results = {}

    def work(k):
        results[k] = n_drawn(raster(times, indices, 40, duration_ms=200.0))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: times.size for k in range(3)}


# ----------------------------------------------------------------------------- membrane traces


def test_membrane_traces_panels_and_spikes(tmp_path):
    times = np.arange(0.0, 100.0, 0.5)
    values = -65.0 + 10.0 * np.sin(times[:, None] / 10.0 + np.arange(3))
    spike_times = [np.array([10.0, 60.0]), np.array([]), np.array([30.0, 300.0])]
    path = tmp_path / "m.png"
    fig = membrane_traces(
        times, values, [4, 9, 17], v_peak=30.0, spike_times=spike_times, path=path
    )
    assert len(fig.axes) == 3
    for j, ax in enumerate(fig.axes):
        (trace,) = ax.get_lines()[:1]
        np.testing.assert_array_equal(trace.get_ydata(), values[:, j])
        assert ax.get_ylabel() == "v (mV)"
        assert f"neuron {[4, 9, 17][j]}" in [t.get_text() for t in ax.texts]
    # spikes inside the sampled window become vertical lines reaching v_peak
    segs = [seg for c in fig.axes[0].collections for seg in c.get_segments()]
    assert len(segs) == 2 and all(seg[1, 1] == 30.0 for seg in segs)
    assert sum(len(c.get_segments()) for c in fig.axes[2].collections) == 1  # 300 ms is outside
    assert matplotlib.image.imread(path).ndim == 3


def test_membrane_traces_caps_panels_and_validates():
    times = np.arange(10.0)
    values = np.zeros((10, 12))
    fig = membrane_traces(times, values, np.arange(12), variable="u", unit="")
    assert len(fig.axes) == 8
    assert "first 8 of 12" in fig.get_suptitle()
    assert fig.axes[0].get_ylabel() == "u"
    one = membrane_traces(times, np.ones(10), [3])
    assert len(one.axes) == 1
    with pytest.raises(ValueError, match="values"):
        membrane_traces(times, np.zeros((9, 2)), [0, 1])
    with pytest.raises(ValueError, match="neuron_indices"):
        membrane_traces(times, np.zeros((10, 2)), [0])
    with pytest.raises(ValueError, match="spike_times"):
        membrane_traces(times, np.zeros((10, 2)), [0, 1], spike_times=[np.array([])])


# ----------------------------------------------------------------------------- run folders


def test_plot_run_from_saved_files(tmp_path):
    times, indices = poisson_spikes(25, 20.0, 400.0, seed=8)
    spikes = SpikeTrains(times, indices.astype(np.int32), n_neurons=25, duration_ms=400.0)
    save_spikes(tmp_path / "spikes.npz", spikes, excitatory=np.arange(25) < 20)
    written = plot_run(tmp_path)
    assert written == [tmp_path / "raster.png"]
    assert matplotlib.image.imread(written[0]).shape == (720, 1200, 4)

    t_state = np.arange(0.0, 400.0, 1.0)
    write_npz(
        tmp_path / "state.npz",
        times_ms=t_state,
        indices=np.array([0, 3]),
        v=np.full((t_state.size, 2), -65.0, dtype=np.float32),
        u=np.zeros((t_state.size, 2), dtype=np.float32),
        v_peak=np.asarray(30.0),
    )
    written = plot_run(str(tmp_path))
    assert written == [tmp_path / "raster.png", tmp_path / "membrane.png"]
    image = matplotlib.image.imread(tmp_path / "membrane.png")
    assert image.ndim == 3 and image.shape[1] == 1200
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_plot_run_needs_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="spikes.npz"):
        plot_run(tmp_path)
    with pytest.raises(FileNotFoundError):
        plot_run(tmp_path / "missing")


def test_plot_run_names_an_unknown_experiment(tmp_path):
    (tmp_path / "config.json").write_text('{"experiment": "bogus"}')
    with pytest.raises(ValueError, match="bogus"):
        plot_run(tmp_path)


def test_plot_run_dispatches_on_the_experiment(tmp_path, monkeypatch):
    import spikesub.continual.figures as continual_figures

    drawn = []
    monkeypatch.setattr(continual_figures, "plot_continual", lambda d: drawn.append(d) or [d])
    (tmp_path / "config.json").write_text('{"experiment": "continual"}')
    assert plot_run(tmp_path) == [tmp_path]
    assert drawn == [tmp_path]
