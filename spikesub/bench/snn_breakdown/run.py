"""Running the kernel breakdown: where the time of spikesub's MLP training step goes.

The MLP of ``experiments/bench_snn.py`` (784-800-800-10 spiking layers, T = 20 steps of a
static input, batch 64, SGD, cross-entropy on the time-averaged output membrane) is trained
for ``train_steps`` steps on MNIST (or ``synthetic`` images), so that its spike densities
are those of training, not of the initial weights. Then every kernel of one training step is
called on its own, with the shapes and spikes of that step, ``repeats`` times:

* forward: the first Linear (once, on the static images), the LIF kernels of the three
  layers, the compaction of the hidden spikes into rows of nonzeros, and the event-driven
  products of layers 2 and 3;
* backward: the LIF kernels in reverse, the dense input gradients of layers 3 and 2, the
  event-driven weight gradients of layers 3 and 2 and the dense one of layer 1;
* the SGD update.

Each kernel's median wall time and median CPU time of the calling thread are reported,
beside the median of whole training steps timed in the training loop; the difference is the
rest (autograd, allocation, input checks, loss, small products). Called on their own, the
kernels find their data in the caches; a second table (one thread) times the same kernels
inside training steps, where their arrays are new each step (:func:`in_training`). With one
thread (the default) the CPU times are what the kernels cost, whatever else runs on the
machine; with ``threads=2`` the wall times show how the kernels scale (the CPU times then
count the calling thread only).

The run folder gets ``config.json``, ``metrics.json`` and ``breakdown.md`` (the table).

A timing benchmark: never run two of its trials at once (a sweep over it takes
``--max-parallel 1``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.bench.common import DEFAULT_MNIST_DIR, command_of, platform_info
from spikesub.bench.snn_breakdown.config import BenchSnnBreakdownConfig
from spikesub.runs import atomic_write_bytes, prepare_run_dir, run_config_document, write_json

__all__ = ["JOB", "KERNEL_GROUPS", "TABLE_NAME", "breakdown", "render", "run"]

JOB = BenchSnnBreakdownConfig.job
TABLE_NAME = "breakdown.md"
PROG = "python experiments/bench_snn_breakdown.py"

SIZES = (784, 800, 800, 10)
BETA = 0.9
THRESHOLD = 1.0
SLOPE = 2.0
ATAN = 1  # surrogate id of the LIF kernels


def _images(config: BenchSnnBreakdownConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training images ``(n, 784)`` float32 in [0, 1] and labels ``(n,)`` int64."""
    if config.synthetic:
        rng = np.random.default_rng(config.seed)
        labels = rng.integers(0, 10, size=2048)
        images = rng.integers(0, 64, size=(2048, 28, 28)).astype(np.uint8)
        for k in range(10):
            images[labels == k, 2 + 2 * k : 4 + 2 * k, :] = 255
    else:
        from spikesub.datasets import load_mnist

        mnist = load_mnist(data_dir_of(config))
        images, labels = mnist.x_train, mnist.y_train
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


def _model(seed: int):
    """spikesub's MLP: three SpikingLinear layers, membrane output of the last."""
    import torch
    from torch import nn

    from spikesub.models.snn import SpikingLinear

    torch.manual_seed(seed)
    layers = [
        SpikingLinear(
            a, b, beta=BETA, threshold=THRESHOLD, surrogate="atan", slope=SLOPE,
            output="membrane" if i == len(SIZES) - 2 else "spikes",
        )
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True))
    ]  # fmt: skip
    return nn.ModuleList(layers)


def _forward(layers, x, n_steps: int):
    """Logits ``(B, 10)`` and the hidden spikes ``[(T, B, 800), (T, B, 800)]``."""
    s1 = layers[0](x, steps=n_steps)
    s2 = layers[1](s1)
    return layers[2](s2).mean(0), [s1, s2]


