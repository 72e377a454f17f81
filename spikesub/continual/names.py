"""Names the continual-learning runner and its command line accept (no torch import here, so
``spikesub --help`` stays fast)."""

from __future__ import annotations

#: Continual-learning methods the runner knows.
METHODS: tuple[str, ...] = ("hlop", "gpm", "ewc", "finetune", "multitask")

#: Network implementations.
NETWORKS: tuple[str, ...] = ("spikesub", "snntorch")

#: How the network is trained.
TRAINING_METHODS: tuple[str, ...] = ("bptt", "online")

#: Learning-rate schedules within a task.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
