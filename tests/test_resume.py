"""Interrupted jobs resume to an uninterrupted run's result; foreign checkpoints are refused."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from spikesub.cli import main
from spikesub.continual.run import ContinualConfig
from spikesub.continual.run import run as run_continual
from spikesub.models.errors import RunFolderError
from spikesub.models.interrupts import deferred_interrupt
from spikesub.models.network.reservoir import IzhikevichReservoir
from spikesub.runs import RunInterrupted, load_npz, read_json
from spikesub.simulate import SimulationConfig
from spikesub.simulate.run import run as run_simulation
from spikesub.whatwhen.config import WhatWhenConfig
from spikesub.whatwhen.run import run as run_whatwhen
from spikesub.whatwhen.runner import Runner as WhatWhenRunner

simulate_mod = importlib.import_module("spikesub.simulate.run")


def simulate(config, out, **options):
    """The simulation job, returning its folder and its metrics."""
    run_dir = run_simulation(config, out, **options)
    return run_dir, read_json(run_dir / "metrics.json")


def _interrupt_on_call(monkeypatch, cls, name: str, call: int) -> None:
    """Make ``cls.name`` raise KeyboardInterrupt on its ``call``-th call (from 1)."""
    original = getattr(cls, name)
    calls = [0]

    def wrapper(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)


def _same_arrays(a: dict, b: dict) -> list[str]:
    """Names of the arrays that differ (NaN equal to NaN in float arrays)."""

    def equal(x: np.ndarray, y: np.ndarray) -> bool:
        return np.array_equal(x, y, equal_nan=x.dtype.kind in "fc" and y.dtype.kind in "fc")

    return [k for k in a if k not in b or not equal(a[k], b[k])]


# ---------------------------------------------------------------------------------------------
# simulate


def test_interrupted_simulation_resumes_bit_for_bit(tmp_path, monkeypatch):
    config = SimulationConfig(n_exc=160, n_inh=40, duration_ms=400.0, seed=3)
    whole, _ = simulate(config, tmp_path / "whole", progress=False)
    monkeypatch.setattr(simulate_mod, "SEGMENT_WALL_S", 1e-6)  # many short segments
    _interrupt_on_call(monkeypatch, IzhikevichReservoir, "run", 3)
    with pytest.raises(RunInterrupted) as info:
        simulate(config, tmp_path / "cut", progress=False)
    assert info.value.run_dir == tmp_path / "cut"
    checkpoint = load_npz(tmp_path / "cut" / "checkpoint.npz")
    assert 0 < int(checkpoint["step"]) < 4000
    assert not (tmp_path / "cut" / "metrics.json").exists()
    monkeypatch.undo()
    _, metrics = simulate(config, tmp_path / "cut", progress=False, resume=True)
    assert metrics["resumed"] and metrics["status"] == "complete"
    assert not (tmp_path / "cut" / "checkpoint.npz").exists()
    for name in ("spikes.npz", "state.npz"):
        assert _same_arrays(load_npz(whole / name), load_npz(tmp_path / "cut" / name)) == []


def test_periodic_checkpoints_survive_a_kill(tmp_path, monkeypatch):
    config = SimulationConfig(n_exc=160, n_inh=40, duration_ms=300.0, seed=4)
    monkeypatch.setattr(simulate_mod, "SEGMENT_WALL_S", 1e-6)
    # a kill after the second segment: nothing is written at the kill, only before it
    _interrupt_on_call(monkeypatch, simulate_mod._Recording, "add", 3)
    monkeypatch.setattr(
        simulate_mod._Recording,
        "write_checkpoint",
        _count_writes(simulate_mod._Recording.write_checkpoint, limit=2),
    )
    with pytest.raises(KeyboardInterrupt):
        simulate(config, tmp_path / "cut", progress=False, checkpoint_every_s=1e-9)
    monkeypatch.undo()
    whole, _ = simulate(config, tmp_path / "whole", progress=False)
    simulate(config, tmp_path / "cut", progress=False, resume=True)
    assert (
        _same_arrays(load_npz(whole / "spikes.npz"), load_npz(tmp_path / "cut" / "spikes.npz"))
        == []
    )


def _count_writes(write, limit: int):
    done = [0]

    def wrapper(self):
        done[0] += 1
        if done[0] <= limit:
            write(self)

    return wrapper


def test_resuming_a_finished_simulation_changes_nothing(tmp_path):
    config = SimulationConfig(n_exc=40, n_inh=10, duration_ms=50.0)
    folder, first = simulate(config, tmp_path / "run", progress=False)
    before = (folder / "spikes.npz").read_bytes()
    _, again = simulate(config, folder, progress=False, resume=True)
    assert again == read_json(folder / "metrics.json") and first["n_neurons"] == 50
    assert (folder / "spikes.npz").read_bytes() == before


def test_a_checkpoint_of_another_simulation_is_refused(tmp_path, monkeypatch):
    config = SimulationConfig(n_exc=40, n_inh=10, duration_ms=200.0, seed=1)
    monkeypatch.setattr(simulate_mod, "SEGMENT_WALL_S", 1e-6)
    for seed in (1, 2):
        _interrupt_on_call(monkeypatch, IzhikevichReservoir, "run", 2)
        with pytest.raises(RunInterrupted):
            simulate(config.replace(seed=seed), tmp_path / f"s{seed}")
        monkeypatch.undo()
        monkeypatch.setattr(simulate_mod, "SEGMENT_WALL_S", 1e-6)
    shutil.copy(tmp_path / "s2" / "checkpoint.npz", tmp_path / "s1" / "checkpoint.npz")
    with pytest.raises(RunFolderError, match="belongs to another run"):
        simulate(config, tmp_path / "s1", progress=False, resume=True)


# ---------------------------------------------------------------------------------------------
# whatwhen


def test_interrupted_whatwhen_resumes_to_the_same_result(tmp_path, monkeypatch):
    config = WhatWhenConfig.quick(
        n_neurons=60,
        n_blocks=3,
        trials_per_block=8,
        delay_switch_block=1,
        probability_switch_block=2,
    )
    run_whatwhen(config, tmp_path / "whole", progress=False)
    _interrupt_on_call(monkeypatch, WhatWhenRunner, "_consolidate", 10)  # in the second block
    with pytest.raises(RunInterrupted):
        run_whatwhen(config, tmp_path / "cut", progress=False)
    assert "interrupted after block 1" in read_json(tmp_path / "cut" / "metrics.json")["status"]
    monkeypatch.undo()
    metrics = read_json(
        run_whatwhen(config, tmp_path / "cut", progress=False, resume=True) / "metrics.json"
    )
    assert metrics["status"] == "complete"
    assert not (tmp_path / "cut" / "checkpoint.npz").exists()
    for name in ("arrays.npz", "examples.npz"):
        whole = load_npz(tmp_path / "whole" / name)
        assert _same_arrays(whole, load_npz(tmp_path / "cut" / name)) == []
    expected = read_json(tmp_path / "whole" / "metrics.json")["methods"]
    assert metrics["methods"] == expected


# ---------------------------------------------------------------------------------------------
# continual


def _tiny(**overrides) -> ContinualConfig:
    settings = {"method": "finetune", "benchmark": "digits", "quick": True, "n_tasks": 2}
    return ContinualConfig(**{**settings, **overrides})


def test_a_checkpoint_copied_from_another_seed_is_refused(tmp_path):
    run_continual(_tiny(seed=0), tmp_path / "a", progress=False, stop_after=1)
    run_continual(_tiny(seed=1), tmp_path / "b", progress=False, stop_after=1)
    shutil.copy(tmp_path / "b" / "checkpoint.pt", tmp_path / "a" / "checkpoint.pt")
    with pytest.raises(RunFolderError, match="belongs to another run"):
        run_continual(_tiny(seed=0), tmp_path / "a", progress=False, resume=True)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    run_continual(_tiny(), tmp_path / "a", progress=False, stop_after=1)
    state = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    state.pop("fingerprint")  # an older checkpoint: the architecture check still holds
    first = next(iter(state["model"]))
    state["model"][first] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "a" / "checkpoint.pt")
    with pytest.raises(RunFolderError, match="saved from another network"):
        run_continual(_tiny(), tmp_path / "a", progress=False, resume=True)


def test_a_damaged_checkpoint_is_one_line(tmp_path, capsys):
    run_continual(_tiny(), tmp_path / "a", progress=False, stop_after=1)
    data = (tmp_path / "a" / "checkpoint.pt").read_bytes()
    (tmp_path / "a" / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    status = main(["continual", "--resume", "--out", str(tmp_path / "a"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "not a readable checkpoint" in err


# ---------------------------------------------------------------------------------------------
# Ctrl-C for real


def test_deferred_interrupt_holds_sigint_until_the_block_ends():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a command
    try:
        reached = []
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
                reached.append("after the signal")
        assert reached == ["after the signal"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_ctrl_c_during_a_simulation_exits_130_and_resumes(tmp_path):
    out = tmp_path / "run"
    argv = ["simulate", "--n-exc", "4000", "--n-inh", "1000", "--p", "0.05", "--quiet"]
    argv += ["--duration-ms", "200000", "--checkpoint-every-s", "0.05", "--out", str(out)]
    code = "import sys; from spikesub.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first segments have run and been saved
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        f"spikesub simulate: interrupted (continue with --resume --out {out})"
    ]
    assert int(load_npz(out / "checkpoint.npz")["step"]) > 0