class Trainer:
    """spikesub's MLP, its SGD optimizer and a stream of training batches."""

    def __init__(self, config: BenchSnnBreakdownConfig) -> None:
        import torch

        self.x_all, self.y_all = (torch.from_numpy(a) for a in _images(config))
        self.layers = _model(config.seed)
        self.optimizer = torch.optim.SGD(self.layers.parameters(), lr=config.lr)
        self.rng = np.random.default_rng(config.seed)
        self.config = config
        self.batch = None

    def steps(self, n: int) -> tuple[list[float], list[float]]:
        """Train ``n`` steps; returns each step's wall time and CPU time of this thread, in
        ms (the batch is drawn before the clock starts)."""
        import torch
        import torch.nn.functional as F

        walls, cpus = [], []
        for _ in range(n):
            idx = torch.from_numpy(self.rng.integers(0, len(self.x_all), size=self.config.batch))
            x, y = self.x_all[idx], self.y_all[idx]
            c0, t0 = time.thread_time(), time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            logits, _ = _forward(self.layers, x, self.config.T)
            F.cross_entropy(logits, y).backward()
            self.optimizer.step()
            walls.append(1e3 * (time.perf_counter() - t0))
            cpus.append(1e3 * (time.thread_time() - c0))
            self.batch = (x, y)
        return walls, cpus


KERNEL_GROUPS = {
    ("event_matmul", "nonzeros_by_row_numba"): "spike compaction",
    ("event_matmul", "event_matmul_csr_numba"): "event-driven forward products",
    ("event_matmul", "event_outer_csr_numba"): "event-driven weight gradients",
    ("lif_sequence", "lif_sequence_forward_numba"): "LIF forward",
    ("lif_sequence", "lif_sequence_backward_numba"): "LIF backward",
}
"""The Numba kernels the layers call (module of spikesub.kernels, function) and their group."""


def in_training(trainer: Trainer, n_steps: int) -> dict[str, float]:
    """CPU ms per training step of each kernel group, measured inside ``n_steps`` real steps
    (caches as training leaves them), with this thread's clock: one thread only.

    The Numba kernels are timed by wrapping the module functions the layers call; the dense
    products, oneDNN operators, by torch.profiler in ``n_steps`` more steps. The rest of the
    step is autograd, allocation, input checks, the loss, the optimizer and the copies.
    """
    import importlib

    from torch.profiler import ProfilerActivity, profile

    spent = dict.fromkeys(KERNEL_GROUPS.values(), 0.0)
    originals = []
    for (module_name, name), group in KERNEL_GROUPS.items():
        module = importlib.import_module(f"spikesub.kernels.{module_name}")
        fn = getattr(module, name)
        originals.append((module, name, fn))

        def timed(*a, _fn=fn, _group=group, **k):
            c0 = time.thread_time()
            try:
                return _fn(*a, **k)
            finally:
                spent[_group] += 1e3 * (time.thread_time() - c0)

        setattr(module, name, timed)
    try:
        _, cpus = trainer.steps(n_steps)
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.steps(n_steps)
    onednn_us = sum(
        e.self_cpu_time_total for e in prof.key_averages() if "linear_pointwise" in e.key
    )
    groups = {g: v / n_steps for g, v in spent.items()}
    groups["dense products (oneDNN)"] = 1e-3 * onednn_us / n_steps
    step = sum(cpus) / n_steps
    groups["rest"] = step - sum(groups.values())
    groups["whole step"] = step
    return groups


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this thread over ``repeats`` calls, in ms
    (after one untimed call)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
    return 1e3 * statistics.median(walls), 1e3 * statistics.median(cpus)


