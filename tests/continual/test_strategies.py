"""Strategies on a tiny two-task problem: projection keeps task 1, fine-tuning forgets it."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from spikesub.continual.strategies import (
    EWC,
    GPM,
    HLOP,
    STRATEGIES,
    FineTune,
    Strategy,
    make_strategy,
)
from spikesub.models.snn import SpikingConv2d, SpikingLinear

pytestmark = pytest.mark.usefixtures("one_thread")


D_IN, HIDDEN, CLASSES, STEPS = 24, 128, 4, 4


class TinySNN(nn.Module):
    """Two spiking layers and a rate readout (logits = mean over steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = SpikingLinear(D_IN, HIDDEN, bias=False, steps=STEPS, beta=0.5)
        self.l2 = SpikingLinear(HIDDEN, HIDDEN, bias=False, beta=0.5)
        self.out = nn.Linear(HIDDEN, CLASSES, bias=False)
        with torch.no_grad():  # enough drive for the second layer to spike
            self.l1.linear.weight.mul_(3.0)
            self.l2.linear.weight.mul_(3.0)

    def forward(self, x):
        return self.out(self.l2(self.l1(x))).mean(0)


class TinySnnTorch(nn.Module):
    """The same network written with snnTorch: Linear + Leaky called once per step."""

    def __init__(self) -> None:
        super().__init__()
        import snntorch

        self.fc1 = nn.Linear(D_IN, HIDDEN, bias=False)
        self.lif1 = snntorch.Leaky(beta=0.5)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.lif2 = snntorch.Leaky(beta=0.5)
        self.out = nn.Linear(HIDDEN, CLASSES, bias=False)
        with torch.no_grad():
            self.fc1.weight.mul_(3.0)
            self.fc2.weight.mul_(3.0)

    def forward(self, x):
        mem1 = torch.zeros(x.shape[0], HIDDEN)
        mem2 = torch.zeros(x.shape[0], HIDDEN)
        total = 0.0
        for _ in range(STEPS):
            s1, mem1 = self.lif1(self.fc1(x), mem1)
            s2, mem2 = self.lif2(self.fc2(s1), mem2)
            total = total + self.out(s2)
        return total / STEPS


def two_tasks(seed=0, n=384, k=6):
    """Task t: inputs in its own k-dimensional subspace (orthogonal to the other task's),
    label = sign of a random projection, classes {0, 1} for task 0 and {2, 3} for task 1
    (one shared head: forgetting shows as task-0 inputs classified as 2 or 3)."""
    g = torch.Generator().manual_seed(seed)
    rot, _ = torch.linalg.qr(torch.randn(D_IN, D_IN, generator=g))
    tasks = []
    for t in range(2):
        w = torch.randn(k, generator=g)
        z = torch.randn(2 * n, k, generator=g)
        x = 1.5 * z @ rot[:, t * k : (t + 1) * k].T
        y = (z @ w > 0).long() + 2 * t
        tasks.append((x[:n], y[:n], x[n:], y[n:]))
    return tasks


def batches_of(x, y, size=32):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def train_task(model, strategy, task_id, x, y, *, epochs, lr=0.2, seed=0, n_steps=None):
    loss_fn = nn.functional.cross_entropy
    strategy.begin_task(task_id)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(100 * seed + task_id)
    done = 0
    for epoch in range(epochs):
        strategy.begin_epoch(epoch, epochs)
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 32):
            if n_steps is not None and done >= n_steps:
                return
            idx = perm[i : i + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx]) + strategy.penalty()
            loss.backward()
            strategy.before_step()
            opt.step()
            done += 1


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def run_two_tasks(method, model_cls=TinySNN, epochs=8, **opts):
    torch.manual_seed(0)
    tasks = two_tasks()
    model = model_cls()
    strategy = make_strategy(method, model, **opts)
    accs = []
    for t, (xtr, ytr, _, _) in enumerate(tasks):
        train_task(model, strategy, t, xtr, ytr, epochs=epochs)
        strategy.end_task(t, batches_of(xtr, ytr), model, nn.functional.cross_entropy)
        accs.append([accuracy(model, xte, yte) for _, _, xte, yte in tasks])
    return accs, strategy


