"""Continual learning refuses non-finite and empty data with our errors, naming the argument,
task, layer and first bad index, before any linear algebra; and the Hebbian weights never
turn NaN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spikesub.continual import cli
from spikesub.continual.strategies import make_strategy
from spikesub.continual.subspace import HebbianSubspace, SubspaceDivergedError
from spikesub.continual.tasks import Task, make_benchmark
from spikesub.datasets import MNIST_FILES, write_idx
from spikesub.models.errors import MemoryBudgetError
from spikesub.models.memory import memory_budget

pytestmark = pytest.mark.usefixtures("one_thread")

N = 6


def _subspace(**options) -> HebbianSubspace:
    sub = HebbianSubspace(N, seed=3, **options)
    sub.add_neurons(2)
    return sub


def _rows(seed=0, b=16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((b, N), generator=g)


def _weights(sub):
    return sub.H_new.clone(), sub.velocity.clone()


# -- HebbianSubspace --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_update_and_learn_refuse_non_finite_rows_and_keep_the_weights(bad):
    sub = _subspace()
    sub.update(_rows())
    before = _weights(sub)
    x = _rows(1)
    x[4, 2] = bad
    with pytest.raises(ValueError, match=rf"x\[4, 2\] is {bad!r}"):
        sub.update(x)
    with pytest.raises(ValueError, match=rf"batches\[1\]\[4, 2\] is {bad!r}"):
        sub.learn([_rows(2), x], epochs=2)
    with pytest.raises(ValueError, match=r"x\[4, 2\]"):
        sub.choose_k(x)
    gram = torch.eye(N, dtype=torch.float64)
    gram[0, 1] = bad
    with pytest.raises(ValueError, match=r"gram\[0, 1\]"):
        sub.choose_k(gram=gram)
    for after, saved in zip(_weights(sub), before, strict=True):
        assert torch.equal(after, saved)


@pytest.mark.parametrize("mode", ["rate", "spiking"])
@pytest.mark.parametrize("rule", ["oja", "gha"])
@pytest.mark.parametrize("scale", [1e30, 1e37, 1e-30])
def test_extreme_finite_activity_keeps_the_weights_finite_and_learning(mode, rule, scale):
    sub = _subspace(mode=mode, rule=rule, momentum=0.5, max_norm=None)
    start = sub.H_new.clone()
    x = _rows() * scale
    assert torch.isfinite(x).all()
    sub.update(x)
    sub.learn([x, _rows(1) * scale], epochs=3)
    assert torch.isfinite(sub.H_new).all() and torch.isfinite(sub.velocity).all()
    assert not torch.equal(sub.H_new, start)  # the batches were learnt from, not skipped


def test_rescaling_does_not_change_what_is_learnt():
    """The rule is invariant to the scale of the activity: a batch a power of two larger
    gives the same weights."""
    a, b = _subspace(momentum=0.0), _subspace(momentum=0.0)
    x = _rows()
    a.update(x)
    b.update(x * 2.0**100)
    torch.testing.assert_close(a.H_new, b.H_new)


def test_float64_activity_beyond_float32_range_is_learnt_and_refused_for_outputs():
    sub = _subspace()
    x = _rows().double() * 1e300
    sub.update(x)
    assert torch.isfinite(sub.H_new).all()
    with pytest.raises(ValueError, match="x has values too large for torch.float32"):
        sub.lateral_output(x)
    assert sub.choose_k(x) >= 1
    sub.update(torch.full((3, N), 5e-324, dtype=torch.float64))  # subnormal
    assert torch.isfinite(sub.H_new).all()


def test_learn_refuses_empty_or_mistyped_batch_lists():
    sub = _subspace()
    with pytest.raises(ValueError, match="batches is empty"):
        sub.learn([])
    with pytest.raises(TypeError, match="batches must be a list"):
        sub.learn(_rows())
    with pytest.raises(TypeError, match=r"batches\[0\] must be a torch.Tensor"):
        sub.learn([np.zeros((2, N))])
    with pytest.raises(ValueError, match=r"batches\[0\] must have shape \(B, 6\)"):
        sub.learn([torch.zeros(2, N + 1)])


def test_a_diverging_update_restores_the_weights(monkeypatch):
    sub = _subspace()
    sub.update(_rows())
    before = (*_weights(sub), sub.n_updates)

    def poison(*args, **kwargs):
        sub.H_new = torch.full_like(sub.H_new, float("nan"))
        sub.n_updates += 1

    monkeypatch.setattr(sub, "_iterate", poison)
    with pytest.raises(SubspaceDivergedError, match="restored"):
        sub.update(_rows(1))
    assert torch.equal(sub.H_new, before[0]) and torch.equal(sub.velocity, before[1])
    assert sub.n_updates == before[2]


def test_subspace_sizes_over_the_memory_budget_are_refused():
    sub = HebbianSubspace(10**6)
    with memory_budget("1M"):
        with pytest.raises(MemoryBudgetError, match=r"add_neurons\(k=10\)"):
            sub.add_neurons(10)
        with pytest.raises(MemoryBudgetError, match="choose_k for n_inputs = 1,000,000"):
            sub.choose_k(gram=torch.zeros(1, 1))
    assert sub.k == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_iters": 1.0}, TypeError, "n_iters must be an integer"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"rule": None}, TypeError, "rule must be a string"),
        ({"seed": -1}, ValueError, "seed must be an integer"),
        ({"seed": 2.5}, TypeError, "seed must be an integer"),
    ],
)
def test_subspace_constructor_refuses_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        HebbianSubspace(N, **kwargs)


# -- strategies' end_task ---------------------------------------------------------------------


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(N, 8), nn.ReLU(), nn.Linear(8, 3))


def _batches(n=3, b=8):
    g = torch.Generator().manual_seed(5)
    return [
        (torch.rand((b, N), generator=g), torch.randint(0, 3, (b,), generator=g)) for _ in range(n)
    ]


def _strategy_state(strategy) -> list[torch.Tensor]:
    state = strategy.state_dict()
    tensors = [state.get("bases", []), state.get("fisher", {}), state.get("subspaces", [])]
    flat = []
    for part in tensors:
        values = part.values() if isinstance(part, dict) else part
        for v in values:
            flat.extend(v.values() if isinstance(v, dict) else [v])
    return [t.clone() for t in flat if isinstance(t, torch.Tensor)]


METHODS = ["gpm", "hlop", "ewc"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_end_task_refuses_a_non_finite_batch_naming_task_and_batch(method, bad):
    model = _model()
    strategy = make_strategy(method, model)
    strategy.begin_task(0)
    strategy.end_task(0, _batches(), model, nn.functional.cross_entropy)
    strategy.begin_task(1)
    before = _strategy_state(strategy)
    batches = _batches()
    batches[2][0][5, 1] = bad
    with pytest.raises(
        ValueError, match=rf"batches\[2\]\[0\]\[5, 1\] is {bad!r} \(the inputs of task 1\)"
    ):
        strategy.end_task(1, batches, model, nn.functional.cross_entropy)
    assert strategy.tasks_done == 1
    after = _strategy_state(strategy)
    assert len(after) == len(before)
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))


@pytest.mark.parametrize("method", METHODS)
def test_end_task_names_the_layer_whose_activity_overflows(method):
    model = _model()
    with torch.no_grad():
        model[0].weight.fill_(1e30)
    strategy = make_strategy(method, model)
    strategy.begin_task(0)
    match = "layer '2' in task 0" if method != "ewc" else r"fisher\['\d.weight'\].*task 0"
    with pytest.raises(ValueError, match=match):
        strategy.end_task(0, _batches(), model, nn.functional.cross_entropy)
    assert strategy.tasks_done == 0


@pytest.mark.parametrize("method", [*METHODS, "finetune"])
def test_end_task_refuses_empty_and_mistyped_batches(method):
    model = _model()
    strategy = make_strategy(method, model)
    loss = nn.functional.cross_entropy
    with pytest.raises(ValueError, match="batches of task 0 is empty"):
        strategy.end_task(0, [], model, loss)
    with pytest.raises(TypeError, match=r"batches \(task 0\) must be an iterable of \(x, y\)"):
        strategy.end_task(0, torch.zeros(3, N), model, loss)
    with pytest.raises(ValueError, match=r"task_id must be an integer in \[0, "):
        strategy.end_task(-1, _batches(), model, loss)
    if method != "finetune":  # the others read the batches
        with pytest.raises(ValueError, match="batches of task 0 gave no examples"):
            strategy.end_task(0, iter([]), model, loss)
        with pytest.raises(TypeError, match=r"batches\[0\] \(task 0\) must be an \(x, y\) pair"):
            strategy.end_task(0, [torch.zeros(2, N)], model, loss)
    assert strategy.tasks_done == 0


def test_ewc_keeps_the_gradients_when_it_refuses_a_batch():
    model = _model()
    strategy = make_strategy("ewc", model)
    x, y = _batches(1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    batches = _batches()
    batches[1][0][0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"batches\[1\]\[0\]\[0, 0\]"):
        strategy.end_task(0, batches, model, nn.functional.cross_entropy)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        strategy.end_task(0, _batches(), model, None)


# -- tasks ------------------------------------------------------------------------------------


def _write_mnist(folder, drop_train_class=None, n_train=60, n_test=20):
    """The four MNIST files of random digits; ``drop_train_class`` is relabelled away from
    the training set (so the data set has no training sample of it)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y_train = np.arange(n_train) % 10
    if drop_train_class is not None:
        y_train[y_train == drop_train_class] = (drop_train_class + 2) % 10
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": y_train.astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for role, stem in MNIST_FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[role])


