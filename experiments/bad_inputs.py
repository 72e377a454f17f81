"""Bad inputs, tried the way a user would type them: how many does spikesub handle well?

A catalogue of wrong values and damaged files, per command of the CLI and per area of the
Python API. A CLI case is *handled* when the command ends with status 2 and an ``error:``
line (argparse's usage error counts) and no traceback; an API case when it raises our error
types (``ValueError``, ``TypeError`` or a :class:`spikesub.SpikesubError`) whose message names
what is wrong. Anything else (a traceback, another exception type, a silent success, a
result full of NaN) is *mishandled*. ``tests/test_bad_inputs.py`` runs the same catalogue
and requires every case to be handled.

Usage::

    python experiments/bad_inputs.py --out runs/bad-inputs

Writes ``config.json``, ``metrics.json`` (every case with its outcome) and ``bad_inputs.md``
(the table: cases per command and API area, handled against mishandled) into ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import math
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import spikesub as ss
from spikesub.cli import main as spikesub_main
from spikesub.continual import HebbianSubspace, make_strategy
from spikesub.continual.networks import spiking_mlp
from spikesub.models.snn import LIF, SpikingConv2d, SpikingLinear, encoders
from spikesub.runs import make_run_dir, write_json
from spikesub.scripting import run_script

# A missing file is a FileNotFoundError (an OSError), as Python's own functions raise.
OUR_ERRORS = (ValueError, TypeError, FileNotFoundError, ss.SpikesubError)

# ---------------------------------------------------------------------------------------------
# The CLI: argv per command ({tmp} is a scratch folder, {files} the damaged files made below)

CLI_CASES: dict[str, list[list[str]]] = {
    "simulate": [
        ["--n-exc", "-1"],
        ["--n-exc", "10000000", "--p", "0.5"],
        ["--n-exc", "100000", "--p", "1"],
        ["--in-degree", "1000000"],
        ["--n-exc", "0", "--n-inh", "0"],
        ["--n-exc", "1.5"],
        ["--p", "1.5"],
        ["--p", "nan"],
        ["--p", "-0.1"],
        ["--dt-ms", "0"],
        ["--dt-ms", "1e-7"],
        ["--dt-ms", "nan"],
        ["--dt-ms", "5e-324"],
        ["--duration-ms", "-5"],
        ["--duration-ms", "inf"],
        ["--duration-ms", "1e12"],
        ["--duration-ms", "1e300"],
        ["--noise-exc", "-1"],
        ["--noise-exc", "nan"],
        ["--noise-exc", "1e308"],
        ["--seed", "-1"],
        ["--seed", str(2**64)],
        ["--seed", "10" * 20],
        ["--backend", "gpu"],
        ["--backend", "cuda"],
        ["--dtype", "float16"],
        ["--traces", "-3"],
        ["--threads", "-1"],
        ["--threads", "two"],
        ["--memory-budget", "lots"],
        ["--checkpoint-every-s", "0"],
        ["--out", ""],
        ["--out", "{files}/a-file"],
        ["--out", "{files}/whatwhen-run"],
        ["--out", "{files}/not-a-run"],
        ["--resume", "--out", "{tmp}/nothing-here"],
        ["--resume"],
    ],
    "whatwhen": [
        ["--n-neurons", "5"],
        ["--n-neurons", "-10"],
        ["--n-neurons", "100000000"],
        ["--seed", "-2"],
        ["--seed", str(2**70)],
        ["--backend", "tpu"],
        ["--threads", "-4"],
        ["--out", ""],
        ["--out", "{files}/simulate-run"],
        ["--resume", "--out", "{tmp}/nothing"],
        ["--quick", "--out", "{files}/whatwhen-other-seed", "--resume"],
    ],
    "continual": [
        ["--steps", "1000000000"],
        ["--hidden", "10000000"],
        ["--hidden", "0"],
        ["--hidden", "a,b"],
        ["--seed", str(2**65)],
        ["--lr", "-1"],
        ["--lr", "nan"],
        ["--momentum", "1"],
        ["--beta", "1.5"],
        ["--epochs", "0"],
        ["--batch-size", "-8"],
        ["--validation", "1"],
        ["--n-tasks", "99"],
        ["--max-train", "0"],
        ["--ewc-lambda", "-1"],
        ["--hlop-threshold", "1.5"],
        ["--hlop-threshold", "0.9,x"],
        ["--gpm-threshold", "0"],
        ["--hlop-k", "-1"],
        ["--option", "orthonormalise=banana"],
        ["--option", "samples=1.5"],
        ["--option", "no_such_option=1"],
        ["--option", "missing-equals"],
        ["--benchmark", "pmnist", "--data-dir", "{tmp}/no-mnist"],
        ["--benchmark", "pmnist", "--data-dir", "{files}/corrupt-mnist"],
        ["--benchmark", "pmnist", "--data-dir", "{files}/bomb-mnist"],
        ["--device", "cuda"],
        ["--threads", "-1"],
        ["--out", ""],
        ["--out", "{files}/simulate-run"],
        ["--resume", "--out", "{files}/continual-foreign-checkpoint"],
        ["--resume", "--out", "{files}/continual-damaged-checkpoint"],
    ],
    "plot": [
        ["{tmp}/does-not-exist"],
        ["{files}/a-file"],
        ["{files}/not-a-run"],
        ["{files}/truncated-spikes"],
        ["{files}/claims-1e12-neurons"],
        ["{files}/unknown-job"],
    ],
    "data": [
        ["verify", "{tmp}/no-such-folder"],
        ["verify", "{files}/a-file"],
        ["frobnicate", "{tmp}"],
        ["download", "{files}/a-file"],
    ],
}

# Options that make a case quick when its bad value is refused late (none should be).
_QUICK = {"continual": ["--quick", "--no-plots"], "whatwhen": ["--quick"]}


def _idx_header(shape: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def make_damaged_files(root: Path) -> None:
    """The files and folders the cases name as ``{files}/...``."""
    (root / "a-file").write_text("not a folder")
    (root / "not-a-run").mkdir()
    (root / "not-a-run" / "notes.txt").write_text("mine")
    quick_sim = ["simulate", "--n-exc", "40", "--n-inh", "10", "--duration-ms", "20", "--quiet"]
    _quiet(spikesub_main, [*quick_sim, "--out", str(root / "simulate-run")])
    write_json(root / "whatwhen-run" / "config.json", {"job": "whatwhen"}) if _mkdir(
        root / "whatwhen-run"
    ) else None
    write_json(root / "unknown-job" / "config.json", {"job": "frobnicate"}) if _mkdir(
        root / "unknown-job"
    ) else None
    _mkdir(root / "whatwhen-other-seed")
    write_json(
        root / "whatwhen-other-seed" / "config.json",
        ss.runs.run_config_document("whatwhen", {"seed": 99}),
    )
    _truncated_spikes(root)
    _absurd_claim(root)
    _mnist_folders(root)
    _continual_checkpoints(root)


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args)


def _truncated_spikes(root: Path) -> None:
    folder = root / "truncated-spikes"
    folder.mkdir()
    source = root / "simulate-run"
    for name in ("config.json", "metrics.json"):
        (folder / name).write_bytes((source / name).read_bytes())
    data = (source / "spikes.npz").read_bytes()
    (folder / "spikes.npz").write_bytes(data[: len(data) // 3])


def _absurd_claim(root: Path) -> None:
    folder = root / "claims-1e12-neurons"
    folder.mkdir()
    source = root / "simulate-run"
    (folder / "config.json").write_bytes((source / "config.json").read_bytes())
    np.savez(
        folder / "spikes.npz",
        times_ms=np.zeros(3),
        indices=np.zeros(3, np.int32),
        n_neurons=np.asarray(10**12),
        duration_ms=np.asarray(1000.0),
    )


def _mnist_folders(root: Path) -> None:
    corrupt, bomb = root / "corrupt-mnist", root / "bomb-mnist"
    corrupt.mkdir()
    bomb.mkdir()
    names = {
        "train-images-idx3-ubyte": (60000, 28, 28),
        "train-labels-idx1-ubyte": (60000,),
        "t10k-images-idx3-ubyte": (10000, 28, 28),
        "t10k-labels-idx1-ubyte": (10000,),
    }
    for name, shape in names.items():
        # a header and a tenth of the data: truncated
        body = np.zeros(math.prod(shape) // 10, np.uint8).tobytes()
        (corrupt / name).write_bytes(_idx_header(shape) + body)
        # a gzip file whose header declares 4e12 bytes of images
        declared = (4_000_000_000, 1000) if len(shape) == 3 else (4_000_000_000,)
        with gzip.open(bomb / f"{name}.gz", "wb") as handle:
            handle.write(_idx_header(declared) + bytes(1 << 16))


def _continual_checkpoints(root: Path) -> None:
    base = ["continual", "--quick", "--no-plots", "--quiet", "--n-tasks", "2"]
    for seed in (0, 1):
        _quiet(spikesub_main, [*base, "--seed", str(seed), "--stop-after", "1", "--out",
                               str(root / f"continual-seed{seed}")])  # fmt: skip
    foreign = root / "continual-foreign-checkpoint"
    damaged = root / "continual-damaged-checkpoint"
    for folder in (foreign, damaged):
        folder.mkdir()
        (folder / "config.json").write_bytes(
            (root / "continual-seed0" / "config.json").read_bytes()
        )
    (foreign / "checkpoint.pt").write_bytes(
        (root / "continual-seed1" / "checkpoint.pt").read_bytes()
    )
    data = (root / "continual-seed0" / "checkpoint.pt").read_bytes()
    (damaged / "checkpoint.pt").write_bytes(data[: len(data) // 2])


def _needs_no_gpu(argv: list[str]) -> bool:
    """``--backend cuda`` is a bad input only where Numba has no GPU (nor its simulator)."""
    return "cuda" in argv and argv[argv.index("cuda") - 1] == "--backend"


def run_cli_case(command: str, argv: list[str], tmp: Path, files: Path) -> dict[str, Any] | None:
    """Run one command line in this process; returns its outcome (None: not a bad input on
    this machine)."""
    if _needs_no_gpu(argv) and ss.cuda_available():
        return None
    args = [a.replace("{tmp}", str(tmp)).replace("{files}", str(files)) for a in argv]
    if command in ("simulate", "whatwhen", "continual") and "--out" not in args:
        args += ["--out", str(tmp / f"out-{abs(hash(tuple(args)))}")]
    full = [command, *args, *(_QUICK.get(command, []) if command != "plot" else [])]
    if command in ("simulate", "whatwhen", "continual"):
        full.append("--quiet")
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                status = spikesub_main(full)
            except SystemExit as stop:
                status = stop.code
    except Exception as error:  # a raw exception: mishandled
        return _cli_outcome(command, full, None, f"{type(error).__name__}: {error}")
    return _cli_outcome(command, full, status, err.getvalue())


def _cli_outcome(command: str, argv: list[str], status: Any, err: str) -> dict[str, Any]:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    handled = (
        status == 2
        and "Traceback" not in err
        and (last.startswith(f"spikesub {command}") and "error: " in last
             or "error: argument" in last
             or "error: invalid choice" in last)
    )  # fmt: skip
    return {"area": f"spikesub {command}", "case": " ".join(argv), "handled": bool(handled),
            "status": status, "message": last[:300]}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The API: (area, case, call, a word the message must contain)


def _nan_traces(n_steps: int = 50, n: int = 8) -> np.ndarray:
    traces = np.random.default_rng(0).random((n_steps, n))
    traces[7, 3] = np.nan
    return traces


def _population(n: int = 10) -> ss.IzhikevichPopulation:
    return ss.IzhikevichPopulation.from_preset("RS", n)


def _mlp():
    return spiking_mlp((6, 5, 3), steps=2, seed=0)


def _batches(bad: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x = torch.rand(4, 6)
    x[1, 2] = bad
    return [(x, torch.zeros(4, dtype=torch.long))]


def _end_task(method: str, bad: float) -> Callable[[], Any]:
    def call() -> Any:
        model = _mlp()
        strategy = make_strategy(method, model)
        strategy.begin_task(0)
        return strategy.end_task(0, _batches(bad), model, torch.nn.functional.cross_entropy)

    return call


API_CASES: list[tuple[str, str, Callable[[], Any], str]] = [
    # reservoir, populations and connectivity
    ("reservoir", "run(record_indices=[1.5])", lambda: ss.IzhikevichReservoir(_population()).run(
        1.0, record_state=("v",), record_indices=[1.5]), "record_indices"),
    ("reservoir", "run(record_indices=[99]) of 10", lambda: ss.IzhikevichReservoir(
        _population()).run(1.0, record_state=("v",), record_indices=[99]), "record_indices"),
    ("reservoir", "run(duration_ms=nan)", lambda: ss.IzhikevichReservoir(_population()).run(
        float("nan")), "duration_ms"),
    ("reservoir", "run(duration_ms=1e300)", lambda: ss.IzhikevichReservoir(_population()).run(
        1e300), "duration_ms"),
    ("reservoir", "dt_ms=1e-320", lambda: ss.IzhikevichReservoir(_population(), dt_ms=1e-320),
     "noise_interval_ms"),
    ("reservoir", "seed=2**64", lambda: ss.IzhikevichReservoir(_population(), seed=2**64),
     "seed"),
    ("reservoir", "dtype='01'", lambda: ss.IzhikevichReservoir(_population(), dtype="01"),
     "dtype"),
    ("reservoir", "n_threads=0", lambda: ss.IzhikevichReservoir(_population(), n_threads=0),
     "n_threads"),
    ("reservoir", "backend='gpu'", lambda: ss.IzhikevichReservoir(_population(), backend="gpu"),
     "backend"),
    ("reservoir", "izhikevich_2003(10**9, 1)", lambda: ss.IzhikevichReservoir.izhikevich_2003(
        10**9, 1, in_degree=1), "neurons"),
    ("reservoir", "random_connectivity(10**7, 10**7, p=0.5)", lambda: ss.random_connectivity(
        10**7, 10**7, p=0.5), "synapses"),
    ("reservoir", "random_connectivity(10, 10, in_degree=11)", lambda: ss.random_connectivity(
        10, 10, in_degree=11), "in_degree"),
    ("reservoir", "random_connectivity(10, 10, p=nan)", lambda: ss.random_connectivity(
        10, 10, p=float("nan")), "p"),
    ("reservoir", "from_preset('RS', -1)", lambda: ss.IzhikevichPopulation.from_preset("RS", -1),
     "n"),
    ("reservoir", "from_preset('XX', 5)", lambda: ss.IzhikevichPopulation.from_preset("XX", 5),
     "preset"),
    # readouts
    ("readouts", "RidgeReadout.predict(NaN traces)", lambda: ss.RidgeReadout(8, 1).predict(
        _nan_traces()), "traces"),
    ("readouts", "FORCEReadout.predict(NaN traces)", lambda: ss.FORCEReadout(8, 1).predict(
        _nan_traces()), "traces"),
    ("readouts", "ThreeFactorReadout.predict(NaN traces)", lambda: ss.ThreeFactorReadout(
        8, 1).predict(_nan_traces()), "traces"),
    ("readouts", "RidgeReadout.fit_offline(0 steps)", lambda: ss.RidgeReadout(8, 1).fit_offline(
        np.zeros((0, 8)), np.zeros((0, 1))), "traces"),
    ("readouts", "FORCEReadout.fit_online(NaN targets)", lambda: ss.FORCEReadout(8, 1).fit_online(
        np.ones((5, 8)), np.full((5, 1), np.nan)), "targets"),
    ("readouts", "ThreeFactorReadout(gate > 1)", lambda: ss.ThreeFactorReadout(8, 1).fit_online(
        np.ones((5, 8)), np.ones((5, 1)), gate=np.full(5, 2.0)), "gate"),
    ("readouts", "RidgeReadout(8, 0)", lambda: ss.RidgeReadout(8, 0), "n_outputs"),
    ("readouts", "RidgeReadout(ridge=-1)", lambda: ss.RidgeReadout(8, 1, ridge=-1.0), "ridge"),
    ("readouts", "predict(wrong width)", lambda: ss.RidgeReadout(8, 1).predict(np.ones((5, 7))),
     "traces"),
    # Hebbian circuits and strategies
    ("continual", "HebbianSubspace.update(NaN)", lambda: HebbianSubspace(6).update(
        torch.tensor([[float("nan")] * 6])), "nan"),
    ("continual", "HebbianSubspace.update(inf)", lambda: HebbianSubspace(6).update(
        torch.tensor([[float("inf")] * 6])), "inf"),
    ("continual", "HebbianSubspace.learn([])", lambda: HebbianSubspace(6).learn([]), "batches"),
    ("continual", "HebbianSubspace(-3)", lambda: HebbianSubspace(-3), "n_inputs"),
    ("continual", "HLOP end_task(NaN batch)", _end_task("hlop", float("nan")), "nan"),
    ("continual", "GPM end_task(inf batch)", _end_task("gpm", float("inf")), "inf"),
    ("continual", "EWC end_task(NaN batch)", _end_task("ewc", float("nan")), "nan"),
    ("continual", "make_strategy(orthonormalise='banana')", lambda: make_strategy(
        "hlop", _mlp(), orthonormalise="banana"), "orthonormalise"),
    ("continual", "make_strategy('sgd')", lambda: make_strategy("sgd", _mlp()), "name"),
    # torch layers
    ("layers", "SpikingLinear(5, -1)", lambda: SpikingLinear(5, -1), "out_features"),
    ("layers", "SpikingLinear(5, 2.5)", lambda: SpikingLinear(5, 2.5), "out_features"),
    ("layers", "SpikingLinear: 4 features for 5", lambda: SpikingLinear(5, 3, steps=2)(
        torch.rand(2, 4)), "features"),
    ("layers", "SpikingLinear: float64 input", lambda: SpikingLinear(5, 3, steps=2)(
        torch.rand(2, 5, dtype=torch.float64)), "float64"),
    ("layers", "SpikingLinear: input on another device", lambda: SpikingLinear(5, 3, steps=2)(
        torch.rand(2, 5, device="meta")), "device"),
    ("layers", "LIF(beta=1.5)", lambda: LIF(beta=1.5), "beta"),
    ("layers", "LIF(threshold=nan)", lambda: LIF(beta=0.9, threshold=float("nan")), "threshold"),
    ("layers", "SpikingConv2d(3, 4, kernel_size=0)", lambda: SpikingConv2d(3, 4, kernel_size=0),
     "kernel_size"),
    ("layers", "SpikingConv2d: image smaller than kernel", lambda: SpikingConv2d(
        1, 2, kernel_size=5, steps=2)(torch.rand(1, 1, 3, 3)), "kernel"),
    ("layers", "encoders.poisson(x > 1)", lambda: encoders.poisson(
        torch.full((2, 3), 2.0), steps=4), "x"),
    # datasets and run folders
    ("data and run folders", "read_idx(truncated)", lambda: _read_damaged_idx(), "truncated"),
    ("data and run folders", "load_spikes(truncated .npz)", lambda: _load_truncated_spikes(),
     "spikes"),
    ("data and run folders", "prepare_run_dir('')", lambda: ss.runs.prepare_run_dir(
        "", job="simulate", config={}), "--out"),
    ("data and run folders", "load_mnist(missing folder)", lambda: ss.datasets.load_mnist(
        "/nonexistent/mnist"), "mnist"),
]  # fmt: skip


def _read_damaged_idx() -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t10k-labels-idx1-ubyte"
        path.write_bytes(_idx_header((100,)) + bytes(10))
        return ss.datasets.read_idx(path)


def _load_truncated_spikes() -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spikes.npz"
        buffer = io.BytesIO()
        np.savez(buffer, times_ms=np.arange(1000.0), indices=np.zeros(1000, np.int32))
        path.write_bytes(buffer.getvalue()[:200])
        return ss.runs.load_spikes(path)


def run_api_case(area: str, case: str, call: Callable[[], Any], word: str) -> dict[str, Any]:
    """Call one API case; handled when it raises our error types naming ``word``."""
    try:
        _quiet(call)
    except OUR_ERRORS as error:
        message = " ".join(str(error).split())
        handled = word.lower() in message.lower()
        return {"area": area, "case": case, "handled": handled, "message": message[:300]}
    except Exception as error:  # noqa: BLE001 - a raw exception is what this counts
        return {"area": area, "case": case, "handled": False,
                "message": f"{type(error).__name__}: {error}"[:300]}  # fmt: skip
    return {"area": area, "case": case, "handled": False, "message": "accepted"}


def run_catalogue(workdir: Path) -> list[dict[str, Any]]:
    """Every case, CLI then API; returns one outcome per case."""
    files, tmp = workdir / "files", workdir / "tmp"
    files.mkdir(parents=True)
    tmp.mkdir(parents=True)
    make_damaged_files(files)
    rows = [
        row
        for command, cases in CLI_CASES.items()
        for argv in cases
        if (row := run_cli_case(command, argv, tmp, files)) is not None
    ]
    rows += [run_api_case(*case) for case in API_CASES]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    areas: dict[str, list[int]] = {}
    for row in rows:
        counts = areas.setdefault(row["area"], [0, 0])
        counts[0 if row["handled"] else 1] += 1
    lines = ["| command or API area | bad inputs tried | handled | mishandled |",
             "|:---|---:|---:|---:|"]  # fmt: skip
    for area, (good, bad) in areas.items():
        lines.append(f"| {area} | {good + bad} | {good} | {bad} |")
    good = sum(1 for row in rows if row["handled"])
    lines.append(f"| **all** | **{len(rows)}** | **{good}** | **{len(rows) - good}** |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bad-inputs", help="run folder")
    args = parser.parse_args(argv)
    out = make_run_dir(args.out)
    with tempfile.TemporaryDirectory() as workdir:
        rows = run_catalogue(Path(workdir))
    write_json(out / "config.json", {"experiment": "bad_inputs", "cases": len(rows)})
    write_json(out / "metrics.json", {"rows": rows})
    text = table(rows)
    ss.runs.atomic_write_bytes(out / "bad_inputs.md", text.encode())
    print(text)
    for row in rows:
        if not row["handled"]:
            print(f"MISHANDLED {row['area']}: {row['case']} -> {row['message']}")
    return 0 if all(row["handled"] for row in rows) else 1


if __name__ == "__main__":
    run_script(main, "bad_inputs.py")