@pytest.fixture(scope="module")
def results():
    cache = {}

    def get(key, method, **opts):
        if key not in cache:
            cache[key] = run_two_tasks(method, **opts)
        return cache[key]

    return get


def test_finetune_forgets(results):
    accs, _ = results("finetune", "finetune")
    assert accs[0][0] > 0.9  # task 0 learned
    assert accs[1][1] > 0.9  # task 1 learned
    assert accs[1][0] < 0.3  # task 0 forgotten


@pytest.mark.parametrize(
    "key, method, opts",
    [
        ("gpm", "gpm", {}),
        ("hlop", "hlop", {"compare_with_gpm": True}),
        ("hlop-spiking-gha", "hlop", {"mode": "spiking", "rule": "gha", "spike_steps": 16}),
    ],
)
def test_projection_keeps_task_zero(results, key, method, opts):
    accs, strategy = results(key, method, **opts)
    assert accs[0][0] > 0.9
    assert accs[1][0] > accs[0][0] - 0.05  # drop below five points
    assert accs[1][1] > 0.8  # still learns the new task
    summary = strategy.summary()
    json.dumps(summary)
    dims = summary["subspace_dims"]
    assert list(dims) == ["l1.linear", "l2.linear", "out"]
    assert dims["l1.linear"] == 12  # the two tasks' 6-dim input subspaces


def test_hlop_subspace_close_to_gpm_basis(results):
    _, strategy = results("hlop", "hlop", compare_with_gpm=True)
    summary = strategy.summary()
    first = summary["history"][-1]["layers"]["l1.linear"]
    assert first["angle_max_deg"] < 5.0  # the input layer's subspace is found exactly
    for info in summary["history"][-1]["layers"].values():
        # the Hebbian subspace captures nearly the energy GPM's captures
        assert info["energy_after"] > info["gpm_energy_after"] - 0.05
    assert set(summary["principal_angles_deg"]) == {"l1.linear", "l2.linear", "out"}
    assert summary["hebbian_seconds"] > 0
    # the comparison is timed apart, so benchmarks can leave it out of HLOP's cost
    assert 0 < strategy.diagnostic_seconds < strategy.end_task_seconds[-1]


def test_hlop_records_the_last_training_epoch_or_makes_a_pass():
    torch.manual_seed(0)
    (xtr, ytr, _, _), _ = two_tasks()

    def no_forward(x):
        raise AssertionError("the rows were recorded during training: no pass needed")

    model = TinySNN()
    strategy = HLOP(model, energy_threshold=0.9, record="training")
    train_task(model, strategy, 0, xtr, ytr, epochs=2)
    assert strategy.pop_hook_seconds() > 0  # the hooks' time, for the benchmark
    assert strategy.pop_hook_seconds() == 0
    strategy.end_task(0, batches_of(xtr, ytr), no_forward, None)
    assert all(k > 0 for k in strategy.summary()["subspace_dims"].values())
    assert not any(tap.started for tap in strategy.taps)

    passes = []

    def forward(x):
        passes.append(x.shape[0])
        return model(x)

    for record, expected in (("pass", len(xtr)), ("training", len(xtr))):
        model = TinySNN()
        strategy = HLOP(model, energy_threshold=0.9, record=record)
        # record="pass", or a loop that never calls begin_epoch: one pass after training
        strategy.begin_task(0)
        passes.clear()
        strategy.end_task(0, batches_of(xtr, ytr), forward, None)
        assert sum(passes) == expected
    with pytest.raises(ValueError, match="record"):
        HLOP(TinySNN(), record="sometimes")
    with pytest.raises(ValueError, match="epoch"):
        strategy.begin_epoch(2, 2)