def test_split_mnist_without_a_class_names_the_task_and_class(tmp_path):
    _write_mnist(tmp_path / "mnist", drop_train_class=3)
    with pytest.raises(ValueError, match=r"task splitmnist-23 has no training samples of class 3"):
        make_benchmark("splitmnist", data_dir=tmp_path / "mnist")
    assert len(make_benchmark("splitmnist", data_dir=tmp_path / "mnist", n_tasks=1)) == 1


def test_the_cli_turns_a_missing_class_into_one_line_and_exit_2(tmp_path, capsys):
    _write_mnist(tmp_path / "mnist", drop_train_class=8)
    out = tmp_path / "run"
    args = ["--benchmark", "splitmnist", "--data-dir", str(tmp_path / "mnist"), "--out", str(out)]
    status = cli.main([*args, "--quick", "--quiet", "--no-plots"])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "task splitmnist-89 has no training samples of class 8" in lines[0]
    assert not (out / "metrics.json").exists()


def test_a_task_without_training_or_test_samples_is_refused():
    x, y = np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1])
    empty_x, empty_y = np.zeros((0, 3), np.float32), np.zeros(0, np.int64)
    with pytest.raises(ValueError, match=r"task t has no training samples \(classes \(0, 1\)\)"):
        Task("t", empty_x, empty_y, x, y, (0, 1))
    with pytest.raises(ValueError, match="task t has no test samples"):
        Task("t", x, y, empty_x, empty_y, (0, 1))
    with pytest.raises(ValueError, match=r"task t: y_train\[1\] is 1, not one of .* \(0,\)"):
        Task("t", x, y, x, y, (0,))
    with pytest.raises(ValueError, match="x_train must be"):
        Task("t", x[:3], y, x, y, (0, 1))
