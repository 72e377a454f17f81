"""Continual learning on spiking conv nets: the networks, the strategies on conv layers
(projection of the reshaped conv weight gradients onto the complement of the unfolded
patches' subspace), the class-incremental scenario and the conv memory guard."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikesub.continual import cli
from spikesub.continual.config import ContinualConfig
from spikesub.continual.networks import conv_layer_count, spiking_convnet
from spikesub.continual.projection import grad_matrix
from spikesub.continual.strategies import make_strategy, protected_layers
from spikesub.continual.taps import (
    ActivityTap,
    activity_row_count,
    activity_rows,
    activity_rows_at,
)
from spikesub.continual.tasks import Task, class_incremental
from spikesub.models.memory import MemoryBudgetError

TINY = ["--benchmark", "splitdigits", "--architecture", "convnet", "--n-tasks", "2",
        "--max-train", "40", "--steps", "2", "--batch-size", "20", "--quiet",
        "--no-plots"]  # fmt: skip


@pytest.mark.parametrize(
    ("architecture", "shape"),
    [("convnet", (1, 28, 28)), ("cifar_cnn", (3, 32, 32)), ("resnet18", (3, 32, 32))],
)
def test_conv_nets_map_flat_images_to_logits(one_thread, architecture, shape):
    model = spiking_convnet(architecture, shape, 10, 2, seed=0)
    x = torch.rand(3, int(np.prod(shape)))
    out = model(x)
    assert out.shape == (3, 10)
    convs = [m for _, m in protected_layers(model) if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == conv_layer_count(architecture)
    assert all(m.bias is None for _, m in protected_layers(model))


def test_conv_net_refuses_a_wrong_input_shape():
    model = spiking_convnet("convnet", (1, 28, 28), 10, 2, seed=0)
    with pytest.raises(ValueError, match="784"):
        model(torch.rand(2, 100))


def test_frozen_batch_norm_stays_in_eval_mode_and_keeps_its_statistics(one_thread):
    model = spiking_convnet("convnet", (1, 8, 8), 10, 2, seed=0)
    model.freeze_norm()
    model.train()
    norm = model.features[0].norm
    before = norm.running_mean.clone()
    model(torch.rand(4, 64))
    assert not norm.training and not norm.weight.requires_grad
    assert torch.equal(before, norm.running_mean)


def test_averaged_batch_norm_statistics_are_the_mean_of_the_batches(one_thread):
    """After ``average_norm_statistics`` the running mean is the plain mean of the batches'
    means, nothing left of its initial zeros (the first task's last epoch)."""
    model = spiking_convnet("convnet", (1, 8, 8), 10, 2, seed=0)
    norm = model.features[0].norm
    model.train()
    model(torch.rand(4, 64))  # an exponential average before
    model.average_norm_statistics()
    means = []
    norm.register_forward_hook(lambda m, i, o: means.append(i[0].mean(dim=(0, 2, 3))))
    for scale in (1.0, 3.0):
        model(scale * torch.rand(4, 64))
    torch.testing.assert_close(norm.running_mean, (means[0] + means[1]) / 2)


def test_ewc_fisher_leaves_batch_norm_statistics_as_they_are(one_thread):
    model = spiking_convnet("convnet", (1, 8, 8), 10, 2, seed=0)
    model.train()
    strategy = make_strategy("ewc", model)
    batches = [(torch.rand(6, 64), torch.tensor([0, 1] * 3))]
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    strategy.begin_task(0)
    strategy.end_task(0, batches, model, F.cross_entropy)
    assert model.training
    for key, value in before.items():
        assert torch.equal(value, model.state_dict()[key]), key


@pytest.mark.parametrize(
    "conv",
    [
        dict(kernel_size=3, padding=1),
        dict(kernel_size=3, stride=2, padding=0),
        dict(kernel_size=(2, 3), dilation=(2, 1), padding="same"),
        dict(kernel_size=2, padding="same"),
    ],
)
def test_sampled_patches_are_the_unfolded_rows(conv):
    """A sample of a conv layer's patch rows gathered from its input is the same as those
    rows of the whole unfolding, for strides, dilations and 'same' padding of either
    parity."""
    layer = torch.nn.Conv2d(3, 4, bias=False, **conv)
    x = torch.rand(5, 3, 7, 6)
    rows = activity_rows(layer, x)
    assert activity_row_count(layer, x) == rows.shape[0]
    index = torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(0))[:40]
    assert torch.equal(activity_rows_at(layer, x, index), rows[index])


