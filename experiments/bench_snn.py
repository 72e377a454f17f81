"""Benchmark: training spiking networks with snnTorch, SpikingJelly and spikesub layers.

Three frameworks: snnTorch (``Leaky``, its per-step tutorial loop), SpikingJelly 2.0
(multi-step ``LIFNode``, one registered operator per layer for all steps) and spikesub
(:class:`~spikesub.models.snn.SpikingLinear` on the fused Numba kernels). Two workloads, each
trained in the same run, on the same data, from the same weights:

1. ``mlp``: the MLP 784-800-800-10 (Linear + LIF per layer) with T = 20 steps of direct
   (static, repeated) input, batch 64, SGD, cross-entropy on the time-averaged membrane of
   the output layer, on MNIST.
   snnTorch runs the usual tutorial loop (Linear then ``Leaky`` at every step, in Python);
   spikesub computes the first Linear once, the others over all steps at once as
   event-driven products over the hidden spikes (dense products run on oneDNN), and the
   LIF recursion in one fused kernel per layer forward and backward. Both start from the
   same Linear weights and see the batches in the same order, so their loss curves agree up
   to float rounding until a spike flips (the kernels round once per step in float64,
   snnTorch once per operation in float32). SpikingJelly computes the first Linear once too
   (its output broadcast over the steps) and the others as one matmul over all steps.
2. ``ob``: the Open Neuromorphic framework benchmark: one Linear(n, n) + LIF layer, n = 4096,
   500 steps, batch 16, random input, forward + backward with the sum of output spikes as
   the loss. spikesub and SpikingJelly compute the Linear as one product over all steps,
   snnTorch step by step.

SpikingJelly's neuron is as close to snnTorch's as its options allow, but not equal:
``LIFNode(tau=1 / (1 - beta), decay_input=False, v_threshold=threshold, v_reset=None,
detach_reset=True, surrogate_function=ATan(alpha))`` has the same leak, threshold, soft
reset and surrogate, but subtracts the threshold right after a spike, before the next leak,
where snnTorch subtracts it at the next step, after the leak: after each spike its membrane
sits higher by ``(1 - beta) * threshold`` (decaying with beta), so its neurons fire more
once they have fired. Its spikes equal snnTorch's up to each neuron's first spike, so its
loss curve starts near theirs but does not follow it (see ``tests/test_spikingjelly_lif.py``).
Its output layer is read through ``v_seq`` plus the detached spikes times the threshold, the
membrane before its reset, as snnTorch's ``mem``.

Every framework and workload runs in a fresh child process, so that its peak memory
(``ru_maxrss``, or ``torch.cuda.max_memory_allocated`` on a GPU) is its own. With
``--rounds N`` the frameworks take turns N times (snnTorch, SpikingJelly, spikesub, snnTorch,
...), so that a machine whose speed drifts during the run (other load, frequency changes)
slows all alike; the timed steps of all rounds are pooled, and the ratios of every round are
reported too. Warm-up steps (Numba compilation, allocator warm-up) are run apart from the
timed steps; the table shows the median time per training step over the timed steps, samples
per second, peak memory and the ratios snnTorch / spikesub and SpikingJelly / spikesub, and
for each workload the largest difference between each reference's loss curve and spikesub's.

spikesub's process runs with ``OMP_WAIT_POLICY=PASSIVE`` (``--omp-passive``, see
:func:`child_env`): torch's OpenMP threads then sleep after a parallel product instead of
spinning on the cores that the Numba kernels' threads need next. The other frameworks keep
torch's default, which suits their many small operations.

On a GPU (``--device cuda``) SpikingJelly runs the implementation ``--sj-backend`` names
(``auto``: its own choice, native CUDA first, then Triton; set through its
``SJ_LIF_CUDA_IMPLEMENTATION`` variable). That path has not been run on a GPU yet.

Usage::

    python experiments/bench_snn.py                       # both workloads, all frameworks
    python experiments/bench_snn.py --frameworks snntorch,spikesub   # without SpikingJelly
    python experiments/bench_snn.py --bench mlp --steps 50
    python experiments/bench_snn.py --bench ob --ob-n 1024 --ob-steps 100 --ob-repeats 3
    python experiments/bench_snn.py --bench mlp --rounds 3       # frameworks take turns

Writes ``config.json``, ``metrics.json`` and ``bench.md`` (the table) into ``--out``; with
``--profile`` also ``profile-<workload>-<framework>.txt``, a torch.profiler table of one more
step, which shows where the time goes (matmuls, LIF kernels, autograd bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from spikesub.kernels.threads import resolve_threads
from spikesub.scripting import run_script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "mnist-10k"
FRAMEWORKS = ("snntorch", "spikingjelly", "spikesub")
REFERENCES = ("snntorch", "spikingjelly")
"""The frameworks spikesub is compared with, in the table's order."""
LABELS = {"snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "spikesub": "spikesub"}
SJ_BACKENDS = ("auto", "cuda", "triton", "torch")
BENCHES = ("mlp", "ob")
RESULT_TAG = "BENCH_SNN_RESULT "
BETA = 0.9
THRESHOLD = 1.0
SLOPE = 2.0  # atan surrogate, snnTorch's default alpha
SJ_TAU = round(1.0 / (1.0 - BETA), 9)  # SpikingJelly's leak v - v / tau is beta * v
OMP_PASSIVE_CHOICES = ("spikesub", "all", "none")
"""``--omp-passive``: whose processes run with ``OMP_WAIT_POLICY=PASSIVE``."""
SJ_ENV = "SJ_LIF_CUDA_IMPLEMENTATION"
"""SpikingJelly's variable naming its LIF implementation on a GPU (read when it is imported)."""


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def load_mnist_train(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images ``(n, 28, 28)`` uint8 and labels ``(n,)`` from ``data_dir``."""
    from spikesub.datasets import load_mnist

    mnist = load_mnist(data_dir)
    return mnist.x_train, mnist.y_train


def synthetic_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(n, 28, 28)`` uint8 images with class-dependent bright rows, and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 64, size=(n, 28, 28)).astype(np.uint8)
    for k in range(10):
        images[labels == k, 2 + 2 * k : 4 + 2 * k, :] = 255
    return images, labels


# ---------------------------------------------------------------------------------------------
# Child side: one framework on one workload
# ---------------------------------------------------------------------------------------------


def _rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _snntorch_atan(dtype_name: str):
    """snnTorch's arctan surrogate; in float64 with spikes in float64 too.

    ``snntorch.surrogate.atan`` returns float32 spikes whatever the input dtype, which would
    round the gradients flowing back through them to float32; the float64 variant keeps
    snnTorch's own backward formula and returns spikes in the membrane's dtype.
    """
    from snntorch import surrogate

    if dtype_name == "float32":
        return surrogate.atan(SLOPE)

    class ATanSameDtype(surrogate.ATan):
        @staticmethod
        def forward(ctx, input_, alpha):
            ctx.save_for_backward(input_)
            ctx.alpha = alpha
            return (input_ > 0).to(input_.dtype)

    return lambda u: ATanSameDtype.apply(u, SLOPE)


def spikingjelly_lif(store_v_seq: bool = False):
    """SpikingJelly's multi-step ``LIFNode`` closest to ``snntorch.Leaky(beta=BETA,
    threshold=THRESHOLD, spike_grad=atan(SLOPE))`` with subtractive reset.

    ``tau = 1 / (1 - beta)`` with ``decay_input=False`` makes its leak
    ``v - v / tau + x = beta * v + x``; ``v_reset=None`` is the soft (subtractive) reset;
    ``detach_reset=True`` keeps the reset out of the gradient, as snnTorch does; ``ATan(alpha)``
    is snnTorch's arctan surrogate. The difference that remains: the threshold is subtracted
    right after a spike, before the next leak (snnTorch: at the next step, after the leak).
    Input and output ``(T, B, F)``; with ``store_v_seq`` the membranes after every step's
    reset are kept in ``v_seq`` ``(T, B, F)``.
    """
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.LIFNode(
        tau=SJ_TAU,
        decay_input=False,
        v_threshold=THRESHOLD,
        v_reset=None,
        surrogate_function=surrogate.ATan(alpha=SLOPE),
        detach_reset=True,
        step_mode="m",
        store_v_seq=store_v_seq,
    )


def _mlp_models(task: dict[str, Any]):
    """The snnTorch, SpikingJelly or spikesub MLP: ``model(x)`` maps a static ``(B, 784)``
    image batch to ``(B, 10)`` logits, the output membrane averaged over the ``T`` steps."""
    import torch
    from torch import nn

    sizes = [784, *task["hidden"], 10]
    n_steps = task["T"]
    torch.manual_seed(task["seed"])
    linears = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    device = task["device"]
    if task["framework"] == "snntorch":
        import snntorch as snn

        spike_grad = _snntorch_atan(task.get("dtype", "float32"))

        class SnnTorchMLP(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fcs = nn.ModuleList(linears)
                self.lifs = nn.ModuleList(
                    snn.Leaky(beta=BETA, threshold=THRESHOLD, spike_grad=spike_grad)
                    for _ in linears
                )

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                mems = [lif.init_leaky() for lif in self.lifs]
                mem_sum = 0
                for _ in range(n_steps):
                    h = x
                    for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs, strict=True)):
                        # snnTorch's surrogates return float32 spikes; 0/1 is exact in any dtype
                        h, mems[i] = lif(fc(h.to(x.dtype)), mems[i])
                    mem_sum = mem_sum + mems[-1]
                return mem_sum / n_steps

        model = SnnTorchMLP()
    elif task["framework"] == "spikingjelly":
        from spikingjelly.activation_based import functional

        class SpikingJellyMLP(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fcs = nn.ModuleList(linears)
                last = len(linears) - 1
                self.lifs = nn.ModuleList(
                    spikingjelly_lif(store_v_seq=i == last) for i in range(len(linears))
                )

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                functional.reset_net(self)
                current = self.fcs[0](x)  # static input: one Linear, broadcast over the steps
                h = self.lifs[0](current.unsqueeze(0).expand(n_steps, *current.shape))
                for fc, lif in zip(self.fcs[1:], self.lifs[1:], strict=True):
                    h = lif(fc(h))  # one matmul over all T * B rows
                # the output membrane before its reset (snnTorch's mem): v after it plus the
                # threshold where it fired; the reset is detached, as in snnTorch
                mem = self.lifs[-1].v_seq + h.detach() * THRESHOLD
                return mem.mean(0)

        model = SpikingJellyMLP()
    else:
        from spikesub.models.snn import SpikingLinear

        class SpikesubMLP(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                layers = []
                for i, lin in enumerate(linears):
                    layer = SpikingLinear(
                        lin.in_features,
                        lin.out_features,
                        beta=BETA,
                        threshold=THRESHOLD,
                        surrogate="atan",
                        slope=SLOPE,
                        output="membrane" if i == len(linears) - 1 else "spikes",
                    )
                    layer.linear = lin
                    layers.append(layer)
                self.layers = nn.ModuleList(layers)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                h = self.layers[0](x, steps=n_steps)
                for layer in self.layers[1:]:
                    h = layer(h)
                return h.mean(0)

        model = SpikesubMLP()
    return model.to(device=device, dtype=getattr(torch, task.get("dtype", "float32")))


def _run_mlp(task: dict[str, Any]) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    device = task["device"]
    if task["synthetic"]:
        images, labels = synthetic_mnist(max(task["batch"] * 8, 512), task["seed"])
    else:
        images, labels = load_mnist_train(Path(task["data_dir"]))
    dtype = np.dtype(task.get("dtype", "float32"))
    x_all = torch.from_numpy(images.reshape(len(images), -1).astype(dtype) / dtype.type(255.0))
    y_all = torch.from_numpy(labels.astype(np.int64))
    base_rss = _rss_mib()
    model = _mlp_models(task)
    optimizer = torch.optim.SGD(model.parameters(), lr=task["lr"])
    rng = np.random.default_rng(task["seed"])
    n_total = task["warmup"] + task["steps"]
    batch = task["batch"]
    order = np.concatenate(
        [rng.permutation(len(x_all)) for _ in range(n_total * batch // len(x_all) + 1)]
    )
    losses, times, correct = [], [], []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def train_step(step: int) -> float:
        idx = torch.from_numpy(order[step * batch : (step + 1) * batch])
        x = x_all[idx].to(device)
        y = y_all[idx].to(device)
        _sync(device)
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        _sync(device)
        elapsed = time.perf_counter() - t0
        losses.append(loss.item())
        correct.append(float((logits.argmax(1) == y).float().mean()))
        return elapsed

    for step in range(n_total):
        elapsed = train_step(step)
        if step >= task["warmup"]:
            times.append(elapsed)
    result = {
        "losses": list(losses),
        "times_s": times,
        "train_acc_last10": float(np.mean(correct[-min(10, len(correct)) :])),
        "base_rss_mib": base_rss,
        "batch": batch,
    }
    if task.get("profile"):
        result["profile"] = _profile(lambda: train_step(n_total))
    return result


def _run_ob(task: dict[str, Any]) -> dict[str, Any]:
    import torch
    from torch import nn

    device = task["device"]
    n, n_steps, batch = task["ob_n"], task["ob_steps"], task["ob_batch"]
    gen = torch.Generator().manual_seed(task["seed"])
    dtype = getattr(torch, task.get("dtype", "float32"))
    x = torch.rand((n_steps, batch, n), generator=gen).to(device=device, dtype=dtype)
    base_rss = _rss_mib()
    torch.manual_seed(task["seed"])
    linear = nn.Linear(n, n).to(device=device, dtype=dtype)
    if task["framework"] == "snntorch":
        import snntorch as snn

        spike_grad = _snntorch_atan(task.get("dtype", "float32"))
        lif = snn.Leaky(beta=BETA, threshold=THRESHOLD, spike_grad=spike_grad)
        lif = lif.to(device=device, dtype=dtype)

        def forward(inp: torch.Tensor) -> torch.Tensor:
            mem = lif.init_leaky()
            spks = []
            for t in range(inp.shape[0]):
                spk, mem = lif(linear(inp[t]), mem)
                spks.append(spk.to(inp.dtype))
            return torch.stack(spks)
    elif task["framework"] == "spikingjelly":
        from spikingjelly.activation_based import functional

        lif = spikingjelly_lif().to(device=device, dtype=dtype)

        def forward(inp: torch.Tensor) -> torch.Tensor:
            functional.reset_net(lif)
            return lif(linear(inp))
    else:
        from spikesub.models.snn import LIF, event_linear

        lif = LIF(beta=BETA, threshold=THRESHOLD, surrogate="atan", slope=SLOPE)
        lif = lif.to(device=device, dtype=dtype)

        def forward(inp: torch.Tensor) -> torch.Tensor:
            # the same weights; spikesub's products (dense here: the input is not sparse)
            return lif(event_linear(inp, linear))

    losses, times = [], []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def train_step() -> float:
        linear.zero_grad(set_to_none=True)
        _sync(device)
        t0 = time.perf_counter()
        loss = forward(x).sum()
        loss.backward()
        _sync(device)
        elapsed = time.perf_counter() - t0
        losses.append(loss.item())
        return elapsed

    for step in range(task["ob_warmup"] + task["ob_repeats"]):
        elapsed = train_step()
        if step >= task["ob_warmup"]:
            times.append(elapsed)
    result = {"losses": list(losses), "times_s": times, "base_rss_mib": base_rss, "batch": batch}
    if task.get("profile"):
        result["profile"] = _profile(train_step)
    return result


def _profile(step_fn) -> str:
    """A torch.profiler table (operators by self CPU time) of one more call of ``step_fn``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step_fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one framework on one workload in this process; returns timings, losses, memory."""
    if task["framework"] == "spikingjelly" and task.get("sj_backend", "auto") != "auto":
        os.environ[SJ_ENV] = task["sj_backend"]  # before SpikingJelly is imported
    import torch

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    runner = _run_mlp if task["bench"] == "mlp" else _run_ob
    if task["framework"] == "spikesub" and task.get("threads"):
        from spikesub.kernels.threads import numba_threads

        with numba_threads(task["threads"]):  # the Numba kernels' threads, as torch's
            result = runner(task)
    else:
        result = runner(task)
    times = result["times_s"]
    step_s = statistics.median(times)
    result.update(
        framework=task["framework"],
        bench=task["bench"],
        device=task["device"],
        torch_threads=torch.get_num_threads(),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", ""),
        step_ms=1e3 * step_s,
        step_ms_min=1e3 * min(times),
        step_ms_max=1e3 * max(times),
        samples_per_s=result["batch"] / step_s,
        peak_rss_mib=_rss_mib(),
    )
    if task["device"] == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def _child_main(task_json: str) -> None:
    result = run_task(json.loads(task_json))
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Parent side
# ---------------------------------------------------------------------------------------------


def child_env(framework: str, omp_passive: str) -> dict[str, str]:
    """The environment of a framework's child process: this one's, with
    ``OMP_WAIT_POLICY=PASSIVE`` (unless set already) where ``omp_passive`` names it.

    torch's OpenMP threads spin for milliseconds after each parallel operation before they
    sleep. That suits snnTorch and SpikingJelly, whose steps are many small operations in a
    row (with PASSIVE their MLP steps took twice as long), but it starves spikesub's Numba
    kernels, whose threads (TBB) need the cores the spinning threads hold: with two cores
    and two threads each, spikesub's MLP step took 4-6x longer with torch's default.
    """
    env = dict(os.environ)
    if omp_passive in ("all", framework):
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def run_in_subprocess(task: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
    """Run :func:`run_task` in a fresh Python process and return its result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)]
    env = child_env(task["framework"], task.get("omp_passive", "spikesub"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=REPO, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    raise RuntimeError(
        f"{task['framework']} / {task['bench']} failed (exit status {proc.returncode}):\n"
        + proc.stderr[-4000:]
    )


def merge_rounds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One framework's results of several rounds as one row: timed steps pooled (median,
    min, max over all of them), the largest peak memory, each round's median in
    ``round_step_ms``; losses and the rest from the first round (every round trains the same
    steps from the same seed)."""
    merged = dict(results[0])
    times = [t for r in results for t in r["times_s"]]
    step_s = statistics.median(times)
    merged.update(
        times_s=times,
        step_ms=1e3 * step_s,
        step_ms_min=1e3 * min(times),
        step_ms_max=1e3 * max(times),
        samples_per_s=merged["batch"] / step_s,
        peak_rss_mib=max(r["peak_rss_mib"] for r in results),
        round_step_ms=[r["step_ms"] for r in results],
    )
    if "peak_gpu_mib" in merged:
        merged["peak_gpu_mib"] = max(r["peak_gpu_mib"] for r in results)
    return merged


def compare(
    results: dict[str, dict[str, Any]], bench: str, reference: str = "snntorch"
) -> dict[str, Any]:
    """Speed ratio and loss-curve agreement between ``reference`` and spikesub on one
    workload; empty when either did not run."""
    ref, ours = results.get(reference), results.get("spikesub")
    if ref is None or ours is None:
        return {}
    n = min(len(ref["losses"]), len(ours["losses"]))
    a = np.asarray(ref["losses"][:n])
    b = np.asarray(ours["losses"][:n])
    diff = np.abs(a - b)
    rel = diff / np.maximum(np.abs(a), 1e-12)
    agree = np.flatnonzero(rel > 1e-3)
    return {
        "bench": bench,
        "reference": reference,
        "speedup": ref["step_ms"] / ours["step_ms"],
        "speedup_rounds": [
            a / b
            for a, b in zip(
                ref.get("round_step_ms", [ref["step_ms"]]),
                ours.get("round_step_ms", [ours["step_ms"]]),
                strict=False,
            )
        ],
        "memory_ratio": ref["peak_rss_mib"] / ours["peak_rss_mib"],
        "loss_steps_compared": int(n),
        "loss_max_abs_diff": float(diff.max()),
        "loss_max_rel_diff": float(rel.max()),
        "loss_steps_within_1e-3": int(agree[0]) if agree.size else int(n),
        f"loss_mean_last10_{reference}": float(a[-min(10, n) :].mean()),
        "loss_mean_last10_spikesub": float(b[-min(10, n) :].mean()),
    }


def _bench_label(bench: str, config: dict[str, Any]) -> str:
    if bench == "mlp":
        sizes = "-".join(str(s) for s in [784, *config["hidden"], 10])
        return f"MLP {sizes}, T={config['T']}, B={config['batch']}"
    return f"Linear+LIF n={config['ob_n']}, T={config['ob_steps']}, B={config['ob_batch']}"


def render_table(rows: list[dict[str, Any]], comparisons: list[dict], config: dict) -> str:
    """The Markdown table of ``bench.md``: one row per workload and framework, the speed
    ratios of each reference to spikesub on spikesub's row, then the loss-curve notes."""
    lines = [
        "| workload | framework | device | step ms (median) | samples/s | peak RSS MiB "
        + "".join(f"| {LABELS[r]} / spikesub " for r in REFERENCES)
        + "|",
        "|---|---|---|---:|---:|---:" + "|---:" * len(REFERENCES) + "|",
    ]
    speedups = {(c["bench"], c["reference"]): c["speedup"] for c in comparisons if c}
    for row in rows:
        ratios = ""
        for reference in REFERENCES:
            ratio = speedups.get((row["bench"], reference))
            shown = row["framework"] == "spikesub" and ratio is not None
            ratios += f" {ratio:.2f}x |" if shown else "  |"
        memory = f"{row['peak_rss_mib']:.0f}"
        if "peak_gpu_mib" in row:
            memory += f" (GPU {row['peak_gpu_mib']:.0f})"
        lines.append(
            f"| {_bench_label(row['bench'], config)} | {row['framework']} | {row['device']} "
            f"| {row['step_ms']:.1f} | {row['samples_per_s']:.1f} | {memory} |{ratios}"
        )
    lines.append("")
    passive = sorted({r["framework"] for r in rows if r.get("omp_wait_policy")})
    if passive:
        lines.append(f"- OMP_WAIT_POLICY=PASSIVE in the processes of: {', '.join(passive)}.")
    for c in comparisons:
        if c:
            lines.extend(_comparison_notes(c, config))
    return "\n".join(lines) + "\n"


def _comparison_notes(c: dict[str, Any], config: dict) -> list[str]:
    """Loss-curve agreement and per-round speed ratios of one reference against spikesub."""
    label, ref = _bench_label(c["bench"], config), c["reference"]
    notes = [
        f"- {label}: {LABELS[ref]} and spikesub loss curves over the first "
        f"{c['loss_steps_compared']} steps differ by at most {c['loss_max_abs_diff']:.3g} "
        f"(relative {c['loss_max_rel_diff']:.3g}); they agree to 1e-3 relative for the "
        f"first {c['loss_steps_within_1e-3']} steps; mean loss of the last 10 steps: "
        f"{LABELS[ref]} {c[f'loss_mean_last10_{ref}']:.4g}, "
        f"spikesub {c['loss_mean_last10_spikesub']:.4g}."
    ]
    if len(c.get("speedup_rounds", [])) > 1:
        per_round = ", ".join(f"{r:.2f}x" for r in c["speedup_rounds"])
        notes.append(
            f"- {label}: {LABELS[ref]} / spikesub per round (frameworks taking turns): {per_round}."
        )
    return notes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Train SNNs with snnTorch, SpikingJelly and spikesub; compare speed.",
    )
    p.add_argument("--bench", default="mlp,ob", help="comma-separated workloads: mlp, ob")
    p.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated, run in this order each round: snntorch, spikingjelly, spikesub",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--sj-backend",
        choices=SJ_BACKENDS,
        default="auto",
        help="SpikingJelly's LIF implementation on a GPU (auto: native CUDA, else Triton)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="dtype of weights, data and state (float64: loss curves agree for longer)",
    )
    p.add_argument("--steps", type=int, default=50, help="timed MLP training steps (K)")
    p.add_argument("--warmup", type=int, default=5, help="MLP warm-up steps, not timed")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--T", type=int, default=20, help="MLP time steps")
    p.add_argument("--hidden", default="800,800", help="MLP hidden sizes, comma-separated")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--synthetic", action="store_true", help="random images instead of MNIST")
    p.add_argument("--ob-n", type=int, default=4096)
    p.add_argument("--ob-steps", type=int, default=500, help="time steps of the ob workload")
    p.add_argument("--ob-batch", type=int, default=16)
    p.add_argument("--ob-repeats", type=int, default=3, help="timed ob forward+backward runs")
    p.add_argument("--ob-warmup", type=int, default=1)
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch and Numba threads (0: automatic, from the cores this process may use)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="times the frameworks take turns on each workload; timed steps are pooled",
    )
    p.add_argument(
        "--omp-passive",
        choices=OMP_PASSIVE_CHOICES,
        default="spikesub",
        help="whose child processes run with OMP_WAIT_POLICY=PASSIVE (see child_env)",
    )
    p.add_argument("--profile", action="store_true", help="write torch.profiler tables")
    p.add_argument(
        "--in-process", action="store_true", help="no child processes (peak memory then mixes)"
    )
    p.add_argument("--out", type=Path, default=Path("runs/bench-snn"))
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p


