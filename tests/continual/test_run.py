"""The continual-learning runner: every method end to end on digits, exact resume, run folders,
the spiking networks, and the figures drawn from saved results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikesub.continual.figures import plot_comparison, plot_continual
from spikesub.continual.networks import snntorch_mlp, spiking_mlp
from spikesub.continual.run import (
    METHODS,
    ContinualConfig,
    TrainingDivergedError,
    _param_groups,
    _raise_if_diverged,
    _scheduled_lr,
    load_checkpoint,
    summarize_runs,
)
from spikesub.continual.run import (
    run as run_continual,
)
from spikesub.continual.strategies import HLOP
from spikesub.models.errors import RunFolderError
from spikesub.runs import load_npz, read_json, write_json


def tiny(method, **kwargs):
    """A quick digits config: 2 tasks, 200 samples each, 2 epochs."""
    base = dict(method=method, benchmark="digits", quick=True, n_tasks=2, max_train=200, epochs=2)
    base.update(kwargs)
    return ContinualConfig(**base)


# ---------------------------------------------------------------------------------------------
# networks


def test_spiking_mlp_shapes_no_bias_and_seed():
    model = spiking_mlp((20, 16, 12, 5), steps=3, seed=4)
    x = torch.rand(7, 20)
    out = model(x)
    assert out.shape == (7, 5)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 and all(m.bias is None for m in linears)
    again = spiking_mlp((20, 16, 12, 5), steps=3, seed=4)
    assert torch.equal(again(x), out)
    out.sum().backward()
    assert model.hidden[0].linear.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(7, 19))
    with pytest.raises(ValueError, match="steps"):
        spiking_mlp((4, 3), steps=0)


def test_spiking_mlp_logits_are_readout_of_spike_rate():
    model = spiking_mlp((6, 8, 3), steps=5, seed=0)
    x = torch.rand(4, 6) * 3
    spikes = model.hidden[0](x)  # (T, B, 8)
    assert spikes.shape == (5, 4, 8)
    expected = torch.stack([model.readout(s) for s in spikes]).mean(0)
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_snntorch_mlp_shapes_and_gradients():
    model = snntorch_mlp((10, 8, 4), steps=3, seed=0)
    out = model(torch.rand(5, 10) * 2)
    assert out.shape == (5, 4)
    out.sum().backward()
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert model.linears[0].weight.grad is not None


# ---------------------------------------------------------------------------------------------
# config


def test_config_defaults_round_trip_and_errors():
    config = ContinualConfig(method="hlop", benchmark="pmnist", data_dir="data")
    assert config.hidden == (800, 800) and config.steps == 20
    assert config.hlop_threshold is not None and config.ewc_lambda is None
    assert ContinualConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    quick = ContinualConfig(method="ewc", quick=True)
    assert quick.max_train is not None and quick.ewc_lambda is not None
    assert quick.strategy_kwargs() == {"lam": quick.ewc_lambda}
    assert ContinualConfig(method="gpm", seed=3).strategy_kwargs()["seed"] == 3
    # HLOP records 4000 examples' activity per task by default (a quick run's at most 600
    # training samples per task: all of them); the strategy's own default is the one place
    assert config.strategy_kwargs()["record_examples"] == 4000
    assert HLOP.option_defaults["record_examples"] == 4000
    assert ContinualConfig(quick=True).strategy_kwargs()["record_examples"] == 4000
    assert ContinualConfig(hlop_record=50).strategy_kwargs()["record_examples"] == 50
    with pytest.raises(ValueError, match="hlop_record"):
        ContinualConfig(hlop_record=0)
    diff = ContinualConfig(lr=0.1).differences(ContinualConfig(lr=0.05, seed=2))
    assert diff == ["seed: 0 != 2", "lr: 0.1 != 0.05"]
    with pytest.raises(ValueError, match="method must be one of"):
        ContinualConfig(method="sgd")
    with pytest.raises(ValueError, match="ewc_lambda is an option of method ewc"):
        ContinualConfig(method="hlop", ewc_lambda=5.0)
    with pytest.raises(ValueError, match="lr must be"):
        ContinualConfig(lr=-1.0)
    with pytest.raises(ValueError, match="unknown continual setting"):
        ContinualConfig.from_dict({"method": "gpm", "colour": 1})
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        ContinualConfig(lr_schedule="step")
    # a config saved before lr_schedule existed reads back with the constant schedule
    old = {k: v for k, v in config.to_dict().items() if k != "lr_schedule"}
    assert ContinualConfig.from_dict(old) == config and config.lr_schedule == "constant"


def test_hlop_defaults_are_per_layer_thresholds_on_presynaptic_traces():
    deep = ContinualConfig(method="hlop", benchmark="pmnist", data_dir="data")
    first, hidden, readout = deep.hlop_threshold
    assert readout < first and readout < hidden
    shallow = ContinualConfig(method="hlop", benchmark="pmnist", data_dir="data", hidden=(100,))
    assert shallow.hlop_threshold == [first, readout]
    deeper = ContinualConfig(method="hlop", benchmark="digits", hidden=(50, 40, 30))
    assert deeper.hlop_threshold == [first, hidden, hidden, readout]
    # a value given is kept as it is; quick runs keep their single threshold
    assert ContinualConfig(method="hlop", hlop_threshold=0.9).hlop_threshold == 0.9
    assert isinstance(ContinualConfig(method="hlop", quick=True).hlop_threshold, float)
    # what the strategy receives: the thresholds and the LIF decay for the traces
    kwargs = deep.strategy_kwargs()
    assert kwargs["energy_threshold"] == deep.hlop_threshold and deep.hlop_activity == "trace"
    assert kwargs["trace_decay"] == deep.beta
    spikes = ContinualConfig(method="hlop", hlop_activity="spikes").strategy_kwargs()
    assert spikes["trace_decay"] is None
    gpm = ContinualConfig(method="gpm")
    assert gpm.gpm_activity == "spikes" and gpm.strategy_kwargs()["trace_decay"] is None
    with pytest.raises(ValueError, match="hlop_activity must be one of"):
        ContinualConfig(method="hlop", hlop_activity="rates")
    with pytest.raises(ValueError, match="gpm_activity is an option of method gpm"):
        ContinualConfig(method="hlop", gpm_activity="trace")


def test_hlop_records_traces_of_the_hidden_spikes(tmp_path):
    """The second layer's Gram matrix is that of the traces of the first layer's spikes."""
    config = tiny("hlop", hidden=(32, 32), steps=10, n_tasks=1, epochs=1)
    run_continual(config, tmp_path / "r", progress=False)
    state = load_checkpoint(tmp_path / "r")
    assert state["strategy"]["options"]["trace_decay"] == config.beta
    spikes = tiny("hlop", hidden=(32, 32), steps=10, n_tasks=1, epochs=1, hlop_activity="spikes")
    run_continual(spikes, tmp_path / "s", progress=False)
    k_trace = read_json(tmp_path / "r" / "metrics.json")["strategy"]["subspace_dims"]
    k_spikes = read_json(tmp_path / "s" / "metrics.json")["strategy"]["subspace_dims"]
    # same first layer (static input) and readout (spike rates); the traces are smoother
    # than single steps' spikes, so the same energy fits in fewer directions
    assert k_trace["hidden.0.linear"] == k_spikes["hidden.0.linear"]
    assert k_trace["readout"] == k_spikes["readout"]
    assert k_trace["hidden.1.linear"] < k_spikes["hidden.1.linear"]


def test_input_lr_scale_slows_only_the_input_layer_after_the_first_task(tmp_path):
    with pytest.raises(ValueError, match="input_lr_scale must be"):
        ContinualConfig(input_lr_scale=-0.5)
    model = spiking_mlp((20, 16, 12, 5), steps=3, seed=0)
    groups = _param_groups(model, 0.25)
    assert [g["lr_scale"] for g in groups] == [1.0, 0.25]
    assert groups[1]["params"] == [model.hidden[0].linear.weight]
    assert len(groups[0]["params"]) == 2
    # scale 0: the input layer learns the first task, then stays where it is
    run_continual(
        tiny("finetune", input_lr_scale=0.0), tmp_path / "r", progress=False, stop_after=1
    )
    first = load_checkpoint(tmp_path / "r")["model"]
    run_continual(tiny("finetune", input_lr_scale=0.0), tmp_path / "r", resume=True, progress=False)
    last = load_checkpoint(tmp_path / "r")["model"]
    assert torch.equal(first["hidden.0.linear.weight"], last["hidden.0.linear.weight"])
    assert not torch.equal(first["readout.weight"], last["readout.weight"])


def test_cosine_schedule_falls_from_lr_towards_zero_within_a_task():
    config = ContinualConfig(lr=0.1, lr_schedule="cosine")
    rates = [_scheduled_lr(config, 0, step, 10, 5) for step in range(10)]
    assert rates[0] == pytest.approx(0.1)
    assert rates[5] == pytest.approx(0.05)
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False)) and rates[-1] > 0
    constant = ContinualConfig(lr=0.1)
    assert {_scheduled_lr(constant, 0, step, 10, 5) for step in range(10)} == {0.1}


def test_warmup_ramps_up_then_decays_and_later_tasks_take_lr_continual():
    config = ContinualConfig(lr=0.1, lr_continual=0.01, lr_schedule="cosine", warmup_epochs=1)
    # 4 steps per epoch, 12 in the task: 0.025, 0.05, 0.075, 0.1, then cosine over 8 steps
    rates = [_scheduled_lr(config, 0, step, 12, 4) for step in range(12)]
    assert rates[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert rates[4] == pytest.approx(0.1) and rates[8] == pytest.approx(0.05)
    later = [_scheduled_lr(config, 3, step, 12, 4) for step in range(12)]
    assert later == pytest.approx([r / 10 for r in rates])


def test_cosine_schedule_trains_and_differs_from_constant(tmp_path):
    cosine = run_continual(tiny("finetune", lr_schedule="cosine"), tmp_path / "c", progress=False)
    constant = run_continual(tiny("finetune"), tmp_path / "k", progress=False)
    R = load_npz(tmp_path / "c" / "accuracy.npz")["R"]
    assert np.diag(R).min() > 0.3  # each task learnt with the decaying rate
    assert cosine["ACC"] != constant["ACC"]


# ---------------------------------------------------------------------------------------------
# end to end


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_and_writes_the_run_folder(tmp_path, method):
    config = tiny(method)
    result = run_continual(config, tmp_path / "run", progress=False)
    run_dir = tmp_path / "run"
    for name in ("config.json", "checkpoint.pt", "accuracy.npz", "metrics.json"):
        assert (run_dir / name).is_file()
    saved = read_json(run_dir / "config.json")
    assert saved["experiment"] == "continual" and saved["method"] == method
    R = load_npz(run_dir / "accuracy.npz")["R"]
    assert R.shape == (2, 2)
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["finished"] and metrics["ACC"] == pytest.approx(R[-1].mean())
    assert result["ACC"] == pytest.approx(metrics["ACC"])
    chance = 0.1
    if method == "multitask":
        assert np.isnan(R[0]).all() and np.isfinite(R[1]).all()
        assert metrics["BWT"] is None  # NaN is written as null
        assert R[1].min() > 2 * chance
    else:
        assert np.isfinite(R).all()
        assert np.diag(R).min() > 3 * chance  # each task learnt
        assert metrics["BWT"] == pytest.approx(R[1, 0] - R[0, 0])
        assert len(metrics["train_s"]) == 2 and min(metrics["train_s"]) > 0
    if method in ("hlop", "gpm"):
        dims = metrics["strategy"]["subspace_dims"]
        assert all(k > 0 for k in dims.values())
    paths = plot_continual(run_dir)
    names = [p.name for p in paths]
    assert names[:2] == ["accuracy_matrix.png", "task_accuracy.png"]
    assert ("subspace_angles.png" in names) == (method == "hlop")
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.slow
def test_projection_methods_forget_less_than_finetuning(tmp_path):
    # splitdigits, 3 tasks: what each method keeps of task 0 after tasks 1 and 2
    drops = {}
    for method in ("finetune", "gpm"):
        config = tiny(method, benchmark="splitdigits", n_tasks=3, epochs=2, max_train=200)
        run_continual(config, tmp_path / method, progress=False)
        R = load_npz(tmp_path / method / "accuracy.npz")["R"]
        drops[method] = R[0, 0] - R[2, 0]
    assert drops["gpm"] < drops["finetune"] + 0.02
    assert drops["gpm"] < 0.1


@pytest.mark.slow
def test_resume_repeats_the_uninterrupted_run_exactly(tmp_path):
    config = tiny("hlop", n_tasks=3, max_train=100, epochs=1)
    run_continual(config, tmp_path / "full", progress=False)
    partial = run_continual(config, tmp_path / "split", progress=False, stop_after=2)
    assert partial["tasks_done"] == 2 and not partial["finished"]
    R_partial = load_npz(tmp_path / "split" / "accuracy.npz")["R"]
    assert np.isfinite(R_partial[:2]).all() and np.isnan(R_partial[2]).all()
    resumed = run_continual(config, tmp_path / "split", resume=True, progress=False)
    assert resumed["finished"] and resumed["tasks_done"] == 3
    R_full = load_npz(tmp_path / "full" / "accuracy.npz")["R"]
    R_resumed = load_npz(tmp_path / "split" / "accuracy.npz")["R"]
    assert np.array_equal(R_full, R_resumed)
    full, split = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "split")
    for name, tensor in full["model"].items():
        assert torch.equal(tensor, split["model"][name]), name
    for a, b in zip(full["strategy"]["subspaces"], split["strategy"]["subspaces"], strict=True):
        assert torch.equal(a["H_old"], b["H_old"])
    # resuming a finished run changes nothing
    again = run_continual(config, tmp_path / "split", resume=True, progress=False)
    assert again["ACC"] == resumed["ACC"]


def test_resume_keeps_the_strategy_options_it_started_with(tmp_path, monkeypatch):
    from spikesub.continual.strategies import GPM

    config = tiny("gpm", max_train=100, epochs=1)
    run_continual(config, tmp_path, progress=False, stop_after=1)
    started = read_json(tmp_path / "metrics.json")["strategy"]["options"]
    changed = {**GPM.option_defaults, "samples": started["samples"] + 7}
    monkeypatch.setattr(GPM, "option_defaults", changed)
    result = run_continual(config, tmp_path, resume=True, progress=False)
    assert result["finished"] and result["strategy"]["options"] == started


def test_resume_refuses_a_different_config_naming_each_field(tmp_path):
    run_continual(tiny("finetune", n_tasks=1), tmp_path, progress=False)
    changed = tiny("finetune", n_tasks=1, lr=0.05, seed=4)
    expected = r"resume: the settings differ \(given != saved\): lr: 0.05 != 0.1; seed: 4 != 0"
    with pytest.raises(ValueError, match=expected):
        run_continual(changed, tmp_path, resume=True, progress=False)


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    run_continual(tiny("finetune", n_tasks=1), tmp_path / "a", progress=False)
    with pytest.raises(RunFolderError, match="already holds this continual run; pass --resume"):
        run_continual(tiny("finetune", n_tasks=1), tmp_path / "a", progress=False)
    with pytest.raises(RunFolderError, match="nothing to resume"):
        run_continual(tiny("finetune"), tmp_path / "b", resume=True, progress=False)


def test_divergence_is_reported_with_task_and_remedy():
    model = spiking_mlp((4, 3, 2), steps=2, seed=0)
    config = ContinualConfig(method="ewc", quick=True)
    error = ValueError("x contains non-finite values (NaN or inf); all must be finite")
    with pytest.raises(TrainingDivergedError, match=r"task 2, epoch 1: the network's x contains"):
        _raise_if_diverged(model, config, 2, 0, error)
    with torch.no_grad():
        model.readout.weight[0, 0] = float("nan")
    with pytest.raises(
        TrainingDivergedError, match=r"weights readout.weight became non-finite; lower lr .* or ewc"
    ):
        _raise_if_diverged(model, config, 1, 3, "loss is nan")
    model = spiking_mlp((4, 3, 2), steps=2, seed=0)
    _raise_if_diverged(model, config, 0, 0, ValueError("unrelated"))  # not a divergence


def test_seed_changes_the_run_and_validation_mode_is_recorded(tmp_path):
    a = run_continual(tiny("finetune", n_tasks=1), tmp_path / "a", progress=False)
    b = run_continual(tiny("finetune", n_tasks=1, seed=1), tmp_path / "b", progress=False)
    assert a["final_row"] != b["final_row"] or a["ACC"] != b["ACC"]
    v = run_continual(tiny("finetune", n_tasks=1, validation=0.2), tmp_path / "v", progress=False)
    assert a["evaluated_on"] == "test" and v["evaluated_on"] == "validation"


@pytest.mark.slow
def test_strategies_run_on_an_snntorch_model_through_the_runner(tmp_path):
    config = tiny("hlop", network="snntorch", max_train=150, epochs=2)
    result = run_continual(config, tmp_path, progress=False)
    strategy = result["strategy"]
    assert strategy["layers"] == ["linears.0", "readout"]
    assert all(k > 0 for k in strategy["subspace_dims"].values())
    R = load_npz(tmp_path / "accuracy.npz")["R"]
    assert np.isfinite(R).all() and R[0, 0] > 0.3 and R[1, 1] > 0.3


# ---------------------------------------------------------------------------------------------
# summaries


def test_summarize_runs_and_comparison_figure(tmp_path):
    dirs = []
    for method, seed, acc_value, bwt_value in [
        ("hlop", 0, 0.9, -0.01),
        ("hlop", 1, 0.8, -0.03),
        ("finetune", 0, 0.5, -0.4),
    ]:
        run_dir = tmp_path / f"{method}-{seed}"
        run_dir.mkdir()
        write_json(
            run_dir / "metrics.json",
            {
                "experiment": "continual",
                "finished": True,
                "method": method,
                "benchmark": "digits",
                "seed": seed,
                "ACC": acc_value,
                "BWT": bwt_value,
                "train_s": [1.0, 2.0],
                "end_task_s": [0.5, 0.5],
                "total_train_s": 4.0,
                "overhead_ratio": [1.2, 1.4],
            },
        )
        dirs.append(run_dir)
    unfinished = tmp_path / "gpm-0"
    unfinished.mkdir()
    write_json(unfinished / "metrics.json", {"experiment": "continual", "finished": False})
    summary = summarize_runs([*dirs, unfinished, tmp_path / "missing"])
    assert summary["order"] == ["hlop", "finetune"]
    hlop = summary["methods"]["hlop"]
    assert hlop["ACC_mean"] == pytest.approx(0.85)
    assert hlop["ACC_std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert hlop["BWT_mean"] == pytest.approx(-0.02)
    assert hlop["train_s"] == [3.0, 3.0]
    assert hlop["overhead_ratio_mean"] == pytest.approx(1.3)
    assert summary["methods"]["finetune"]["ACC_std"] == 0.0
    write_json(tmp_path / "summary.json", summary)
    (path,) = plot_comparison(tmp_path)
    assert path.name == "comparison.png" and path.stat().st_size > 1000
