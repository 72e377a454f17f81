"""NIR export and import: round trips through files and through snnTorch's and Norse's own
NIR importers and exporters, reservoirs, and the errors for what NIR cannot hold."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir")
pytest.importorskip("nirtorch")

import spikesub as ss  # noqa: E402
from spikesub import nir as snir  # noqa: E402

DT_S = snir.DEFAULT_DT_MS * 1e-3  # snnTorch's fixed NIR step, 1e-4 s


def _mlp(reset: str = "zero", per_neuron: bool = True, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    beta = torch.rand(6) * 0.5 + 0.4 if per_neuron else 0.85
    threshold = torch.rand(6) * 0.5 + 0.75 if per_neuron else 1.0
    return nn.Sequential(
        ss.SpikingLinear(5, 6, beta=beta, threshold=threshold, reset=reset),
        ss.SpikingLinear(6, 3, beta=0.8, threshold=0.7, reset=reset),
    )


def _input(seed: int = 1, shape=(40, 2, 5)) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.rand(shape) * 1.5


def _write_read(graph, tmp_path):
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    return snir.read(path)


# ---------------------------------------------------------------------------------------------
# spikesub -> NIR file -> spikesub: exact
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("per_neuron", [True, False])
def test_mlp_round_trip_through_a_file_is_exact(tmp_path, reset, per_neuron):
    model = _mlp(reset, per_neuron)
    x = _input()
    graph = _write_read(snir.export(model, x), tmp_path)
    loaded = snir.load(graph)
    assert torch.equal(loaded(x), model(x))
    assert model(x).sum() > 0
    assert loaded[1].lif.reset == reset


def test_graph_follows_the_data_flow_and_the_documented_parameters():
    model = _mlp("subtract")
    graph = snir.export(model, _input(), dt_ms=0.5)
    assert graph.edges == [
        ("input", "0.linear"),
        ("0.linear", "0.lif"),
        ("0.lif", "1.linear"),
        ("1.linear", "1.lif"),
        ("1.lif", "output"),
    ]
    lif = graph.nodes["0.lif"]
    beta = model[0].lif.beta.double().numpy()
    dt = 0.5e-3
    np.testing.assert_allclose(lif.tau, dt / (1 - beta))
    np.testing.assert_allclose(lif.r, 1 / (1 - beta))
    np.testing.assert_array_equal(lif.v_leak, 0)
    np.testing.assert_array_equal(lif.v_reset, 0)
    np.testing.assert_allclose(lif.v_threshold, model[0].lif.threshold.double().numpy())
    assert lif.metadata == {"reset": "subtract"}
    assert graph.metadata["dt"] == dt
    assert isinstance(graph.nodes["0.linear"], nir.Affine)


def test_recurrent_lif_and_spike_count_round_trip(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(
        ss.SpikingLinear(5, 4, beta=0.9),
        ss.LIF(beta=0.8, recurrent=True, num_features=4, reset="zero"),
        snir.SpikeCount(),
    )
    x = _input()
    graph = snir.export(model, x)
    assert ("1", "1.recurrent") in graph.edges and ("1.recurrent", "1") in graph.edges
    assert isinstance(graph.nodes["2"], nir.I)
    loaded = snir.load(_write_read(graph, tmp_path))
    assert isinstance(loaded[1], ss.LIF) and loaded[1].recurrent
    assert isinstance(loaded[-1], snir.SpikeCount)
    assert torch.equal(loaded(x), model(x))


def test_conv_pool_flatten_and_membrane_readout_round_trip(tmp_path):
    torch.manual_seed(4)
    model = nn.Sequential(
        ss.SpikingConv2d(2, 4, 3, padding=1, beta=torch.rand(4, 1, 1) * 0.5 + 0.4),
        snir.PerStep(nn.AvgPool2d(2)),
        snir.PerStep(nn.AvgPool2d(2, divisor_override=1)),
        nn.Flatten(2),
        ss.SpikingLinear(16, 5, reset="zero"),
        snir.LeakyIntegrator(0.7),
        snir.LastMembrane(),
    )
    x = torch.rand(6, 2, 2, 8, 8) * 2
    graph = snir.export(model, x)
    kinds = [type(graph.nodes[k]).__name__ for k in graph.nodes]
    assert kinds[1:-1] == ["Conv2d", "LIF", "AvgPool2d", "SumPool2d", "Flatten", "Affine"] + [
        "LIF",
        "LI",
    ]
    assert graph.nodes["output"].metadata == {"readout": "last_membrane"}
    loaded = snir.load(_write_read(graph, tmp_path))
    assert tuple(loaded[0].lif.beta.shape) == (4, 1, 1)  # per channel, as exported
    assert torch.equal(loaded(x), model(x))


def test_swapped_snntorch_step_model_exports(tmp_path):
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(5)
    net = nn.Sequential(
        nn.Linear(5, 4),
        snn.Leaky(beta=0.85, init_hidden=True, reset_mechanism="zero"),
        nn.Linear(4, 3),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    ss.swap_snntorch_leaky(net)
    x = _input()
    graph = snir.export(net, x[0])  # a step model: sample (B, F)
    loaded = snir.load(_write_read(graph, tmp_path))
    net[1].reset_mem(), net[3].reset_mem()
    stepped = torch.stack([net(x[t])[0] for t in range(x.shape[0])])
    assert torch.equal(loaded(x), stepped)
    assert loaded[1].lif.reset == "subtract"


# ---------------------------------------------------------------------------------------------
# spikesub -> NIR file -> snnTorch, and snnTorch -> NIR -> spikesub
# ---------------------------------------------------------------------------------------------


def _run_snntorch(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    import snntorch.utils

    snntorch.utils.reset(net)
    for module in net.modules():
        if hasattr(module, "reset_mem"):
            module.reset_mem()
    outs = []
    for t in range(x.shape[0]):
        out = net(x[t])
        out = out[0] if isinstance(out, tuple) else out
        outs.append(out[0] if isinstance(out, tuple) else out)
    return torch.stack(outs)


def test_spikesub_to_snntorch_gives_the_same_spikes(tmp_path):
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    model = _mlp("zero", per_neuron=False)
    # snnTorch's importer needs one threshold per layer; per-neuron beta is fine
    model[0].lif.beta = torch.rand(6) * 0.5 + 0.4
    x = _input()
    graph = _write_read(snir.export(model, x), tmp_path)
    net = import_from_nir(graph)
    expected = model(x)
    assert expected.sum() > 0
    assert torch.equal(_run_snntorch(net, x), expected)


def test_snntorch_importer_reads_subtract_as_zero_reset(tmp_path):
    """NIR has no reset by subtraction: snnTorch's importer builds reset-to-zero neurons."""
    snn = pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    model = _mlp("subtract", per_neuron=False)
    x = _input()
    net = import_from_nir(_write_read(snir.export(model, x), tmp_path))
    leaky = [m for m in net.modules() if isinstance(m, snn.Leaky)]
    assert [m.reset_mechanism for m in leaky] == ["zero", "zero"]
    assert not torch.equal(_run_snntorch(net, x), model(x))
    zero_model = copy.deepcopy(model)
    for layer in zero_model:
        layer.lif.reset = "zero"
    assert torch.equal(_run_snntorch(net, x), zero_model(x))