def test_hlop_record_examples_stops_the_pass_and_keeps_those_rows():
    torch.manual_seed(0)
    (xtr, ytr, _, _), _ = two_tasks()
    passes = []
    model = TinySNN()

    def forward(x):
        passes.append(x.shape[0])
        return model(x)

    batches = list(batches_of(xtr, ytr))
    size = batches[0][0].shape[0]
    # stops after the batch that completes the examples asked for (and the Gram's samples)
    strategy = HLOP(model, energy_threshold=0.9, samples=size, record_examples=size + 1)
    strategy.begin_task(0)
    grams, recorded = strategy._record(
        batches, forward, size, keep_rows=True, keep_examples=size + 1
    )
    assert passes == [size, size] and len(recorded) == 2
    passes.clear()
    strategy.end_task(0, batches, forward, None)
    assert sum(passes) == 2 * size < len(xtr)
    assert all(k > 0 for k in strategy.summary()["subspace_dims"].values())
    with pytest.raises(ValueError, match="record_examples"):
        HLOP(TinySNN(), record_examples=0)


def test_ewc_between(results):
    ft, _ = results("finetune", "finetune")
    accs, strategy = results("ewc", "ewc", lam=1000.0)
    assert accs[1][0] > ft[1][0] + 0.2
    assert accs[1][1] > 0.8
    json.dumps(strategy.summary())


def test_snntorch_model_protected():
    pytest.importorskip("snntorch")
    accs, strategy = run_two_tasks("gpm", model_cls=TinySnnTorch, epochs=6)
    assert strategy.layer_names == ["fc1", "fc2", "out"]
    assert accs[0][0] > 0.85
    assert accs[1][0] > accs[0][0] - 0.05
    ft, _ = run_two_tasks("finetune", model_cls=TinySnnTorch, epochs=6)
    assert ft[1][0] < 0.3


