"""One framework on one workload of the SNN training benchmark, in this process: the child
side of :mod:`spikesub.bench.snn.run` (``python -m spikesub.bench.snn.workloads TASK``, where
``TASK`` is JSON; prints one line, ``BENCH_SNN_RESULT `` and the result as JSON).

SpikingJelly's neuron is as close to snnTorch's as its options allow, but not equal:
``LIFNode(tau=1 / (1 - beta), decay_input=False, v_threshold=threshold, v_reset=None,
detach_reset=True, surrogate_function=ATan(alpha))`` has the same leak, threshold, soft
reset and surrogate, but subtracts the threshold right after a spike, before the next leak,
where snnTorch subtracts it at the next step, after the leak (see :func:`spikingjelly_lif`
and ``tests/test_spikingjelly_lif.py``).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BETA",
    "RESULT_TAG",
    "SJ_TAU",
    "SLOPE",
    "THRESHOLD",
    "run_task",
    "spikingjelly_lif",
    "synthetic_mnist",
]

RESULT_TAG = "BENCH_SNN_RESULT "
BETA = 0.9
THRESHOLD = 1.0
SLOPE = 2.0  # atan surrogate, snnTorch's default alpha
SJ_TAU = round(1.0 / (1.0 - BETA), 9)  # SpikingJelly's leak v - v / tau is beta * v
SJ_ENV = "SJ_LIF_CUDA_IMPLEMENTATION"
"""SpikingJelly's variable naming its LIF implementation on a GPU (read when it is imported)."""


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


def main(argv: list[str] | None = None) -> int:
    """Run the task of ``argv[0]`` (JSON) and print its result line."""
    result = run_task(json.loads((sys.argv[1:] if argv is None else argv)[0]))
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
