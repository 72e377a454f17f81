"""Names the continual-learning runner and its command line accept (no torch import here, so
``spikesub --help`` stays fast)."""

from __future__ import annotations

#: Continual-learning methods the runner knows.
METHODS: tuple[str, ...] = ("hlop", "gpm", "ewc", "finetune", "multitask")

#: Network implementations.
NETWORKS: tuple[str, ...] = ("spikesub", "snntorch")

#: How the network is trained.
TRAINING_METHODS: tuple[str, ...] = ("bptt", "online")

#: What GPM and HLOP record of a hidden layer's input spike trains: presynaptic traces with
#: the LIF's decay (the membrane is the weights times the trace, so their subspace is the one
#: whose protection keeps membranes unchanged) or the spikes of single steps.
ACTIVITIES: tuple[str, ...] = ("trace", "spikes")

#: Learning-rate schedules within a task.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")

#: Network architectures: the spiking MLP, a small spiking conv net (MNIST-sized images), the
#: HLOP paper's CIFAR-100 conv net and its reduced ResNet-18 (5-Datasets, miniImageNet).
ARCHITECTURES: tuple[str, ...] = ("mlp", "convnet", "cifar_cnn", "resnet18")

#: Task-incremental (each task's logits restricted to its classes: one head per task, as in
#: the HLOP paper) or class-incremental (one shared head over every class of the benchmark).
SCENARIOS: tuple[str, ...] = ("task", "class")