def test_snntorch_importer_refuses_per_neuron_thresholds(tmp_path):
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    graph = snir.export(_mlp("zero", per_neuron=True), _input())
    with pytest.raises(AssertionError, match="v_thr"):
        import_from_nir(graph)


def _snntorch_net(reset: str, n_in: int = 5):
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(6)
    # per-neuron tensors: snnTorch's exporter writes scalar beta with shape (), which nir 1.0
    # refuses in its type inference
    return nn.Sequential(
        nn.Linear(n_in, 6),
        snn.Leaky(
            beta=torch.rand(6) * 0.5 + 0.4,
            threshold=torch.full((6,), 0.9),
            init_hidden=True,
            reset_mechanism=reset,
        ),
        nn.Linear(6, 3),
        snn.Leaky(
            beta=torch.full((3,), 0.8),
            threshold=torch.ones(3),
            init_hidden=True,
            reset_mechanism=reset,
        ),
    )


def test_snntorch_to_spikesub_gives_the_same_spikes(tmp_path):
    pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net = _snntorch_net("zero")
    graph = _write_read(export_to_nir(net, torch.rand(5)), tmp_path)
    x = _input()
    loaded = snir.load(graph)
    expected = _run_snntorch(net, x)
    assert expected.sum() > 0
    torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)


