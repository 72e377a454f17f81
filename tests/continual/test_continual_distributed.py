"""Data-parallel continual learning: two ranks (gloo, CPU) against one process.

One ``torch.distributed.run --nproc_per_node 2`` launch (``distributed_worker.py``) carries out
every two-rank run of this module; the one-process references run here. Two ranks train on
halves of the same global batches, so they must end where one process ends.

Tolerance. What separates a two-rank run from a one-process run is the order in which float32
gradients are summed (each rank over its half of the batch, then the two halves), a relative
rounding of about 1e-7 per step: after these runs the weights differ by about 3e-8, the
strategies' statistics (GPM's bases, HLOP's lateral weights) not at all, since the spikes they
are computed from are the same, and EWC's Fisher by about 1e-7 of its scale. The weights are
held to 1e-5, which leaves room for other CPUs' summation orders, and the accuracy matrices
must be equal: the same test samples right. The runs are short (one epoch per task) because a
spiking network amplifies rounding once it flips a spike that sat within rounding of the
threshold: the gradient then changes by about the step size and the runs part (quick runs of
three epochs per task end with the same accuracy matrix for HLOP, GPM and EWC, and within 11
test samples of 450 for fine-tuning). The batches are uneven on purpose: each task's 289
samples make nine batches of 32 and one of a single sample, which one rank gets and the
other does not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest
import torch

from spikesub.continual import distributed
from spikesub.continual.config import ContinualConfig
from spikesub.continual.distributed import SINGLE_PROCESS, Shard, even_shard
from spikesub.continual.run import load_checkpoint
from spikesub.continual.run import run as run_continual
from spikesub.continual.taps import ActivityTap
from spikesub.runs import config_fingerprint, load_npz, read_json, write_json

WORKER = Path(__file__).with_name("distributed_worker.py")

SHORT = dict(
    benchmark="digits", quick=True, n_tasks=2, hidden=(64, 64), steps=8, max_train=289, epochs=1
)
"""Two tasks of 289 samples, one epoch each, two hidden layers (the second sees a sequence)."""

TAPPED = {"samples": 50, "max_rows": 20}
"""Gram matrices of the first 50 examples (a limit inside a batch), rows sampled per call."""

RUNS = {
    "hlop": dict(method="hlop", strategy_options=TAPPED),
    "hlop-training": dict(method="hlop", strategy_options={**TAPPED, "record": "training"}),
    "hlop-online": dict(method="hlop", training="online", strategy_options=TAPPED),
    "gpm": dict(method="gpm", strategy_options=TAPPED),
    "ewc": dict(method="ewc", strategy_options={"samples": 50}),
    "finetune": dict(method="finetune"),
    "multitask": dict(method="multitask"),
}
"""The runs made on two ranks and in one process."""

WEIGHT_ATOL = 1e-5


def config_of(name: str) -> ContinualConfig:
    return ContinualConfig(**SHORT, **RUNS[name])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _plan(tmp: Path) -> list[dict]:
    hlop = json.loads(json.dumps(config_of("hlop").to_dict()))
    plan = [
        {"name": name, "config": json.loads(json.dumps(config_of(name).to_dict())), "out": ""}
        for name in RUNS
    ]
    for item in plan:
        item["out"] = str(tmp / "two" / item["name"])
    plan += [
        {"name": "stop", "config": hlop, "out": str(tmp / "two-two"), "stop_after": 1},
        {"name": "resume", "config": hlop, "out": str(tmp / "two-two"), "resume": True},
        {"name": "one-two", "config": hlop, "out": str(tmp / "one-two"), "resume": True},
        {"name": "two-one", "config": hlop, "out": str(tmp / "two-one"), "stop_after": 1},
        {"name": "refused", "config": hlop, "out": str(tmp / "refused"), "expect_error": True},
    ]
    cli_args = ["--method", "gpm", "--quick", "--n-tasks", "2", "--max-train", "97"]
    plan.append({"name": "cli", "cli": [*cli_args, "--epochs", "1", "--out", str(tmp / "cli")]})
    return plan


def _launch(tmp: Path) -> subprocess.CompletedProcess:
    plan_path = tmp / "plan.json"
    plan_path.write_text(json.dumps(_plan(tmp)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        str(WORKER), str(plan_path),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every two-rank run (one launch) and its one-process reference."""
    tmp = tmp_path_factory.mktemp("distributed")
    threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        hlop = config_of("hlop")
        run_continual(hlop, tmp / "one-two", progress=False, stop_after=1)
        (tmp / "refused").mkdir()
        write_json(tmp / "refused" / "config.json", {"job": "simulate", "seed": 0})
        launched = _launch(tmp)
        for name in RUNS:
            run_continual(config_of(name), tmp / "one" / name, progress=False)
        run_continual(hlop, tmp / "two-one", progress=False, resume=True)
    finally:
        torch.set_num_threads(threads[0])
        numba.set_num_threads(threads[1])
    return SimpleNamespace(tmp=tmp, stdout=launched.stdout)