def test_a_tap_samples_conv_rows_as_the_whole_unfolding_would(one_thread):
    layer = torch.nn.Conv2d(2, 3, 3, padding=1, bias=False)
    x = torch.rand(4, 2, 6, 6)
    tap = ActivityTap(layer, max_rows=10, seed=3)
    with tap:
        layer(x)
    reference = ActivityTap(layer, max_rows=10, seed=3).subsample(activity_rows(layer, x))
    assert torch.equal(tap.pop(), reference)


def _patches(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    p = F.unfold(x, conv.kernel_size, padding=conv.padding, stride=conv.stride)
    return p.transpose(1, 2).reshape(-1, p.shape[1])


@pytest.mark.parametrize("method", ["gpm", "hlop"])
def test_conv_gradient_is_projected_off_the_old_patches(one_thread, method):
    """After a task, the first conv layer's weight gradient (out, C*k*k) is projected off
    the principal subspace of the old task's unfolded input patches: those patches' conv
    outputs change much less per unit of gradient than without the projection."""
    torch.manual_seed(0)
    model = spiking_convnet("convnet", (1, 8, 8), 10, 2, seed=0)
    opts = {"energy_threshold": 0.95} if method == "gpm" else {"k_per_task": 4}
    strategy = make_strategy(method, model, **opts)
    x_old = torch.rand(30, 64)
    batches = [
        (x_old[:15], torch.zeros(15, dtype=torch.long)),
        (x_old[15:], torch.ones(15, dtype=torch.long)),
    ]
    strategy.begin_task(0)
    strategy.end_task(0, batches, model, F.cross_entropy)
    strategy.begin_task(1)
    model.zero_grad()
    F.cross_entropy(model(torch.rand(8, 64)), torch.arange(8) % 10).backward()
    conv = model.features[0].conv
    rows = _patches(conv, x_old.view(30, 1, 8, 8))

    def change(g):  # the old patches' output change per unit of gradient
        return float((rows @ g.T).norm() / (rows.norm() * g.norm()))

    before = change(grad_matrix(conv).clone())
    strategy.before_step()
    g = grad_matrix(conv)
    assert float(g.norm()) > 0
    assert change(g) < 0.5 * before


@pytest.mark.parametrize("method", ["hlop", "gpm", "ewc", "finetune", "multitask"])
def test_every_method_runs_on_the_conv_net(one_thread, tmp_path, method):
    out = tmp_path / method
    assert cli.main(["--method", method, "--out", str(out), *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["ACC"])
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == "convnet"


def test_class_incremental_tasks_share_one_head():
    x = np.zeros((2, 4), dtype=np.float32)
    tasks = [
        Task("a", x, np.array([0, 1]), x, np.array([0, 1]), (0, 1)),
        Task("b", x, np.array([2, 3]), x, np.array([3, 2]), (2, 3)),
    ]
    assert [t.classes for t in class_incremental(tasks)] == [(0, 1, 2, 3)] * 2


def test_class_scenario_runs(one_thread, tmp_path):
    out = tmp_path / "class"
    args = ["--method", "finetune", "--scenario", "class", "--out", str(out), *TINY]
    assert cli.main(args) == 0


def test_conv_layer_over_the_memory_budget_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPIKESUB_MEMORY_BUDGET", "200KB")
    out = tmp_path / "big"
    assert cli.main(["--method", "gpm", "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "unfolded input patches of conv layer 'features." in err
    assert "budget" in err
    assert not out.exists()


def test_conv_architecture_needs_spikesub_layers_and_bptt():
    with pytest.raises(ValueError, match="architecture"):
        ContinualConfig(architecture="convnet", training="online")


def test_conv_memory_guard_raises_before_allocating(monkeypatch):
    from spikesub.continual.sizes import check_conv_memory

    model = spiking_convnet("convnet", (1, 28, 28), 10, 4, seed=0)
    monkeypatch.setenv("SPIKESUB_MEMORY_BUDGET", "1KB")
    config = ContinualConfig(architecture="convnet", method="hlop", benchmark="splitmnist")
    with pytest.raises(MemoryBudgetError, match="features.0"):
        check_conv_memory(model, config)