def test_snntorch_exporter_writes_subtract_as_zero_reset():
    """snnTorch's exporter ignores reset_mechanism: its default "subtract" arrives as zero."""
    pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net = _snntorch_net("subtract")
    loaded = snir.load(export_to_nir(net, torch.rand(5)))
    assert loaded[0].lif.reset == "zero"
    x = _input()
    assert not torch.equal(loaded(x), _run_snntorch(net, x))


def test_snntorch_exporter_fails_on_scalar_beta():
    """snnTorch 1.0 writes a scalar beta as shape (), which nir's type inference refuses."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    net = nn.Sequential(nn.Linear(5, 3), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(ValueError, match="type mismatch"):
        export_to_nir(net, torch.rand(5))


# ---------------------------------------------------------------------------------------------
# Norse
# ---------------------------------------------------------------------------------------------


def test_norse_ignores_r_so_its_spikes_match_weights_scaled_by_one_minus_beta(tmp_path):
    """Norse's from_nir drops NIR's r (it warns): a LIF then sees (dt / tau) * I instead of
    r (dt / tau) * I, i.e. its input is scaled by 1 - beta. With the weights scaled by that
    factor, spikesub gives Norse's spikes exactly."""
    norse = pytest.importorskip("norse.torch")
    model = nn.Sequential(ss.SpikingLinear(5, 6, beta=0.8, reset="zero"))
    x = _input() * 4
    graph = _write_read(snir.export(model, x, dt_ms=1.0), tmp_path)
    net = norse.from_nir(graph, dt=1e-3, ignore_warnings=True)
    state, outs = None, []
    for t in range(x.shape[0]):
        out, state = net(x[t], state)
        outs.append(out)
    norse_spikes = torch.stack(outs)
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        scaled[0].linear.weight.mul_(0.2)
        scaled[0].linear.bias.mul_(0.2)
    assert norse_spikes.sum() > 0
    assert torch.equal(norse_spikes, scaled(x))
    assert not torch.equal(norse_spikes, model(x))


# ---------------------------------------------------------------------------------------------
# Reservoirs
# ---------------------------------------------------------------------------------------------


def _lif_reservoir(synapse: str, **kwargs):
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.5, (5, 5)) * (rng.random((5, 5)) < 0.6)
    population = ss.LIFPopulation(
        n=5, tau_ms=np.linspace(10, 20, 5), resistance=2.0, v_rest=0.1, v_th=1.0
    )
    return ss.LIFReservoir(
        population, weights=weights, synapse=synapse, dt_ms=0.5, bias_current=0.05, **kwargs
    ), weights


def test_delta_reservoir_exports_as_lif_with_a_recurrent_edge(tmp_path):
    reservoir, weights = _lif_reservoir("delta")
    graph = _write_read(snir.export_reservoir(reservoir), tmp_path)
    assert ("reservoir", "recurrent") in graph.edges and ("recurrent", "reservoir") in graph.edges
    lif = graph.nodes["reservoir"]
    tau = np.linspace(10, 20, 5) * 1e-3
    np.testing.assert_allclose(lif.tau, tau)
    np.testing.assert_allclose(lif.r, 2.0)
    np.testing.assert_allclose(lif.v_leak, 0.1 + 2.0 * 0.05)
    dt = 0.5e-3
    w = graph.nodes["recurrent"].weight
    np.testing.assert_allclose(w, weights.astype(np.float32) * (tau / (2.0 * dt))[:, None])
    # one Euler step of a spike of 1 adds exactly w to v
    np.testing.assert_allclose(dt / lif.tau[:, None] * lif.r[:, None] * w, weights, rtol=1e-6)
    assert graph.metadata["dt"] == dt


