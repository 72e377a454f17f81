"""spikesub.continual.config: the energy-threshold option scripts parse, and the defaults
that depend on the benchmark."""

from __future__ import annotations

import argparse

import pytest

from spikesub.continual.config import ContinualConfig, parse_energy_thresholds


def test_energy_thresholds_parse_one_or_one_per_layer():
    assert parse_energy_thresholds("0.97") == 0.97
    assert parse_energy_thresholds("0.97,0.99, 0.9") == [0.97, 0.99, 0.9]
    for bad in ("1.5", "abc", "", "0.9,0"):
        with pytest.raises(argparse.ArgumentTypeError, match="energy threshold"):
            parse_energy_thresholds(bad)


def test_image_benchmarks_default_to_the_papers_network_and_schedule():
    cifar = ContinualConfig(benchmark="splitcifar100")
    assert (cifar.architecture, cifar.steps, cifar.epochs, cifar.batch_size) == (
        "cifar_cnn",
        20,
        200,
        64,
    )
    assert (cifar.lr, cifar.lr_continual, cifar.lr_schedule, cifar.warmup_epochs) == (
        0.01,
        None,
        "cosine",
        5,
    )
    five = ContinualConfig(benchmark="fivedatasets")
    assert (five.architecture, five.lr, five.lr_continual, five.warmup_epochs) == (
        "resnet18",
        0.1,
        0.01,
        0,
    )
    quick = ContinualConfig(benchmark="miniimagenet", quick=True)
    assert quick.architecture == "resnet18" and quick.epochs == 3 and quick.warmup_epochs == 0
    assert ContinualConfig(benchmark="pmnist").architecture == "mlp"
    assert ContinualConfig(benchmark="splitmnist", architecture="convnet").epochs == 1


def test_paper_counts_become_a_per_task_schedule():
    cifar = ContinualConfig(benchmark="splitcifar100", method="hlop", hlop_counts="paper")
    assert cifar.strategy_kwargs()["k_per_task"] == [[6, 100, 200, 0], [2, 20, 40, 0]]
    mini = ContinualConfig(benchmark="miniimagenet", method="hlop", hlop_counts="paper")
    schedule = mini.strategy_kwargs()["k_per_task"]
    assert (
        len(schedule) == 7 and len(schedule[0]) == 21
    )  # stem, 16 block convs, 3 shortcuts, readout
    assert schedule[0][:3] == [24, 90, 90] and schedule[1][:3] == [2, 6, 6] and schedule[6][0] == 0
    pmnist = ContinualConfig(benchmark="pmnist", method="hlop", hlop_counts="paper")
    assert [k[0] for k in pmnist.strategy_kwargs()["k_per_task"]] == [
        80,
        70,
        70,
        50,
        50,
        50,
        30,
        30,
        30,
        10,
    ]


def test_paper_counts_follow_the_resnets_layer_order():
    """The paper lists the stem, then per block its two convs and (where the shape changes)
    the 1x1 shortcut; spikesub protects the layers in module order, which is the same."""
    from spikesub.continual.config import HLOP_PAPER_COUNTS
    from spikesub.continual.networks import spiking_convnet
    from spikesub.continual.strategies import protected_layers

    net = spiking_convnet("resnet18", (3, 84, 84), 100, 1)
    names = [name for name, _ in protected_layers(net)]
    counts = HLOP_PAPER_COUNTS["miniimagenet", "resnet18"][0]
    assert len(names) == len(counts)
    by_name = dict(zip(names, counts, strict=True))
    assert by_name["stem.conv"] == 24 and by_name["readout"] == 0
    assert [by_name[f"blocks.2.{part}.conv"] for part in ("first", "second", "shortcut")] == [
        90,
        180,
        10,
    ]
    assert by_name["blocks.7.second.conv"] == 720
