"""The configuration of ``spikesub continual``: one method on one benchmark.

Each setting is declared once here, with its default, its range and its help text; the
command line, ``config.json``, sweeps and searches all read it. Settings left unset take
their value when the configuration is made, so a saved configuration lists the values used:

* the network and training settings from the benchmark family's defaults
  (:data:`FAMILY_DEFAULTS`) or, with ``quick``, from :data:`QUICK` (a tiny run);
* a method's options (``hlop_*``, ``gpm_*``, ``ewc_lambda``) from the strategy's own
  defaults (``option_defaults`` of :mod:`spikesub.continual.strategies`: the one place they
  live), or, with ``quick``, from :data:`QUICK_METHOD_OPTIONS`.

Nothing here imports torch, so ``spikesub --help`` stays fast.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, ClassVar

from spikesub.config import JobConfig, setting
from spikesub.continual.names import (
    ACTIVITIES,
    ARCHITECTURES,
    LR_SCHEDULES,
    METHODS,
    NETWORKS,
    SCENARIOS,
    TRAINING_METHODS,
)
from spikesub.continual.tasks import BENCHMARKS

__all__ = [
    "FAMILY_DEFAULTS",
    "METHOD_OPTIONS",
    "QUICK",
    "QUICK_METHOD_OPTIONS",
    "ContinualConfig",
    "parse_energy_thresholds",
]

# MNIST: lr 0.02 was chosen on a validation split of permuted MNIST (10 % of each task's
# training set held out, seeds 0 and 1): at lr 0.05 every method forgot more and multitask
# training reached less.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": dict(
        hidden=(800, 800), steps=20, epochs=2, batch_size=64, lr=0.02, momentum=0.9,
        lr_schedule="constant",
    ),
    "digits": dict(
        hidden=(256, 256), steps=10, epochs=5, batch_size=32, lr=0.05, momentum=0.9,
        lr_schedule="constant",
    ),
}  # fmt: skip
"""Network and training defaults of each benchmark family (MNIST and the 8x8 digits)."""

VISION_DEFAULTS: dict[str, dict[str, Any]] = {
    "splitcifar100": dict(
        architecture="cifar_cnn", steps=20, epochs=200, batch_size=64, lr=0.01, momentum=0.9,
        lr_schedule="cosine", warmup_epochs=5,
    ),
    "fivedatasets": dict(
        architecture="resnet18", steps=20, epochs=100, batch_size=64, lr=0.1, lr_continual=0.01,
        momentum=0.9, lr_schedule="cosine",
    ),
    "miniimagenet": dict(
        architecture="resnet18", steps=20, epochs=100, batch_size=64, lr=0.1, lr_continual=0.01,
        momentum=0.9, lr_schedule="cosine",
    ),
}  # fmt: skip
"""The HLOP paper's schedule on its image benchmarks (its scripts ``spiking_train_cifar.py``,
``spiking_train_fivedataset.py`` and ``spiking_train_miniimagenet.py``): network, time steps,
epochs per task, batch, SGD rate (of the first task, and ``lr_continual`` of the later ones),
momentum, cosine decay within each task after ``warmup_epochs`` of linear warm-up. The paper
trains by DSR; spikesub by BPTT over the same time steps."""

CONV_DEFAULTS: dict[str, Any] = dict(steps=4, epochs=1, batch_size=32, lr=0.05)
"""Defaults of the conv architectures over the family's (``hidden`` stays unset: no fully
connected layer after the conv stages unless asked for): few time steps and one epoch, so
that a conv run on MNIST takes minutes on a CPU."""

QUICK: dict[str, Any] = dict(
    hidden=(64,),
    steps=4,
    epochs=3,
    batch_size=32,
    lr=0.1,
    momentum=0.9,
    max_train=600,
    warmup_epochs=0,
)
"""A tiny run for tests and smoke checks: it overrides the family defaults."""

METHOD_OPTIONS: dict[str, dict[str, str]] = {
    "ewc": {"ewc_lambda": "lam"},
    "gpm": {"gpm_threshold": "energy_threshold", "gpm_activity": "activity"},
    "hlop": {
        "hlop_k": "k_per_task",
        "hlop_threshold": "energy_threshold",
        "hlop_activity": "activity",
        "hlop_epochs": "hebbian_epochs",
        "hlop_record": "record_examples",
        "hlop_lr": "lr",
        "hlop_rule": "rule",
        "hlop_mode": "mode",
        "hlop_compare_gpm": "compare_with_gpm",
        "hlop_counts": None,
    },
}
"""Each method's settings and the strategy option each one sets (``activity`` is the job's
own: ``"trace"`` gives the strategy ``trace_decay = beta``; ``hlop_counts`` sets
``k_per_task`` to a schedule, see :meth:`ContinualConfig.strategy_kwargs`)."""

ACTIVITY_DEFAULTS = {"gpm_activity": "spikes", "hlop_activity": "trace"}
"""GPM keeps the spikes of Saha et al.'s representation matrix; HLOP protects a hidden
layer's presynaptic traces, whose subspace keeps old inputs' membranes unchanged."""

CONV_METHOD_OPTIONS: dict[str, Any] = {"hlop_epochs": 1}
"""HLOP on the conv nets: one Hebbian pass, over the activity recorded while the task's last
epoch trains (strategy option ``record="training"``, as the paper's code updates its
lateral neurons during training) instead of a separate recording pass, whose forward passes
through the conv stages would cost about half of an epoch."""

QUICK_METHOD_OPTIONS: dict[str, Any] = {"hlop_threshold": 0.97, "hlop_epochs": 1}
"""Method options of a quick run (one threshold for every layer, one Hebbian pass)."""


def family(benchmark: str) -> str:
    """``"mnist"`` for the MNIST benchmarks, ``"vision"`` for the HLOP paper's image
    benchmarks, else ``"digits"``."""
    if benchmark in VISION_DEFAULTS:
        return "vision"
    return "mnist" if benchmark in ("pmnist", "splitmnist") else "digits"


HLOP_PAPER_COUNTS: dict[tuple[str, str], tuple[tuple[int, ...], ...]] = {
    # 784-800-800-10 MLP: 80, 200, 100 first, then 70 per layer, 20 fewer from every third task
    ("pmnist", "mlp"): (
        (80, 200, 100), (70,) * 3, (70,) * 3, (50,) * 3, (50,) * 3, (50,) * 3,
        (30,) * 3, (30,) * 3, (30,) * 3, (10,) * 3,
    ),
    # the three conv stages; the readout (a head per task) needs none
    ("splitcifar100", "cifar_cnn"): ((6, 100, 200, 0), (2, 20, 40, 0)),
    # stem, then per block its two convs and (blocks 3, 5, 7) the 1x1 shortcut; readout 0
    ("fivedatasets", "resnet18"): (
        (6, 40, 40, 40, 40, 40, 100, 6, 100, 100, 100, 200, 8, 200, 200, 200, 200, 16, 200,
         200, 0),
    ),
    ("miniimagenet", "resnet18"): (
        (24, 90, 90, 90, 90, 90, 180, 10, 180, 180, 180, 360, 20, 360, 360, 360, 720, 40,
         720, 720, 0),
        *((2, 6, 6, 6, 6, 6, 12, 1, 12, 12, 12, 24, 2, 24, 24, 24, 48, 4, 48, 48, 0),) * 5,
        (0, 2, 2, 2, 2, 2, 4, 0, 4, 4, 4, 8, 0, 8, 8, 8, 16, 0, 16, 16, 0),
    ),
}  # fmt: skip
"""The HLOP paper's lateral-neuron counts (its scripts' ``hlop_out_num`` and increments):
for each task, the new lateral neurons of each protected layer in module order (a task
beyond the list takes the last entry). ``--hlop-counts paper`` uses them."""


@dataclass(frozen=True)
class ContinualConfig(JobConfig):
    """Everything that determines a continual-learning run (the run folder's config.json)."""

    job: ClassVar[str] = "continual"

    method: str = setting("hlop", choices=METHODS, help="the continual-learning method")
    benchmark: str = setting("digits", choices=tuple(BENCHMARKS), help="the task sequence")
    data_dir: str | None = setting(
        None, help="folder with the four MNIST IDX files (pmnist and splitmnist)"
    )
    seed: int = setting(
        0, low=0, high=2**64 - 1, help="seeds permutations, data split, weights and shuffles"
    )
    n_tasks: int | None = setting(None, low=1, help="train on the first N tasks (default all)")
    quick: bool = setting(
        False,
        help="tiny network, few steps, at most 600 samples per task: a smoke test in seconds",
    )
    validation: float = setting(
        0.0,
        low=0.0,
        high=1.0,
        high_open=True,
        help="hold out this fraction of each task's training set and score on it, not on the "
        "test set (for tuning)",
    )
    training: str = setting(
        "bptt", choices=TRAINING_METHODS, help="BPTT, or online from presynaptic traces"
    )
    epochs: int | None = setting(None, low=1, help="passes over each task's training set")
    batch_size: int | None = setting(None, low=1, help="samples per SGD step")
    lr: float | None = setting(None, low=0.0, low_open=True, help="SGD learning rate")
    momentum: float | None = setting(None, low=0.0, high=1.0, high_open=True, help="SGD momentum")
    lr_schedule: str | None = setting(
        None, choices=LR_SCHEDULES, help="within each task: constant, or cosine decay to 0"
    )
    lr_continual: float | None = setting(
        None,
        low=0.0,
        low_open=True,
        help="SGD learning rate of the tasks after the first (default: lr; the HLOP paper's "
        "5-Datasets and miniImageNet runs use 0.01 after 0.1)",
    )
    warmup_epochs: int | None = setting(
        None,
        low=0,
        help="within each task, the first N epochs ramp the rate up linearly (default 0; the "
        "HLOP paper's CIFAR-100 runs use 5)",
    )
    input_lr_scale: float = setting(
        1.0, low=0.0, help="from the second task on, the input layer learns at lr times this"
    )
    steps: int | None = setting(None, low=1, help="time steps per sample")
    hidden: tuple[int, ...] | None = setting(
        None,
        low=1,
        help="hidden layer sizes, e.g. 800,800 (conv nets: fully connected layers after the "
        "conv stages, default none)",
    )
    beta: float = setting(
        0.9, low=0.0, high=1.0, low_open=True, help="membrane decay per step of the LIF neurons"
    )
    architecture: str | None = setting(
        None,
        choices=ARCHITECTURES,
        help="spiking MLP, small spiking conv net, the HLOP paper's CIFAR conv net or its "
        "reduced ResNet-18 (default: the MLP on MNIST and the digits, the paper's net on its "
        "image benchmarks)",
    )
    scenario: str = setting(
        "task",
        choices=SCENARIOS,
        help="task-incremental (logits restricted to the task's classes) or class-incremental "
        "(one shared head over every class)",
    )
    network: str = setting(
        "spikesub",
        choices=NETWORKS,
        help="spikesub layers (fused kernels) or snntorch.Leaky in a loop over time",
    )
    max_train: int | None = setting(None, low=1, help="at most N training samples per task")
    device: str = setting("cpu", choices=("cpu", "cuda", "auto"), help="torch device")
    ewc_lambda: float | None = setting(None, low=0.0, help="EWC penalty strength")
    gpm_threshold: float | list[float] | None = setting(
        None,
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        help="GPM energy threshold, or one per protected layer, e.g. 0.97,0.99,0.99",
    )
    gpm_activity: str | None = setting(
        None, choices=ACTIVITIES, help="what GPM records of a hidden layer's input spikes"
    )
    hlop_k: int | None = setting(
        None, low=1, help="HLOP lateral neurons added per layer and task (unset: by energy)"
    )
    hlop_threshold: float | list[float] | None = setting(
        None,
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        help="HLOP energy threshold, or one per protected layer (default: the strategy's, "
        "0.98 for the input layer, 0.99 deeper, 0.9 for the readout)",
    )
    hlop_activity: str | None = setting(
        None,
        choices=ACTIVITIES,
        help="what HLOP records of a hidden layer's input spikes: presynaptic traces with the "
        "LIF decay, or single steps' spikes",
    )
    hlop_epochs: int | None = setting(
        None, low=1, help="Hebbian passes per task over its recorded activity"
    )
    hlop_record: int | None = setting(
        None, low=1, help="examples per task whose activity the Hebbian learning replays"
    )
    hlop_lr: float | None = setting(None, low=0.0, low_open=True, help="Hebbian learning rate")
    hlop_rule: str | None = setting(None, choices=("oja", "gha"), help="the Hebbian rule")
    hlop_mode: str | None = setting(
        None, choices=("rate", "spiking"), help="rate or spiking lateral neurons"
    )
    hlop_counts: str | None = setting(
        None,
        choices=("paper",),
        help="lateral neurons per layer and task as the HLOP paper's scripts set them for "
        "this benchmark and network, instead of energy thresholds",
    )
    hlop_compare_gpm: bool | None = setting(
        None, help="also compute GPM bases and save the principal angles to HLOP's subspaces"
    )
    strategy_options: dict = setting(
        default_factory=dict, help="any other strategy option", metavar="NAME=VALUE"
    )

    # -- defaults that depend on other settings ------------------------------------------------

    def resolve(self) -> dict[str, Any]:
        vision = VISION_DEFAULTS.get(self.benchmark, {})
        architecture = self.architecture or vision.get("architecture", "mlp")
        if vision:
            defaults = dict(vision)
        else:
            defaults = dict(FAMILY_DEFAULTS[family(self.benchmark)], architecture=architecture)
            if architecture != "mlp":
                defaults.update(CONV_DEFAULTS)
        if self.quick:
            defaults.update(QUICK)
        if architecture != "mlp":
            defaults.pop("hidden", None)  # unset: no fully connected layer after the convs
        defaults.setdefault("warmup_epochs", 0)
        values = {name: v for name, v in defaults.items() if getattr(self, name) is None}
        hidden = values.get("hidden", self.hidden) or ()
        values.update(self._method_defaults(architecture, self._n_protected(architecture, hidden)))
        return values

    @staticmethod
    def _n_protected(architecture: str, hidden: tuple[int, ...]) -> int:
        """Protected layers of the network less one: the hidden fully connected layers, plus
        the conv layers of a conv architecture (the readout is the one more)."""
        if architecture == "mlp":
            return len(hidden)
        from spikesub.continual.networks import conv_layer_count

        return len(hidden) + conv_layer_count(architecture)

    def _method_defaults(self, architecture: str, n_hidden: int) -> dict[str, Any]:
        """The chosen method's unset options: the quick preset's, else the strategy's."""
        options = METHOD_OPTIONS.get(self.method, {})
        if not options:
            return {}
        from spikesub.continual.strategy_defaults import option_default

        values = {}
        for name, option in options.items():
            if getattr(self, name) is not None or option is None:
                continue
            if self.quick and name in QUICK_METHOD_OPTIONS:
                values[name] = QUICK_METHOD_OPTIONS[name]
            elif architecture != "mlp" and name in CONV_METHOD_OPTIONS:
                values[name] = CONV_METHOD_OPTIONS[name]
            elif name in ACTIVITY_DEFAULTS:
                values[name] = ACTIVITY_DEFAULTS[name]
            else:
                values[name] = option_default(self.method, option, n_layers=n_hidden + 1)
        return values

    def check(self) -> None:
        if self.hlop_counts == "paper":
            if self.hlop_k is not None:
                raise ValueError("give hlop_k or hlop_counts, not both (each sets the counts)")
            self.paper_counts()  # refuses a benchmark and network the paper has no counts for
        if self.architecture != "mlp" and (self.network != "spikesub" or self.training != "bptt"):
            raise ValueError(
                f"architecture={self.architecture!r} needs network='spikesub' and "
                "training='bptt' (the conv nets are built from spikesub layers, trained by BPTT)"
            )
        if self.training == "online" and self.network != "spikesub":
            raise ValueError("training='online' needs network='spikesub' (SpikingLinear layers)")
        if self.n_tasks is not None and self.n_tasks > BENCHMARKS[self.benchmark]:
            raise ValueError(
                f"n_tasks must be in 1..{BENCHMARKS[self.benchmark]} for {self.benchmark}; "
                f"got {self.n_tasks}"
            )
        for method, options in METHOD_OPTIONS.items():
            if method == self.method:
                continue
            for name in options:
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} is an option of method {method}, not of {self.method}"
                    )
        self._check_strategy_options()

    def _check_strategy_options(self) -> None:
        """The strategy's options (``--option`` included) checked against its declared ones,
        so that a bad one is refused before any data is read."""
        from spikesub.continual.strategy_defaults import check_strategy_options

        check_strategy_options(self.method, self.strategy_kwargs())

    # -- what the run reads ---------------------------------------------------------------------

    @property
    def n_tasks_total(self) -> int:
        """Number of tasks the run trains on."""
        return self.n_tasks if self.n_tasks is not None else BENCHMARKS[self.benchmark]

    def strategy_kwargs(self) -> dict[str, Any]:
        """Keyword options for :func:`~spikesub.continual.strategies.make_strategy`."""
        opts: dict[str, Any] = {}
        for name, option in METHOD_OPTIONS.get(self.method, {}).items():
            value = getattr(self, name)
            if option == "activity":
                opts["trace_decay"] = self.beta if value == "trace" else None
            elif option is not None and value is not None:
                opts[option] = value
        if self.method in ("gpm", "hlop"):
            opts["seed"] = self.seed
        if self.method == "hlop" and self.architecture != "mlp":
            opts["record"] = "training"  # see CONV_METHOD_OPTIONS
        if self.hlop_counts == "paper":
            opts["k_per_task"] = [list(counts) for counts in self.paper_counts()]
        opts.update(self.strategy_options)
        return opts

    def paper_counts(self) -> tuple[tuple[int, ...], ...]:
        """The HLOP paper's lateral-neuron counts for this benchmark and network
        (:data:`HLOP_PAPER_COUNTS`)."""
        key = (self.benchmark, self.architecture)
        hidden_ok = self.hidden == (800, 800) if self.architecture == "mlp" else not self.hidden
        if key not in HLOP_PAPER_COUNTS or not hidden_ok:
            known = ", ".join(
                f"{b} with {a}" + (" 800,800" if a == "mlp" else "") for b, a in HLOP_PAPER_COUNTS
            )
            raise ValueError(
                f"hlop_counts='paper' is defined for the paper's networks only ({known}); got "
                f"{self.benchmark} with {self.architecture} and hidden={self.hidden}"
            )
        return HLOP_PAPER_COUNTS[key]


def parse_energy_thresholds(text: str) -> float | list[float]:
    """An energy-threshold option as a script's command line gives it: ``"0.97"`` -> 0.97;
    ``"0.97,0.99,0.99"`` -> one threshold per protected layer, each in (0, 1).

    Raises:
        argparse.ArgumentTypeError: not numbers, or outside (0, 1) (argparse prints the
            message as it is).
    """
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"an energy threshold is a number in (0, 1), or comma-separated numbers; got {text!r}"
        ) from None
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"energy thresholds must lie in (0, 1); got {text!r}")
    return values[0] if len(values) == 1 else values