def _rank_state(runs, name: str, rank: int) -> dict:
    return torch.load(runs.tmp / "ranks" / f"{name}-rank{rank}.pt", weights_only=True)


def _assert_weights_close(mine: dict, other: dict, atol: float = WEIGHT_ATOL) -> None:
    assert mine.keys() == other.keys()
    for key, value in mine.items():
        torch.testing.assert_close(value, other[key], atol=atol, rtol=0, msg=key)


def _assert_same_result(run_dir: Path, reference: Path) -> None:
    """Same accuracy matrix and, to rounding, the same weights as the reference run."""
    R = load_npz(run_dir / "accuracy.npz")["R"]
    np.testing.assert_array_equal(R, load_npz(reference / "accuracy.npz")["R"])
    _assert_weights_close(load_checkpoint(run_dir)["model"], load_checkpoint(reference)["model"])


# ---------------------------------------------------------------------------------------------
# two ranks against one process


@pytest.mark.parametrize("name", list(RUNS))
def test_two_ranks_end_where_one_process_ends(runs, name):
    _assert_same_result(runs.tmp / "two" / name, runs.tmp / "one" / name)


def test_strategy_statistics_match_one_process(runs):
    def strategy(folder: str, name: str) -> dict:
        return load_checkpoint(runs.tmp / folder / name)["strategy"]

    for name in ("hlop", "hlop-training", "hlop-online"):
        two, one = strategy("two", name), strategy("one", name)
        for mine, other in zip(two["subspaces"], one["subspaces"], strict=True):
            torch.testing.assert_close(mine["H_old"], other["H_old"], atol=1e-5, rtol=0)
    two, one = strategy("two", "gpm"), strategy("one", "gpm")
    for mine, other in zip(two["bases"], one["bases"], strict=True):
        assert mine.shape == other.shape
        torch.testing.assert_close(mine @ mine.T, other @ other.T, atol=1e-5, rtol=0)
    two, one = strategy("two", "ewc"), strategy("one", "ewc")
    for key, fisher in two["fisher"].items():
        torch.testing.assert_close(fisher, one["fisher"][key], atol=1e-9, rtol=1e-4)


@pytest.mark.parametrize("name", list(RUNS))
def test_every_rank_ends_with_the_same_network(runs, name):
    first, second = _rank_state(runs, name, 0), _rank_state(runs, name, 1)
    _assert_weights_close(first["model"], second["model"], atol=0.0)
    timing = ("end_task_seconds", "hebbian_seconds")

    def tensors(state, path=""):
        if isinstance(state, dict):
            for key, value in state.items():
                if key not in timing:
                    yield from tensors(value, f"{path}/{key}")
        elif isinstance(state, (list, tuple)):
            for i, value in enumerate(state):
                yield from tensors(value, f"{path}[{i}]")
        elif isinstance(state, torch.Tensor):
            yield path, state

    pairs = zip(tensors(first["strategy"]), tensors(second["strategy"]), strict=True)
    for (path, mine), (_, other) in pairs:
        assert torch.equal(mine, other), path


def test_the_run_folder_records_the_world_size_outside_the_fingerprint(runs):
    saved = read_json(runs.tmp / "two" / "hlop" / "config.json")
    assert saved["world_size"] == 2
    config = config_of("hlop")
    assert saved["fingerprint"] == config_fingerprint("continual", config.to_dict())
    assert read_json(runs.tmp / "one" / "hlop" / "config.json")["world_size"] == 1
    assert load_checkpoint(runs.tmp / "two" / "hlop")["fingerprint"] == saved["fingerprint"]


# ---------------------------------------------------------------------------------------------
# resume


def test_a_resumed_two_rank_run_repeats_the_uninterrupted_one(runs):
    resumed, whole = runs.tmp / "two-two", runs.tmp / "two" / "hlop"
    R = load_npz(resumed / "accuracy.npz")["R"]
    np.testing.assert_array_equal(R, load_npz(whole / "accuracy.npz")["R"])
    _assert_weights_close(load_checkpoint(resumed)["model"], load_checkpoint(whole)["model"], 0.0)
    assert read_json(resumed / "metrics.json")["finished"]


@pytest.mark.parametrize("folder", ["one-two", "two-one"])
def test_a_run_resumes_on_another_number_of_ranks(runs, folder):
    """Started in one process and finished on two ranks, and the other way round."""
    _assert_same_result(runs.tmp / folder, runs.tmp / "one" / "hlop")


