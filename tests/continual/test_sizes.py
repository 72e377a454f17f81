"""Memory estimates of continual-learning networks and runs: refusals before anything is built,
and the estimates held to what the code really allocates at small sizes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikesub.continual.networks import snntorch_mlp, spiking_mlp
from spikesub.continual.run import ContinualConfig, build_model
from spikesub.continual.run import run as run_continual
from spikesub.continual.sizes import (
    _hlop_rows,
    activity_rows_per_example,
    check_continual_memory,
    weight_bytes,
)
from spikesub.continual.strategies import make_strategy
from spikesub.continual.taps import activity_rows
from spikesub.models.errors import MemoryBudgetError
from spikesub.models.memory import memory_budget


@pytest.fixture
def small_budget():
    """A 256 MiB budget for the test; the previous setting comes back afterwards."""
    with memory_budget("256M"):
        yield 256 << 20


def quick(**kwargs):
    return ContinualConfig(method="hlop", benchmark="digits", quick=True, n_tasks=2, **kwargs)


# ---------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        (dict(steps=1_000_000_000), "steps=1000000000"),
        (dict(hidden=(10_000_000,)), "hidden=[10000000]"),
        (dict(batch_size=10_000_000, steps=100), "batch_size=10000000"),
    ],
)
def test_run_continual_refuses_before_making_the_run_folder(tmp_path, small_budget, kwargs, named):
    config = quick(**kwargs)
    with pytest.raises(MemoryBudgetError) as info:
        run_continual(config, tmp_path / "run", progress=False)
    message = str(info.value)
    assert named in message
    assert "weights with gradients and momentum" in message
    assert not (tmp_path / "run").exists()


def test_the_part_over_the_budget_is_named(small_budget):
    with pytest.raises(MemoryBudgetError, match=r"one batch through time 3[0-9.]* GiB"):
        check_continual_memory(quick(steps=1000, batch_size=2000, hidden=(100,)), 64, 600)


def test_hlop_recording_is_part_of_the_estimate(small_budget):
    every_row = quick(strategy_options={"max_rows": None, "record_examples": None})
    with pytest.raises(MemoryBudgetError, match="recorded activity"):
        check_continual_memory(every_row, 64, 10**9)
    few_examples = quick(hlop_record=1000, strategy_options={"max_rows": None})
    # the recording stops after 1000 examples
    assert check_continual_memory(few_examples, 64, 10**9) < small_budget


@pytest.mark.parametrize("make", [spiking_mlp, snntorch_mlp])
def test_networks_refuse_weights_over_the_budget(small_budget, make):
    with pytest.raises(MemoryBudgetError, match=r"weights of the .*\(784, 10000000, 10\)"):
        make((784, 10_000_000, 10), steps=20)


def test_a_default_size_run_fits_a_modest_budget():
    config = ContinualConfig(method="hlop", benchmark="pmnist")  # 784-800-800-10, T = 20
    with memory_budget("4G"):
        total = check_continual_memory(config, 784, 8000)
    assert 3 * weight_bytes((784, 800, 800, 10)) < total < 4 << 30


# ---------------------------------------------------------------------------------------------
# estimates against the code


@pytest.mark.parametrize("network", ["spikesub", "snntorch"])
def test_weight_bytes_are_the_linear_weights(network):
    config = quick(hidden=(24, 16), network=network)
    model = build_model(config, 30)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    actual = sum(m.weight.numel() * m.weight.element_size() for m in linears)
    assert weight_bytes((30, 24, 16, 10)) == actual


@pytest.mark.parametrize("network", ["spikesub", "snntorch"])
def test_hlop_recorded_rows_match_the_estimate(network, one_thread):
    config = quick(
        hidden=(16, 12), steps=3, batch_size=8, network=network, strategy_options={"max_rows": 5}
    )
    model = build_model(config, 10)
    strategy = make_strategy("hlop", model, **config.strategy_kwargs())
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.rand(8, 10, generator=generator), torch.zeros(8)) for _ in range(5)]
    _, recorded = strategy._record(batches, model, 300, keep_rows=True)
    actual = sum(rows.numel() * rows.element_size() for call in recorded for rows in call)
    options = config.strategy_kwargs()
    assert _hlop_rows(config, (10, 16, 12, 10), 40, options) == actual


CONVOLUTIONS = [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=5, stride=2),
    dict(kernel_size=3, dilation=2, padding="same"),
    dict(kernel_size=4, padding="same"),
    dict(kernel_size=3, padding="valid"),
    dict(kernel_size=(3, 5), stride=(2, 1), padding=(0, 2)),
]


@pytest.mark.parametrize("options", CONVOLUTIONS)
@pytest.mark.parametrize("steps", [1, 3])
def test_conv_patches_per_example_match_the_unfolded_rows(options, steps):
    conv = nn.Conv2d(2, 4, **options)
    x = torch.rand(steps, 2, 11, 9)  # one example's images at `steps` time steps
    rows = activity_rows(conv, x)
    assert activity_rows_per_example(conv, (2, 11, 9), steps) == rows.shape[0]
    assert rows.shape[1] == 2 * math.prod(conv.kernel_size)


def test_linear_rows_per_example_are_its_steps():
    assert activity_rows_per_example(nn.Linear(5, 3), (5,), 7) == 7
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        activity_rows_per_example(nn.ReLU(), (5,), 1)


def test_unfolding_a_conv_input_over_the_budget_is_refused():
    conv = nn.Conv2d(64, 8, kernel_size=5, padding=2)
    x = torch.zeros(8, 64, 32, 32)  # 8 x 1600 x 1024 patch values: 50 MiB, twice
    with memory_budget("64M"):
        with pytest.raises(MemoryBudgetError, match=r"unfolded input patches of a Conv2d\(64, 8"):
            activity_rows(conv, x)
    with memory_budget("1G"):
        assert activity_rows(conv, x).shape == (8 * 32 * 32, 64 * 25)