def _check_installed(frameworks: list[str]) -> None:
    """Exit with one line naming the install command when a reference framework is missing."""
    import importlib.util

    for name in frameworks:
        if name in REFERENCES and importlib.util.find_spec(name) is None:
            raise SystemExit(
                f"bench_snn: {name} is not installed (the README's SNN benchmark section says "
                f"how to install it); or leave it out with --frameworks"
            )


def _positive(name: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise SystemExit(f"bench_snn: --{name} must be >= {minimum}; got {value}")


def _versions(frameworks: list[str]) -> dict[str, str]:
    """Installed versions of torch and of the frameworks that run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("torch", *frameworks):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "source"
    return versions


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    cli_args = list(argv if argv is not None else sys.argv[1:])
    if args.child:
        _child_main(args.child)
        return {}
    benches = [b.strip() for b in args.bench.split(",") if b.strip()]
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    for b in benches:
        if b not in BENCHES:
            raise SystemExit(f"bench_snn: --bench must list names from {BENCHES}; got {b!r}")
    for f in frameworks:
        if f not in FRAMEWORKS:
            raise SystemExit(f"bench_snn: --frameworks must list {FRAMEWORKS}; got {f!r}")
    for name in ("steps", "batch", "T", "ob_n", "ob_steps", "ob_batch", "ob_repeats", "rounds"):
        _positive(name.replace("_", "-"), getattr(args, name))
    for name in ("warmup", "ob_warmup", "threads"):
        _positive(name.replace("_", "-"), getattr(args, name), 0)
    args.threads = resolve_threads(args.threads)
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    if not args.synthetic and "mlp" in benches and not args.data_dir.exists():
        raise SystemExit(f"bench_snn: --data-dir {args.data_dir} does not exist")
    _check_installed(frameworks)  # after the options: their errors come first

    from spikesub.runs import atomic_write_bytes, write_json

    config = {
        "benches": benches,
        "frameworks": frameworks,
        "device": args.device,
        "dtype": args.dtype,
        "steps": args.steps,
        "warmup": args.warmup,
        "batch": args.batch,
        "T": args.T,
        "hidden": hidden,
        "lr": args.lr,
        "beta": BETA,
        "threshold": THRESHOLD,
        "surrogate": f"atan(alpha={SLOPE})",
        "reset": "subtract",
        "loss_mlp": "cross-entropy on the time-averaged output membrane; SGD",
        "loss_ob": "sum of output spikes; forward + backward",
        "data_dir": None if args.synthetic else str(args.data_dir),
        "synthetic": args.synthetic,
        "ob_n": args.ob_n,
        "ob_steps": args.ob_steps,
        "ob_batch": args.ob_batch,
        "ob_repeats": args.ob_repeats,
        "ob_warmup": args.ob_warmup,
        "threads": args.threads,
        "seed": args.seed,
        "rounds": args.rounds,
        "sj_backend": args.sj_backend,
        "omp_passive": args.omp_passive,
        "versions": _versions(frameworks),
        "in_process": args.in_process,
        "command": " ".join(["python experiments/bench_snn.py", *cli_args]),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config)

    rows, comparisons, by_bench = [], [], {}
    for bench in benches:
        rounds: dict[str, list[dict[str, Any]]] = {f: [] for f in frameworks}
        for round_index in range(args.rounds):
            for framework in frameworks:
                task = {
                    "bench": bench,
                    "framework": framework,
                    "device": args.device,
                    "dtype": args.dtype,
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "batch": args.batch,
                    "T": args.T,
                    "hidden": hidden,
                    "lr": args.lr,
                    "data_dir": str(args.data_dir),
                    "synthetic": args.synthetic,
                    "ob_n": args.ob_n,
                    "ob_steps": args.ob_steps,
                    "ob_batch": args.ob_batch,
                    "ob_repeats": args.ob_repeats,
                    "ob_warmup": args.ob_warmup,
                    "threads": args.threads,
                    "seed": args.seed,
                    "sj_backend": args.sj_backend,
                    "omp_passive": args.omp_passive,
                    "profile": args.profile and round_index == 0,
                }
                tag = f"{bench} / {framework}"
                if args.rounds > 1:
                    tag += f" (round {round_index + 1}/{args.rounds})"
                if not args.quiet:
                    print(f"[bench_snn] {tag} ...", file=sys.stderr, flush=True)
                result = run_task(task) if args.in_process else run_in_subprocess(task)
                profile_text = result.pop("profile", None)
                if profile_text:
                    atomic_write_bytes(
                        out / f"profile-{bench}-{framework}.txt", profile_text.encode()
                    )
                if not args.quiet:
                    print(
                        f"[bench_snn] {tag}: {result['step_ms']:.1f} ms/step",
                        file=sys.stderr,
                        flush=True,
                    )
                rounds[framework].append(result)
        by_bench[bench] = {f: merge_rounds(results) for f, results in rounds.items()}
        rows.extend(by_bench[bench].values())
        comparisons.extend(compare(by_bench[bench], bench, ref) for ref in REFERENCES)

    table = render_table(rows, comparisons, config)
    metrics = {"rows": rows, "comparisons": [c for c in comparisons if c]}
    write_json(out / "metrics.json", metrics)
    atomic_write_bytes(
        out / "bench.md",
        (f"# SNN training benchmark\n\nCommand: `{config['command']}`\n\n" + table).encode(),
    )
    if not args.quiet:
        print(table)
    return metrics


if __name__ == "__main__":
    run_script(lambda: main() and 0, "bench_snn.py")