def test_a_refused_folder_stops_every_rank(runs):
    for rank in (0, 1):
        report = json.loads((runs.tmp / "ranks" / f"refused-rank{rank}.json").read_text())
        assert report["type"] == "RunFolderError"
        assert "simulate run, not a continual run" in report["message"]


def test_the_command_prints_and_draws_on_rank_zero_only(runs):
    for rank in (0, 1):
        status = json.loads((runs.tmp / "ranks" / f"cli-rank{rank}.json").read_text())
        assert status == {"status": 0}
    assert runs.stdout.count("gpm on digits (2/2 tasks, bptt): ACC") == 1
    assert (runs.tmp / "cli" / "accuracy_matrix.png").is_file()
    assert read_json(runs.tmp / "cli" / "metrics.json")["finished"]


# ---------------------------------------------------------------------------------------------
# pieces, in one process


def test_even_shards_cover_the_batch_in_order():
    for total in (0, 1, 5, 32, 33):
        for world in (1, 2, 3):
            shards = [even_shard(total, rank, world) for rank in range(world)]
            assert shards[0].start == 0 and shards[-1].stop == total
            assert all(a.stop == b.start for a, b in zip(shards, shards[1:], strict=False))
            assert max(s.size for s in shards) - min(s.size for s in shards) <= 1
            if total:
                assert sum(s.share for s in shards) == pytest.approx(1.0)
    assert even_shard(1, 1, 2) == Shard(1, 1, 1) and even_shard(1, 1, 2).share == 0.0


def test_the_single_process_context_changes_nothing(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.from_environment("cpu") is SINGLE_PROCESS
    assert distributed.is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.from_environment("cpu") is SINGLE_PROCESS
    monkeypatch.setenv("RANK", "1")
    assert not distributed.is_main_process()
    context = SINGLE_PROCESS
    assert context.is_main and not context.is_distributed
    assert context.shard(7) == Shard(0, 7, 7)
    values = torch.tensor([1.0, 2.0])
    assert context.all_reduce_sum(values) is values and values.tolist() == [1.0, 2.0]
    assert context.all_reduce_mean(values).tolist() == [1.0, 2.0]
    assert context.main_only(lambda a: a + 1, 1) == 2
    assert context.broadcast_object("x") == "x"
    context.barrier()


def _sharded_rows(layer, make_tap, inputs: torch.Tensor, axis: int, world: int):
    """Each of ``world`` taps records its shard of ``inputs`` (batch axis ``axis``), as the
    ranks would; returns the sum of their kept rows and of their Gram matrices."""
    total = inputs.shape[axis]
    rows, grams = None, None
    for rank in range(world):
        tap = make_tap()
        tap.shard = shard = even_shard(total, rank, world)
        tap.gram = torch.zeros((tap.dim, tap.dim), dtype=torch.float64)
        part = inputs.narrow(axis, shard.start, shard.size)
        if shard.size == 0:
            part = inputs.narrow(axis, 0, 1)
        with tap:
            layer(part)
        kept = tap.pop()
        rows = kept if rows is None else rows + kept
        grams = tap.gram if grams is None else grams + tap.gram
    return rows, grams


@pytest.mark.parametrize(
    "layer, shape, axis, trace",
    [
        (torch.nn.Linear(6, 3), (5, 6), 0, None),
        (torch.nn.Linear(6, 3), (4, 5, 6), 1, None),
        (torch.nn.Linear(6, 3), (4, 5, 6), 1, 0.9),
        (torch.nn.Conv2d(2, 3, 3, padding=1), (5, 2, 4, 4), 0, None),
    ],
)
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("max_rows", [None, 7])
def test_taps_of_the_shards_keep_the_rows_one_tap_keeps(layer, shape, axis, trace, batch, max_rows):
    """The ranks' kept rows, summed, are the rows one tap keeps of the whole batch (in the
    same order, the same random sample); their Gram matrices sum to its Gram matrix (to the
    rounding of float32 products of traces)."""
    shape = list(shape)
    shape[axis] = batch
    inputs = (torch.rand(shape) < 0.3).float()

    def make_tap():
        return ActivityTap(layer, max_rows=max_rows, seed=3, trace_decay=trace)

    whole = make_tap()
    whole.gram = torch.zeros((whole.dim, whole.dim), dtype=torch.float64)
    with whole:
        layer(inputs)
    expected = whole.pop()
    for world in (2, 3):
        rows, gram = _sharded_rows(layer, make_tap, inputs, axis, world)
        torch.testing.assert_close(rows, expected, atol=0, rtol=0)
        torch.testing.assert_close(gram, whole.gram, atol=1e-12, rtol=1e-6)  # float32 products