def kernel_calls(layers, batch, n_steps: int) -> tuple[list[tuple[str, Callable]], dict]:
    """Every kernel of one training step as ``(name, call)``, on that step's shapes and spikes,
    and the spike densities of the two hidden layers."""
    import torch

    import spikesub.kernels.event_matmul as em
    import spikesub.kernels.lif_sequence as lk
    from spikesub.models.snn import dense_linear

    x, _ = batch
    with torch.no_grad():
        _, spikes = _forward(layers, x, n_steps)
    n_batch = x.shape[0]
    rows = n_steps * n_batch
    w = [layer.linear.weight.detach() for layer in layers]
    hidden = [s.reshape(rows, -1).contiguous().numpy() for s in spikes]
    csr = [em.nonzeros_by_row_numba(h) for h in hidden]
    rng = np.random.default_rng(0)

    def lif_arrays(features: int, static: bool) -> dict[str, np.ndarray]:
        m = n_batch * features
        cur = rng.normal(0.3, 0.5, (1 if static else n_steps, m)).astype(np.float32)
        a = {
            "x": cur, "beta": np.full(features, BETA, np.float32),
            "threshold": np.full(features, THRESHOLD, np.float32),
            "mem0": np.zeros(m, np.float32), "spk": np.empty((n_steps, m), np.float32),
            "mem": np.empty((n_steps, m), np.float32),
            "grad_spk": rng.normal(0, 1e-3, (n_steps, m)).astype(np.float32),
            "grad_x": np.empty_like(cur), "grad_mem0": np.empty(m, np.float32),
        }  # fmt: skip
        lk.lif_sequence_forward_numba(
            a["x"], a["beta"], a["threshold"], a["mem0"], 0, a["spk"], a["mem"]
        )
        return a

    def lif_forward(a):
        return lambda: lk.lif_sequence_forward_numba(
            a["x"], a["beta"], a["threshold"], a["mem0"], 0, a["spk"], a["mem"]
        )

    def lif_backward(a):
        return lambda: lk.lif_sequence_backward_numba(
            a["grad_spk"], None, a["mem"], a["mem0"], a["beta"], a["threshold"], 0, ATAN,
            SLOPE, a["grad_x"], a["grad_mem0"], None, None,
        )  # fmt: skip

    lif = [lif_arrays(SIZES[1], True), lif_arrays(SIZES[2], False), lif_arrays(SIZES[3], False)]
    wt = [wi.t().contiguous().numpy() for wi in w]
    out = [np.empty((rows, SIZES[i + 1]), np.float32) for i in range(3)]
    delta = [torch.randn(rows, SIZES[i + 1]) * 1e-3 for i in range(3)]
    gw = [np.empty((SIZES[i + 1], SIZES[i]), np.float32) for i in range(3)]
    delta1 = torch.randn(n_batch, SIZES[1]) * 1e-3
    calls = [
        ("forward: layer 1 Linear, static (64 x 784 @ 784 x 800), oneDNN",
         lambda: dense_linear(x, w[0])),
        ("forward: layer 1 LIF, static input, 20 steps", lif_forward(lif[0])),
        ("forward: compaction of layer 1 spikes", lambda: em.nonzeros_by_row_numba(hidden[0])),
        ("forward: layer 2 event-driven product (+ W transpose)",
         lambda: em.event_matmul_csr_numba(*csr[0], w[1].t().contiguous().numpy(), out[1])),
        ("forward: layer 2 LIF", lif_forward(lif[1])),
        ("forward: compaction of layer 2 spikes", lambda: em.nonzeros_by_row_numba(hidden[1])),
        ("forward: layer 3 event-driven product", lambda: em.event_matmul_csr_numba(
            *csr[1], wt[2], out[2])),
        ("forward: layer 3 LIF", lif_forward(lif[2])),
        ("backward: layer 3 LIF", lif_backward(lif[2])),
        ("backward: layer 3 input gradient (1280 x 10 @ 10 x 800), oneDNN",
         lambda: dense_linear(delta[2], w[2].t())),
        ("backward: layer 3 weight gradient, event-driven",
         lambda: em.event_outer_csr_numba(*csr[1], delta[2].numpy(), gw[2].T)),
        ("backward: layer 2 LIF", lif_backward(lif[1])),
        ("backward: layer 2 input gradient (1280 x 800 @ 800 x 800), oneDNN",
         lambda: dense_linear(delta[1], w[1].t())),
        ("backward: layer 2 weight gradient, event-driven",
         lambda: em.event_outer_csr_numba(*csr[0], delta[1].numpy(), gw[1].T)),
        ("backward: layer 1 LIF, static input (gradient summed over the steps)",
         lif_backward(lif[0])),
        ("backward: layer 1 weight gradient (800 x 64 @ 64 x 784), oneDNN",
         lambda: dense_linear(delta1.t(), x.t())),
    ]  # fmt: skip
    densities = {f"layer {i + 1} spikes": float(h.mean()) for i, h in enumerate(hidden)}
    return calls, densities


def breakdown(config: BenchSnnBreakdownConfig) -> dict[str, Any]:
    """Train, then time every kernel on ``config.threads`` threads (torch's and Numba's, set
    back afterwards); returns the rows, the whole-step medians and the in-training times."""
    import numba
    import torch

    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(config.threads)
    numba.set_num_threads(config.threads)
    try:
        return _breakdown(config)
    finally:
        torch.set_num_threads(previous[0])
        numba.set_num_threads(previous[1])


