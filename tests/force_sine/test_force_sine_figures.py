"""The FORCE sine figure: drawn from a run folder alone, also from folders of the earlier
layout; folders of other jobs refused."""

from __future__ import annotations

import json
import shutil

import pytest

from spikesub.force_sine import plot
from spikesub.plot import plot_run
from spikesub.runs import read_json


def test_figure_is_drawn_from_the_folder(small_run):
    figure = small_run / "force_sine.png"
    assert plot(small_run) == [figure]
    assert figure.stat().st_size > 10_000
    figure.unlink()


def test_plot_run_finds_the_job_of_the_folder(small_run):
    assert plot_run(small_run) == [small_run / "force_sine.png"]
    (small_run / "force_sine.png").unlink()


def test_folder_of_the_earlier_layout_is_drawn(small_run, tmp_path):
    """Earlier folders hold the settings, the neuron parameters and ``"quick"`` at the top of
    ``config.json``."""
    old = tmp_path / "old"
    shutil.copytree(small_run, old)
    saved = read_json(old / "config.json")
    flat = {**saved["config"], "neuron": saved["neuron"], "quick": False, "n_out": 1}
    flat.update({"experiment": "force_sine", "job": "force_sine", "fingerprint": "0" * 16})
    (old / "config.json").write_text(json.dumps(flat))
    assert plot_run(old) == [old / "force_sine.png"]


def test_folder_without_the_files_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="force_sine"):
        plot(tmp_path)


def test_folder_of_another_job_is_refused(small_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(small_run, other)
    saved = read_json(other / "config.json")
    (other / "config.json").write_text(json.dumps({**saved, "job": "simulate"}))
    with pytest.raises(ValueError, match="holds a simulate run"):
        plot(other)
