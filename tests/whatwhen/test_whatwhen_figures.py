"""The what-and-when figures, drawn from a run folder only."""

from __future__ import annotations

import pytest

from spikesub.plot import plot_run
from spikesub.runs import write_json
from spikesub.whatwhen.figures import plot
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