def _breakdown(config: BenchSnnBreakdownConfig) -> dict[str, Any]:
    import torch

    trainer = Trainer(config)
    trainer.steps(config.train_steps)
    walls, cpus = trainer.steps(config.repeats)
    groups = in_training(trainer, config.repeats) if config.threads == 1 else {}
    calls, densities = kernel_calls(trainer.layers, trainer.batch, config.T)
    for p in trainer.layers.parameters():
        p.grad = torch.zeros_like(p)
    calls.append(("SGD update (1.27 M parameters)", trainer.optimizer.step))
    rows = []
    for name, fn in calls:
        wall_ms, cpu_ms = _timed(fn, config.repeats)
        rows.append({"kernel": name, "wall_ms": wall_ms, "cpu_ms": cpu_ms})
    return {
        "rows": rows,
        "step_ms": statistics.median(walls),
        "step_cpu_ms": statistics.median(cpus),
        "densities": densities,
        "in_training_cpu_ms": groups,
    }


def render(result: dict[str, Any], config: BenchSnnBreakdownConfig) -> str:
    """The Markdown table of ``breakdown.md``."""
    step, step_cpu = result["step_ms"], result["step_cpu_ms"]
    cpu_total = sum(row["cpu_ms"] for row in result["rows"])
    lines = [
        f"Threads: {config.threads}. Spike densities after {config.train_steps} training steps: "
        + ", ".join(f"{k} {100 * v:.1f} %" for k, v in result["densities"].items())
        + ".",
        "",
        "| kernel | wall ms (median) | CPU ms (median) | share of the step |",
        "|---|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['kernel']} | {row['wall_ms']:.3f} | {row['cpu_ms']:.3f} "
            f"| {100 * row['wall_ms'] / step:.0f} % |"
        )
    total = sum(row["wall_ms"] for row in result["rows"])
    lines += [
        f"| sum of the kernels | {total:.2f} | {cpu_total:.2f} | {100 * total / step:.0f} % |",
        f"| whole training step (median of {config.repeats}) | {step:.2f} | {step_cpu:.2f} "
        "| 100 % |",
        f"| rest: autograd, allocation, checks, loss, small products | {step - total:.2f} "
        f"| {step_cpu - cpu_total:.2f} | {100 * (step - total) / step:.0f} % |",
    ]
    groups = result["in_training_cpu_ms"]
    if groups:
        lines += [
            "",
            f"Inside training (CPU ms per step, mean of {config.repeats} steps, one thread):",
            "",
            "| kernels | CPU ms per step | share |",
            "|---|---:|---:|",
        ]
        whole = groups["whole step"]
        for name, ms in groups.items():
            lines.append(f"| {name} | {ms:.2f} | {100 * ms / whole:.0f} % |")
    return "\n".join(lines) + "\n"


def data_dir_of(config: BenchSnnBreakdownConfig) -> Path:
    """The MNIST folder ``config`` reads (its ``data_dir``, or the default one)."""
    return Path(config.data_dir).resolve() if config.data_dir else DEFAULT_MNIST_DIR


def run(
    config: BenchSnnBreakdownConfig,
    out: str | Path | None = None,
    *,
    progress: bool | None = None,
) -> Path:
    """Train, time every kernel and write the run folder (see the module's docstring).

    Args:
        config: what to run.
        out: the run folder (default ``runs/bench-snn-breakdown-<time>``).
        progress: unused (nothing here is long enough for a progress bar).

    Returns:
        the run folder.
    """
    if not config.synthetic and not data_dir_of(config).exists():
        raise FileNotFoundError(
            f"data_dir {data_dir_of(config)} does not exist (give --data-dir, or --synthetic)"
        )
    from spikesub.kernels.threads import resolve_threads

    threads = resolve_threads(config.threads)  # at most Numba's pool, with a warning
    out = prepare_run_dir(out, job=JOB, config=config.to_dict(), prefix="bench-snn-breakdown")
    used = config.replace(threads=threads)
    result = breakdown(used)
    document = run_config_document(
        JOB,
        config.to_dict(),
        threads_used=threads,
        data_dir_used=None if config.synthetic else str(data_dir_of(config)),
        command=command_of(config, PROG),
        **platform_info(),
    )
    write_json(out / "config.json", document)
    write_json(out / "metrics.json", result)
    heading = "# MLP training step, kernel by kernel\n\n"
    atomic_write_bytes(out / TABLE_NAME, (heading + render(result, used)).encode())
    return out
