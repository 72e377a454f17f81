"""The ``spikesub`` command: run folders it writes, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from spikesub.cli import main
from spikesub.runs import load_npz, load_spikes

SMALL = ["--n-exc", "40", "--n-inh", "10", "--duration-ms", "200", "--quiet"]


def test_simulate_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    assert main(["simulate", *SMALL, "--out", str(out), "--seed", "3"]) == 0
    for name in ("config.json", "metrics.json", "spikes.npz", "state.npz", "raster.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["n_exc"] == 40 and config["config"]["seed"] == 3
    assert config["network"]["population"]["n"] == 50
    metrics = json.loads((out / "metrics.json").read_text())
    spikes, excitatory = load_spikes(out / "spikes.npz")
    assert metrics["n_spikes"] == len(spikes) > 0
    assert metrics["n_neurons"] == 50 and excitatory.sum() == 40
    assert metrics["mean_rate_hz"] == pytest.approx(len(spikes) / 50 / 0.2)
    for key in ("cv_isi_mean", "synchrony_chi", "wall_time_s", "real_time_factor"):
        assert key in metrics
    state = load_npz(out / "state.npz")
    assert state["v"].shape == (2000, 4)


def test_same_seed_same_spikes_through_the_cli(tmp_path):
    for name in ("a", "b"):
        assert main(["simulate", *SMALL, "--out", str(tmp_path / name)]) == 0
    a, _ = load_spikes(tmp_path / "a" / "spikes.npz")
    b, _ = load_spikes(tmp_path / "b" / "spikes.npz")
    np.testing.assert_array_equal(a.times_ms, b.times_ms)
    np.testing.assert_array_equal(a.indices, b.indices)


def test_numpy_backend_matches_numba_through_the_cli(tmp_path):
    for backend in ("numpy", "numba"):
        args = ["simulate", *SMALL, "--backend", backend, "--out", str(tmp_path / backend)]
        assert main(args) == 0
    a, _ = load_spikes(tmp_path / "numpy" / "spikes.npz")
    b, _ = load_spikes(tmp_path / "numba" / "spikes.npz")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.times_ms, b.times_ms)


def test_plot_redraws_figures_from_saved_results(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simulate", *SMALL, "--out", str(out)]) == 0
    (out / "raster.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "raster.png").is_file()
    assert "raster.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["simulate", "--dt-ms", "0"], "dt_ms"),
        (["simulate", "--duration-ms", "-5"], "duration_ms"),
        (["simulate", "--duration-ms", "nan"], "duration_ms"),
        (["simulate", "--p", "1.5"], "p must be a finite number in [0, 1]; got 1.5"),
        (["simulate", "--backend", "tpu"], "argument --backend: invalid choice: 'tpu'"),
        (["simulate", "--dtype", "int8"], "argument --dtype: invalid choice: 'int8'"),
        (["simulate", "--n-exc", "-1"], "n_exc"),
        (["simulate", "--noise-exc", "-1"], "noise_std_exc"),
        (["plot", "/nonexistent/run"], "does not exist"),
        (["simulate", "--noise-exc", "1e30", "--duration-ms", "5"], "non-finite at step"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, named, capsys, tmp_path):
    if args[0] == "simulate":
        args = [*args, "--quiet", "--out", str(tmp_path / "bad")]
    try:
        status = main(args)
    except SystemExit as stop:  # a usage error, one line as well
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert named in err
    assert "Traceback" not in err


def test_cuda_without_gpu_names_the_alternative(monkeypatch, capsys, tmp_path):
    import spikesub.kernels.backends as backends

    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    args = ["simulate", *SMALL, "--backend", "cuda", "--out", str(tmp_path / "c")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "GPU" in err and "backend='numba'" in err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "spikesub demo" in capsys.readouterr().out


def test_help_explains_each_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--n-exc", "--p", "--in-degree", "--duration-ms", "--backend", "--out"):
        assert option in text


def test_console_script_runs_and_fails_cleanly(tmp_path):
    """The installed entry point: a diverging or invalid run never prints a traceback."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    ok = subprocess.run(
        [sys.executable, "-m", "spikesub.cli", "info"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0 and "backends: numpy, numba" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "spikesub.cli", "simulate", "--seed", "-1", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "seed" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_demo_runs_the_full_network(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_neurons"] == 1000 and metrics["n_synapses"] == 1_000_000
    # Izhikevich (2003): irregular firing around 10 Hz with population bursts
    assert 3.0 < metrics["mean_rate_hz"] < 30.0
    # then the quick what-and-when experiment, in its own folder, with its figures
    whatwhen = json.loads((out / "whatwhen" / "config.json").read_text())
    assert whatwhen["experiment"] == "whatwhen"
    assert (out / "whatwhen" / "metrics.json").exists()
    assert list((out / "whatwhen").glob("*.png"))
    printed = capsys.readouterr().out
    assert "run folder" in printed and "what-and-when" in printed


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("bench-reservoir", "--sizes"),
        ("bench-threads", "--rounds"),
        ("bench-snn", "--bench"),
        ("bench-snn-breakdown", "--out"),
        ("bench-snntorch-swap", "--rounds"),
        ("crosscheck-brian2", "--out"),
    ],
)
def test_each_benchmark_is_a_command(command, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert option in capsys.readouterr().out


def test_a_benchmark_command_refuses_a_bad_setting_in_one_line(capsys, tmp_path):
    status = main(["bench-reservoir", "--sizes", "5", "--out", str(tmp_path / "b"), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sizes" in err