def test_exponential_reservoir_exports_as_cubalif():
    reservoir, weights = _lif_reservoir("exponential", tau_syn_ms=4.0)
    graph = snir.export_reservoir(reservoir)
    node = graph.nodes["reservoir"]
    assert isinstance(node, nir.CubaLIF)
    np.testing.assert_allclose(node.tau_syn, 4e-3)
    np.testing.assert_allclose(node.w_in, 4e-3 / 0.5e-3)
    np.testing.assert_allclose(graph.nodes["recurrent"].weight, weights.astype(np.float32))


def test_izhikevich_reservoir_is_refused_with_the_reason():
    reservoir = ss.IzhikevichReservoir.izhikevich_2003(n_exc=8, n_inh=2)
    with pytest.raises(TypeError, match="recovery variable u"):
        snir.export_reservoir(reservoir)


def test_reservoir_options_without_nir_equivalent_are_refused():
    with pytest.raises(ValueError, match="refractory_ms"):
        population = ss.LIFPopulation(n=3, tau_ms=10.0, refractory_ms=2.0)
        snir.export_reservoir(ss.LIFReservoir(population))
    with pytest.raises(ValueError, match="noise_std"):
        population = ss.LIFPopulation(n=3, tau_ms=10.0)
        snir.export_reservoir(ss.LIFReservoir(population, noise_std=1.0))


# ---------------------------------------------------------------------------------------------
# Bad input: one clear error naming the node, shape or file
# ---------------------------------------------------------------------------------------------


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={}, type_check=False)


def _lif(n: int):
    return nir.LIF(
        tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n)
    )


def test_unsupported_node_is_named():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "syn": nir.CubaLI(tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    with pytest.raises(ValueError, match="node 'syn' of type CubaLI is not supported"):
        snir.load(_graph(nodes, [("input", "syn"), ("syn", "output")]))


def test_mismatched_shapes_are_named():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([5])}),
        "fc": nir.Linear(weight=np.ones((3, 4))),
        "lif": _lif(3),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    with pytest.raises(ValueError, match=r"node 'fc' \(Linear\): weight of shape \(3, 4\)"):
        snir.load(_graph(nodes, edges))
    nodes["fc"] = nir.Linear(weight=np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"node 'lif' \(LIF\) has 3 neurons, but 4 inputs"):
        snir.load(_graph(nodes, edges))


def test_missing_parameter_is_named():
    lif = _lif(3)
    lif.v_threshold = None
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "lif": lif,
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    with pytest.raises(ValueError, match="node 'lif' \\(LIF\\) has no parameter 'v_threshold'"):
        snir.load(_graph(nodes, [("input", "lif"), ("lif", "output")]))


def test_branching_graph_is_refused():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "a": _lif(3),
        "b": _lif(3),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")]
    with pytest.raises(ValueError, match="node 'input' has 2 successors"):
        snir.load(_graph(nodes, edges))


def test_corrupt_and_missing_files_are_named(tmp_path):
    path = tmp_path / "broken.nir"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="broken.nir.*cannot be read"):
        snir.load(path)
    with pytest.raises(ValueError, match="does not exist"):
        snir.load(tmp_path / "absent.nir")


def test_unsupported_modules_are_named_on_export():
    with pytest.raises(TypeError, match="1: GRU has no NIR export"):
        snir.export(nn.Sequential(nn.Linear(5, 4), nn.GRU(4, 4)), _input())
    with pytest.raises(TypeError, match="PerStep"):
        snir.export(nn.Sequential(nn.MaxPool2d(2)), torch.rand(3, 1, 1, 4, 4))
    membrane = nn.Sequential(ss.SpikingLinear(5, 3, output="membrane"))
    with pytest.raises(ValueError, match="outputs spikes only"):
        snir.export(membrane, _input())
    with pytest.raises(ValueError, match="merge the time and batch"):
        snir.export(nn.Sequential(nn.Flatten()), _input())