@pytest.mark.parametrize("method", ["gpm", "hlop"])
def test_full_threshold_keeps_old_outputs_of_a_conv_net(method):
    torch.manual_seed(1)
    model = nn.Sequential(
        SpikingConv2d(1, 3, 3, steps=3, beta=0.5, threshold=0.5),
        nn.Flatten(start_dim=2),  # (T, B, 3 * 4 * 4)
        nn.Linear(48, 3, bias=False),
    )

    def forward(x):
        return model(x).mean(0)

    g = torch.Generator().manual_seed(0)
    x_old = torch.rand(12, 1, 6, 6, generator=g)
    opts = {"energy_threshold": 1.0}
    if method == "hlop":
        # a subspace fully converged for the test: orthonormalised projection, many iterations
        opts.update(orthonormalise=True, hebbian_epochs=30, n_iters=10, lr=0.5)
    strategy = make_strategy(method, model, **opts)
    assert strategy.layer_names == ["0.conv", "2"]
    strategy.begin_task(0)
    strategy.end_task(0, [(x_old, None)], forward, None)
    before = forward(x_old).detach()
    strategy.begin_task(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        forward(torch.rand(12, 1, 6, 6, generator=g)).pow(2).sum().backward()
        strategy.before_step()
        opt.step()
    tol = 1e-4 if method == "gpm" else 2e-2
    torch.testing.assert_close(forward(x_old).detach(), before, atol=tol, rtol=0)


@pytest.mark.parametrize("method", ["gpm", "hlop", "ewc", "finetune"])
def test_state_dict_round_trip_gives_identical_continued_training(method):
    opts = {"hlop": {"mode": "spiking", "momentum": 0.5}, "ewc": {"lam": 100.0}}.get(method, {})
    tasks = two_tasks(n=128)
    torch.manual_seed(0)
    model = TinySNN()
    strategy = make_strategy(method, model, **opts)
    (x0, y0, _, _), (x1, y1, _, _) = tasks
    loss_fn = nn.functional.cross_entropy
    train_task(model, strategy, 0, x0, y0, epochs=1)
    strategy.end_task(0, batches_of(x0, y0), model, loss_fn)
    saved_model = copy.deepcopy(model.state_dict())
    saved_strategy = copy.deepcopy(strategy.state_dict())

    def continue_training(m, s):
        train_task(m, s, 1, x1, y1, epochs=1, n_steps=3)
        s.end_task(1, batches_of(x1, y1), m, loss_fn)
        return m, s

    a_model, a_strategy = continue_training(model, strategy)
    torch.manual_seed(0)
    b_model = TinySNN()
    b_model.load_state_dict(saved_model)
    b_strategy = make_strategy(method, b_model, **opts)
    b_strategy.load_state_dict(saved_strategy)
    b_model, b_strategy = continue_training(b_model, b_strategy)
    for (name, pa), pb in zip(
        a_model.state_dict().items(), b_model.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    sa, sb = a_strategy.state_dict(), b_strategy.state_dict()
    if method == "hlop":
        for ua, ub in zip(sa["subspaces"], sb["subspaces"], strict=True):
            assert torch.equal(ua["H_old"], ub["H_old"])
    if method == "gpm":
        for ba, bb in zip(sa["bases"], sb["bases"], strict=True):
            assert torch.equal(ba, bb)
    if method == "ewc":
        for name in sa["fisher"]:
            assert torch.equal(sa["fisher"][name], sb["fisher"][name])


def test_biases_frozen_after_first_task():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    strategy = GPM(model)
    x = torch.randn(8, 2) @ torch.randn(2, 4)  # task 0 spans 2 of the 4 input dimensions
    strategy.begin_task(0)
    strategy.end_task(0, [(x, None)], model, None)
    strategy.begin_task(1)
    model(torch.randn(8, 4)).sum().backward()
    strategy.before_step()
    assert float(model[0].bias.grad.abs().max()) == 0.0
    assert float(model[0].weight.grad.abs().max()) > 0.0


def test_make_strategy_registry_and_errors():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert set(STRATEGIES) == {"finetune", "ewc", "gpm", "hlop"}
    assert isinstance(make_strategy("multitask", model), FineTune)
    assert isinstance(make_strategy("GPM", model), GPM)
    assert isinstance(make_strategy("hlop", model, k_per_task=2), HLOP)
    assert isinstance(make_strategy("ewc", model), EWC)
    assert isinstance(make_strategy("finetune", model), Strategy)
    assert float(make_strategy("finetune", model).penalty()) == 0.0
    with pytest.raises(ValueError, match="strategy name must be one of"):
        make_strategy("si", model)
    with pytest.raises(TypeError, match="unknown option.*thresold"):
        make_strategy("gpm", model, thresold=0.9)
    with pytest.raises(ValueError, match="energy_threshold must be"):
        make_strategy("gpm", model, energy_threshold=1.5)
    # the earlier names of the energy options are still taken, with a warning
    with pytest.warns(DeprecationWarning) as caught:
        old = make_strategy("gpm", model, threshold=0.9, threshold_increment=0.01)
    messages = sorted(str(w.message) for w in caught)
    assert messages == [
        "the strategy option 'threshold' is now 'energy_threshold'",
        "the strategy option 'threshold_increment' is now 'energy_threshold_increment'",
    ]
    assert old.options["energy_threshold"] == 0.9
    assert old.options["energy_threshold_increment"] == 0.01
    with pytest.raises(TypeError, match="not both"):
        make_strategy("gpm", model, threshold=0.9, energy_threshold=0.9)
    with pytest.raises(ValueError, match="lr_final"):
        make_strategy("hlop", model, lr_final=0.0)
    assert make_strategy("hlop", model, rule="gha").options["momentum"] == 0.0
    assert make_strategy("hlop", model).options["momentum"] == 0.9
    with pytest.raises(ValueError, match="k_per_task"):
        make_strategy("hlop", model, k_per_task=[1, 2, 3])
    with pytest.raises(TypeError, match=r"layers\[0\]"):
        make_strategy("gpm", model, layers=[model[1]])
    with pytest.raises(ValueError, match="not a submodule"):
        make_strategy("gpm", model, layers=[nn.Linear(4, 3)])
    only_last = make_strategy("gpm", model, layers=[model[2]])
    assert only_last.layer_names == ["2"]


def test_hlop_fixed_k_per_task():
    model = nn.Sequential(nn.Linear(6, 5, bias=False), nn.Linear(5, 2, bias=False))
    strategy = HLOP(model, k_per_task=[2, 1], hebbian_epochs=1)
    x = torch.randn(64, 6)
    for t in range(2):
        strategy.begin_task(t)
        strategy.end_task(t, batches_of(x, torch.zeros(64)), model, None)
    assert strategy.summary()["subspace_dims"] == {"0": 4, "1": 2}


def test_hlop_k_schedule_one_entry_per_task_the_last_repeating():
    model = nn.Sequential(nn.Linear(8, 5, bias=False), nn.Linear(5, 2, bias=False))
    strategy = HLOP(model, k_per_task=[[3, 2], [1, 0]], hebbian_epochs=1)
    x = torch.randn(64, 8)
    dims = []
    for t in range(3):
        strategy.begin_task(t)
        strategy.end_task(t, batches_of(x, torch.zeros(64)), model, None)
        dims.append(list(strategy.summary()["subspace_dims"].values()))
    assert dims == [[3, 2], [4, 2], [5, 2]]
    with pytest.raises(ValueError, match="entry 1 has 1 values"):
        HLOP(model, k_per_task=[[3, 2], [1]])
    with pytest.raises(TypeError, match="list of lists of integers"):
        make_strategy("hlop", model, k_per_task=[[3, 2.5]])


@pytest.mark.parametrize("method", ["gpm", "hlop"])
def test_threshold_per_layer(method):
    torch.manual_seed(0)
    (xtr, ytr, _, _), _ = two_tasks()
    model = TinySNN()
    strategy = make_strategy(
        method, model, energy_threshold=[0.5, 0.99, 0.9], energy_threshold_increment=0.01
    )
    strategy.begin_task(1)
    strategy.end_task(1, batches_of(xtr, ytr), model, None)
    history = strategy.summary()["history"][0]
    assert history["energy_threshold"] == pytest.approx([0.51, 1.0, 0.91])
    dims = list(strategy.summary()["subspace_dims"].values())
    assert dims[0] < 6  # half the energy of a 6-dimensional input needs fewer dimensions
    with pytest.raises(ValueError, match="one number per protected layer"):
        make_strategy(method, TinySNN(), energy_threshold=[0.9, 0.9])
    with pytest.raises(ValueError, match="threshold"):
        make_strategy(method, TinySNN(), energy_threshold=[0.9, 1.2, 0.9])


@pytest.mark.parametrize("method", ["gpm", "hlop"])
def test_activity_projection_equals_gradient_projection(method):
    torch.manual_seed(0)
    (x0, y0, _, _), (x1, y1, _, _) = two_tasks()
    grads = {}
    for activity in (True, False):
        torch.manual_seed(0)
        model = TinySNN()
        strategy = make_strategy(method, model, energy_threshold=0.95, activity_projection=activity)
        strategy.begin_task(0)
        strategy.end_task(0, batches_of(x0, y0), model, None)
        strategy.begin_task(1)
        model.zero_grad()
        nn.functional.cross_entropy(model(x1[:32]), y1[:32]).backward()
        strategy.before_step()
        grads[activity] = [p.grad.clone() for p in model.parameters()]
        if activity:
            # the first layer's static input (32 rows < 128 outputs) was projected in the
            # backward pass, and its time is the strategy's
            assert strategy.pop_hook_seconds() > 0
        basis = strategy.bases[0] if method == "gpm" else strategy.subspaces[0].basis()
        # the first layer's update leaves task 0's input subspace alone
        assert float((grads[activity][0] @ basis).abs().max()) < 1e-4
    for a, b in zip(grads[True], grads[False], strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
