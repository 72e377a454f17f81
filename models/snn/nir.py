"""Spiking layers to and from NIR, the Neuromorphic Intermediate Representation.

:func:`export` turns a model built from spikesub layers (or an snnTorch model after
:func:`~spikesub.models.snn.snntorch_interop.swap_snntorch_leaky`) into an ``nir.NIRGraph``;
:func:`load` builds a model of spikesub layers from one; :func:`export_reservoir` writes an
:class:`~spikesub.models.network.reservoir.LIFReservoir` as a graph with a recurrent edge.
``nir`` is imported only when one of them runs.

How a LIF layer maps to NIR's LIF node
--------------------------------------
NIR's ``LIF`` is ``tau dv/dt = (v_leak - v) + r I``, a spike when ``v > v_threshold``, then
``v = v_reset``. One forward-Euler step of length ``dt`` is
``v_t = (1 - dt/tau) v_{t-1} + (dt/tau) r I_t + (dt/tau) v_leak``. A spikesub layer with
``mem_t = beta mem_{t-1} + x_t`` is therefore written, per neuron, as

* ``tau = dt / (1 - beta)`` (seconds), ``r = tau / dt = 1 / (1 - beta)``, ``v_leak = 0``,
  ``v_threshold = threshold``, ``v_reset = 0``,

where ``dt = dt_ms / 1000`` seconds; the default ``dt_ms = 0.1`` is snnTorch's fixed
``dt = 1e-4`` (its exporter writes ``tau = dt / (1 - beta)``, ``r = tau / dt``, and its importer
reads ``beta = 1 - dt / tau``), so graphs pass between the two unchanged. ``beta = 1`` (no
leak) is written as NIR's ``IF`` with ``r = 1 / dt``. :func:`load` inverts this:
``beta = 1 - dt / tau``; where ``r dt / tau`` is not 1 (Norse writes ``r = 1``), the factor
is folded into the weights of the preceding Linear / Affine / Conv2d node.

Spikes are exact, membranes differ in one place: NIR resets at the step of the spike, spikesub
(like snnTorch's default ``reset_delay=True``) at the step after, and the two give the same
spikes for a reset to zero. NIR has no reset by subtraction: a ``reset="subtract"`` layer is
written as a LIF node with ``v_reset = 0`` and ``metadata["reset"] = "subtract"``, which
:func:`load` honours and every other tool reads as a reset to zero.

Supported models: an ``nn.Sequential`` (nested ones are walked in order) of
:class:`~spikesub.models.snn.layers.SpikingLinear`,
:class:`~spikesub.models.snn.layers.SpikingConv2d`, :class:`~spikesub.models.snn.layers.LIF`
(also recurrent: a recurrent edge through an Affine node), :class:`LeakyIntegrator`,
``nn.Linear``, ``nn.Conv2d``, ``nn.Flatten``, ``nn.AvgPool2d`` (a sum pool with
``divisor_override=1``), :class:`PerStep`, the readouts
:class:`SpikeCount` and :class:`LastMembrane`, ``nn.Identity`` / ``nn.Dropout`` (no node), and
:class:`~spikesub.models.snn.snntorch_interop.LeakyStep`; or one such layer alone. The graph's
edges follow the order of the ``Sequential``: an explicit walk, which runs ``sample_input``
through the layers once for their shapes. (NIRTorch's ``torch.fx`` tracer is not used: traced
through, the layers' argument checks stop it with "x must be a torch.Tensor; got Proxy".)
Other models (branches, skip connections, custom ``forward``) are refused with a ``TypeError``.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spikesub.models.snn.layers import (
    LIF,
    SpikingConv2d,
    SpikingLinear,
    last_membrane,
    spike_count,
)

DEFAULT_DT_MS = 0.1
"""The step assumed when none is given: snnTorch's NIR ``dt = 1e-4`` s."""

_MS = 1e-3  # seconds per millisecond: NIR time constants are written in seconds


# ---------------------------------------------------------------------------------------------
# Small modules that a graph needs besides the layers
# ---------------------------------------------------------------------------------------------


class SpikeCount(nn.Module):
    """Readout module of :func:`~spikesub.models.snn.layers.spike_count`: ``(T, B, ...)`` ->
    ``(B, ...)``. In NIR an ``I`` (integrator) node with ``r = 1 / dt``, read at the last step."""

    def forward(self, spk: torch.Tensor) -> torch.Tensor:
        return spike_count(spk)


class LastMembrane(nn.Module):
    """Readout module of :func:`~spikesub.models.snn.layers.last_membrane`: ``(T, B, ...)`` ->
    ``(B, ...)``. It follows a :class:`LeakyIntegrator` (NIR's ``LI``, a membrane that never
    spikes); in NIR it is ``metadata["readout"] = "last_membrane"`` on the ``Output`` node."""

    def forward(self, mem: torch.Tensor) -> torch.Tensor:
        return last_membrane(mem)


class LeakyIntegrator(nn.Module):
    """Non-spiking leaky membrane ``mem_t = beta mem_{t-1} + x_t`` over ``(T, B, ...)``,
    returning every ``mem_t``; NIR's ``LI`` node (``tau = dt / (1 - beta)``, ``r = tau / dt``).

    ``beta`` is a float or a tensor broadcastable to the neuron shape, in (0, 1].
    """

    def __init__(self, beta: torch.Tensor | float = 0.9) -> None:
        super().__init__()
        beta_t = torch.as_tensor(beta, dtype=torch.float32).detach().clone()
        if bool(((beta_t <= 0) | (beta_t > 1) | ~torch.isfinite(beta_t)).any()):
            raise ValueError(f"beta must be in (0, 1]; got minimum {float(beta_t.min())}")
        self.register_buffer("beta", beta_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 3:
            raise ValueError(f"x must have shape (T, B, ...); got {tuple(getattr(x, 'shape', ()))}")
        beta = self.beta.to(x.dtype)
        mem = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            mem = beta * mem + x[t]
            out.append(mem)
        return torch.stack(out)


class PerStep(nn.Module):
    """Apply a per-image module (a pooling layer) to each step of a ``(T, B, ...)`` sequence."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, batch = x.shape[:2]
        y = self.module(x.reshape(steps * batch, *x.shape[2:]))
        return y.reshape(steps, batch, *y.shape[1:])


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is an optional dependency
        raise ImportError("the NIR conversions need the `nir` package: pip install nir") from exc
    return nir


def _check_dt_ms(dt_ms: Any) -> float:
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float)):
        raise TypeError(f"dt_ms must be a float > 0; got {type(dt_ms).__name__}")
    if not (np.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be finite and > 0; got {dt_ms}")
    return float(dt_ms)


def _leaves(model: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    """The layers of a (nested) ``nn.Sequential`` in data-flow order, with their paths."""
    if isinstance(model, nn.Sequential):
        for name, child in model.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(model).__name__.lower(), model


def _is_step_model(layers: list[tuple[str, nn.Module]]) -> bool:
    from spikesub.models.snn.snntorch_interop import LeakyStep

    return any(isinstance(m, LeakyStep) for _, m in layers)


def _param(value: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """A neuron parameter broadcast to the neuron ``shape``, as float64."""
    return np.broadcast_to(value.detach().cpu().double().numpy(), shape).copy()


def _lif_node(nir, name: str, beta, threshold, reset: str, shape, dt: float):
    """The NIR node of a LIF layer (``IF`` when no neuron leaks)."""
    beta = _param(beta, shape)
    threshold = _param(threshold, shape)
    meta = {"reset": "subtract"} if reset == "subtract" else {}
    if bool((beta >= 1).all()):
        return nir.IF(
            r=np.full(shape, 1.0 / dt), v_threshold=threshold, v_reset=np.zeros(shape),
            metadata=meta,
        )  # fmt: skip
    if bool((beta >= 1).any()):
        raise ValueError(
            f"{name}: beta is 1 for some neurons and < 1 for others; NIR's LIF has no infinite "
            "time constant (export the non-leaky neurons as a layer of their own)"
        )
    beta = np.clip(beta, 0.0, None)  # snnTorch and spikesub clamp beta into [0, 1]
    if bool((beta <= 0).any()):
        raise ValueError(f"{name}: beta must be > 0 to give a finite time constant")
    tau = dt / (1.0 - beta)
    return nir.LIF(
        tau=tau, r=tau / dt, v_leak=np.zeros(shape), v_threshold=threshold,
        v_reset=np.zeros(shape), metadata=meta,
    )  # fmt: skip


def _linear_node(nir, linear: nn.Linear):
    weight = linear.weight.detach().cpu().double().numpy()
    if linear.bias is None:
        return nir.Linear(weight=weight)
    return nir.Affine(weight=weight, bias=linear.bias.detach().cpu().double().numpy())


def _conv_node(nir, conv: nn.Conv2d, in_shape: tuple[int, ...]):
    if conv.padding_mode != "zeros":
        raise ValueError(f"Conv2d padding_mode {conv.padding_mode!r} has no NIR equivalent")
    bias = conv.bias
    return nir.Conv2d(
        input_shape=tuple(int(s) for s in in_shape[-2:]),
        weight=conv.weight.detach().cpu().double().numpy(),
        stride=tuple(conv.stride),
        padding=conv.padding if isinstance(conv.padding, str) else tuple(conv.padding),
        dilation=tuple(conv.dilation),
        groups=conv.groups,
        bias=(
            bias.detach().cpu().double().numpy()
            if bias is not None
            else np.zeros(conv.out_channels)
        ),
    )


def _pool_node(nir, name: str, pool: nn.Module):
    if not isinstance(pool, nn.AvgPool2d):
        raise TypeError(
            f"{name}: {type(pool).__name__} has no NIR node (NIR pools by average or sum only)"
        )
    kernel = np.array(nn.modules.utils._pair(pool.kernel_size))
    stride = np.array(nn.modules.utils._pair(pool.stride or pool.kernel_size))
    padding = np.array(nn.modules.utils._pair(pool.padding))
    if pool.ceil_mode or (padding.any() and not pool.count_include_pad):
        raise ValueError(f"{name}: AvgPool2d with ceil_mode or count_include_pad=False")
    if pool.divisor_override == 1:
        return nir.SumPool2d(kernel_size=kernel, stride=stride, padding=padding)
    if pool.divisor_override is not None:
        raise ValueError(f"{name}: AvgPool2d divisor_override must be None or 1")
    return nir.AvgPool2d(kernel_size=kernel, stride=stride, padding=padding)


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def export(model: nn.Module, sample_input: torch.Tensor, *, dt_ms: float = DEFAULT_DT_MS) -> Any:
    """An ``nir.NIRGraph`` of ``model``.

    Args:
        model: an ``nn.Sequential`` of supported layers, or one layer (see the module
            docstring for the list). Models with a
            :class:`~spikesub.models.snn.snntorch_interop.LeakyStep` run one step per call and
            take ``sample_input`` of shape ``(B, ...)``; all others take ``(T, B, ...)``.
        sample_input: an input of the model, run once (on a copy of it) to find every layer's
            shape. Shapes in the graph leave out the batch (and time) dimensions.
        dt_ms: the step in milliseconds; NIR time constants are written in seconds,
            ``tau = dt / (1 - beta)`` with ``dt = dt_ms / 1000``, ``r = tau / dt``,
            ``v_leak = v_reset = 0`` (see the module docstring).

    The graph's ``metadata`` holds ``dt`` (seconds) and the source (``"spikesub"``).

    Raises:
        TypeError: a layer without an NIR node (named by its path and type), or a model that
            is not an ``nn.Module``.
        ValueError: a layer option NIR cannot express (a LIF returning its membrane, mixed
            ``beta = 1`` and ``beta < 1``, a ``Flatten`` over the batch or time dimension).
    """
    from spikesub.models.snn.snntorch_interop import LeakyStep

    nir = _nir()
    dt = _check_dt_ms(dt_ms) * _MS
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(sample_input, torch.Tensor):
        raise TypeError(f"sample_input must be a torch.Tensor; got {type(sample_input).__name__}")
    layers = list(_leaves(copy.deepcopy(model), ""))
    lead = 1 if _is_step_model(layers) else 2
    if sample_input.dim() <= lead:
        raise ValueError(
            f"sample_input must have shape {'(B, ...)' if lead == 1 else '(T, B, ...)'} "
            f"with feature dimensions; got {tuple(sample_input.shape)}"
        )
    x = sample_input
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(x.shape[lead:])})}
    edges: list[tuple[str, str]] = []
    previous = "input"
    readout = None

    def add(name: str, node: Any) -> None:
        nonlocal previous
        nodes[name] = node
        edges.append((previous, name))
        previous = name

    with torch.no_grad():
        for name, layer in layers:
            if readout is not None:
                raise ValueError(f"{name}: layers after the readout {readout!r} are not supported")
            in_shape = tuple(x.shape[lead:])
            if isinstance(layer, (nn.Identity, nn.Dropout)):
                continue
            _check_exportable(name, layer, lead)
            y = _first(layer(x))
            out_shape = tuple(y.shape[lead:])
            if isinstance(layer, SpikingLinear):
                add(f"{name}.linear", _linear_node(nir, layer.linear))
                _add_lif(nir, add, nodes, edges, f"{name}.lif", layer.lif, out_shape, dt)
                previous = f"{name}.lif"
            elif isinstance(layer, SpikingConv2d):
                add(f"{name}.conv", _conv_node(nir, layer.conv, in_shape))
                _add_lif(nir, add, nodes, edges, f"{name}.lif", layer.lif, out_shape, dt)
                previous = f"{name}.lif"
            elif isinstance(layer, LIF):
                _add_lif(nir, add, nodes, edges, name, layer, out_shape, dt)
                previous = name
            elif isinstance(layer, LeakyStep):
                if layer.reset not in ("subtract", "zero"):
                    raise ValueError(
                        f"{name}: LeakyStep with reset {layer.reset!r} has no NIR node "
                        "(NIR's LIF resets when it spikes)"
                    )
                add(name, _lif_node(nir, name, layer.beta, layer.threshold, layer.reset,
                                    out_shape, dt))  # fmt: skip
            elif isinstance(layer, LeakyIntegrator):
                beta = _param(layer.beta, out_shape)
                if bool((beta >= 1).any()):
                    raise ValueError(f"{name}: LeakyIntegrator with beta = 1 has no NIR LI node")
                tau = dt / (1.0 - beta)
                add(name, nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(out_shape)))
            elif isinstance(layer, nn.Linear):
                add(name, _linear_node(nir, layer))
            elif isinstance(layer, nn.Conv2d):
                add(name, _conv_node(nir, layer, in_shape))
            elif isinstance(layer, nn.Flatten):
                add(name, _flatten_node(nir, name, layer, in_shape, lead))
            elif isinstance(layer, PerStep) and lead == 2:
                add(name, _pool_node(nir, name, layer.module))
            elif isinstance(layer, (nn.AvgPool2d, nn.MaxPool2d)) and lead == 1:
                add(name, _pool_node(nir, name, layer))
            elif isinstance(layer, (SpikeCount, LastMembrane)) and lead == 1:
                raise ValueError(f"{name}: readouts need a multi-step model (T, B, ...)")
            elif isinstance(layer, SpikeCount):
                add(name, nir.I(r=np.full(in_shape, 1.0 / dt)))
                readout = "spike_count"
            elif isinstance(layer, LastMembrane):
                if not isinstance(nodes[previous], nir.LI):
                    raise ValueError(
                        f"{name}: LastMembrane must follow a LeakyIntegrator (NIR's LI); the "
                        f"membrane of a spiking layer ({type(nodes[previous]).__name__}) is "
                        "not an output of any NIR node"
                    )
                readout = "last_membrane"
            x = y
    out_meta = {"readout": readout} if readout is not None else {}
    out_shape = np.array(tuple(x.shape[lead - 1 :] if readout else x.shape[lead:]))
    nodes["output"] = nir.Output(output_type={"output": out_shape}, metadata=out_meta)
    edges.append((previous, "output"))
    graph = nir.NIRGraph(
        nodes=nodes, edges=edges, metadata={"dt": dt, "source": "spikesub"}, type_check=False
    )
    _infer_types(graph)
    return graph


def _check_exportable(name: str, layer: nn.Module, lead: int) -> None:
    """Refuse, before running it, a layer that :func:`export` has no node for."""
    from spikesub.models.snn.snntorch_interop import LeakyStep

    exportable = (
        SpikingLinear, SpikingConv2d, LIF, LeakyStep, LeakyIntegrator, nn.Linear, nn.Conv2d,
        nn.Flatten, SpikeCount, LastMembrane, (PerStep if lead == 2 else nn.AvgPool2d),
    )  # fmt: skip
    if isinstance(layer, exportable) and not (
        isinstance(layer, PerStep) and not isinstance(layer.module, nn.AvgPool2d)
    ):
        return
    kind = type(layer).__name__
    if isinstance(layer, (nn.AvgPool2d, nn.MaxPool2d)) and lead == 2:
        hint = " (multi-step models pool through PerStep(nn.AvgPool2d(...)))"
    elif isinstance(layer, (nn.MaxPool2d, PerStep)):
        hint = " (NIR pools by average or sum only)"
    else:
        hint = ""
    raise TypeError(f"{name}: {kind} has no NIR export{hint}")


def _infer_types(graph: Any) -> None:
    try:
        graph.infer_types()
    except Exception as exc:  # nir raises ValueError or AssertionError
        raise ValueError(f"the graph's shapes do not agree: {exc}") from exc


def _add_lif(nir, add, nodes, edges, name: str, lif: LIF, shape, dt: float) -> None:
    if lif.output != "spikes":
        raise ValueError(
            f"{name}: LIF(output={lif.output!r}) has no NIR node: NIR's LIF outputs spikes only "
            "(read a membrane from a LeakyIntegrator, NIR's LI)"
        )
    add(name, _lif_node(nir, name, lif.beta, lif.threshold, lif.reset, shape, dt))
    if lif.recurrent:
        rec = f"{name}.recurrent"
        nodes[rec] = _linear_node(nir, lif.recurrent_linear)
        edges.extend([(name, rec), (rec, name)])


def _flatten_node(nir, name: str, layer: nn.Flatten, in_shape: tuple[int, ...], lead: int):
    full = lead + len(in_shape)
    start = layer.start_dim % full
    end = layer.end_dim % full
    if start < lead:
        dims = "batch" if lead == 1 else "time and batch"
        raise ValueError(
            f"{name}: Flatten(start_dim={layer.start_dim}) would merge the {dims} dimensions "
            f"into the features; use start_dim={lead}"
        )
    return nir.Flatten(
        input_type={"input": np.array(in_shape)}, start_dim=start - lead, end_dim=end - lead
    )


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------

_NEURONS = ("LIF", "IF", "LI")
_WEIGHTS = ("Affine", "Linear", "Conv2d")


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def read(path: str | Path) -> Any:
    """``nir.read(path)``, with a missing or unreadable file reported as one ``ValueError``
    naming it."""
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"NIR file {str(path)!r} does not exist")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py's OSError, nir's KeyError / AssertionError ...
        raise ValueError(
            f"NIR file {str(path)!r} cannot be read as an NIR graph ({type(exc).__name__}: {exc})"
        ) from exc


def _inline(nir, graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested graphs (snnTorch writes RLeaky as one) replaced by their
    contents; the nested ``Input``/``Output`` become the ends of the edges around them."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ends: dict[str, tuple[str, str]] = {}
    for key, node in graph.nodes.items():
        name = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _inline(nir, node, f"{name}/")
            ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise ValueError(f"node {name!r}: a nested graph needs one Input and one Output")
            first = [b for a, b in sub_edges if a == ins[0]]
            last = [a for a, b in sub_edges if b == outs[0]]
            if len(first) != 1 or len(last) != 1:
                raise ValueError(f"node {name!r}: a nested graph's Input/Output need one edge each")
            ends[name] = (first[0], last[0])
            nodes.update({k: v for k, v in sub_nodes.items() if k not in (ins[0], outs[0])})
            edges.extend((a, b) for a, b in sub_edges if a != ins[0] and b != outs[0])
        else:
            nodes[name] = node
    for a, b in graph.edges:
        a, b = f"{prefix}{a}", f"{prefix}{b}"
        a = ends[a][1] if a in ends else a
        b = ends[b][0] if b in ends else b
        edges.append((a, b))
    return nodes, edges


def _check_params(name: str, node: Any, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {}
    for field in fields:
        value = getattr(node, field, None)
        if value is None:
            raise ValueError(f"node {name!r} ({type(node).__name__}) has no parameter {field!r}")
        array = np.asarray(value, dtype=np.float64)
        if not np.isfinite(array).all():
            raise ValueError(f"node {name!r} ({type(node).__name__}): {field} is not finite")
        out[field] = array
    return out


def _chain(nir, nodes: dict[str, Any], edges: list[tuple[str, str]]):
    """The nodes from Input to Output in order, and the recurrent weight node of each neuron
    node that has one."""
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"edge {(a, b)} names node {end!r}, which the graph lacks")
    recurrent: dict[str, str] = {}
    for a, b in edges:
        if (b, a) in edges and type(nodes[a]).__name__ in _NEURONS:
            ins = [e for e in edges if e[1] == b]
            outs = [e for e in edges if e[0] == b]
            if len(ins) == 1 and len(outs) == 1:
                recurrent[a] = b
    rest = [(a, b) for a, b in edges if recurrent.get(a) != b and recurrent.get(b) != a]
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"only graphs with one Input and one Output node are supported; got inputs "
            f"{inputs} and outputs {outputs}"
        )
    order = [inputs[0]]
    seen = {inputs[0]}
    while order[-1] != outputs[0]:
        nxt = [b for a, b in rest if a == order[-1]]
        if len(nxt) != 1:
            raise ValueError(
                f"node {order[-1]!r} has {len(nxt)} successors; only chains (one path from "
                "Input to Output, plus neuron <-> weight recurrent loops) are supported"
            )
        if nxt[0] in seen:
            raise ValueError(f"node {nxt[0]!r} closes a loop that is not a recurrent layer")
        order.append(nxt[0])
        seen.add(nxt[0])
    unused = set(nodes) - seen - set(recurrent.values())
    if unused:
        raise ValueError(f"nodes {sorted(unused)} are not on the path from Input to Output")
    for a, b in rest:
        if order.index(b) != order.index(a) + 1:
            raise ValueError(f"edge {(a, b)} leaves the chain from Input to Output")
    return order, recurrent


def _shared(values: np.ndarray) -> torch.Tensor | float:
    """A scalar when every neuron has the same value, else a per-neuron tensor (per channel
    ``(C, 1, 1)`` when constant over each channel's image)."""
    flat = values.reshape(-1)
    if flat.size and bool((flat == flat[0]).all()):
        return float(flat[0])
    if values.ndim == 3:
        per_channel = values[:, :1, :1]
        if bool((values == per_channel).all()):
            return torch.tensor(per_channel, dtype=torch.float32)
    return torch.tensor(values, dtype=torch.float32)


def _neuron(nir, name: str, node: Any, dt: float) -> tuple[dict[str, Any], np.ndarray]:
    """The LIF keyword arguments of a neuron node, and its input scale ``r dt / tau``."""
    kind = type(node).__name__
    if kind == "IF":
        p = _check_params(name, node, ("r", "v_threshold", "v_reset"))
        beta = np.ones_like(p["v_threshold"])
        scale = p["r"] * dt
    else:
        fields = ("tau", "r", "v_leak") + (("v_threshold", "v_reset") if kind == "LIF" else ())
        p = _check_params(name, node, fields)
        if (p["tau"] <= 0).any():
            raise ValueError(f"node {name!r} ({kind}): tau must be > 0")
        if (p["tau"] <= dt).any():
            raise ValueError(
                f"node {name!r} ({kind}): tau {p['tau'].min()} s is not longer than the step "
                f"dt = {dt} s (pass load(..., dt_ms=...) in the graph's units)"
            )
        if (p["v_leak"] != 0).any():
            raise ValueError(f"node {name!r} ({kind}): v_leak must be 0; got {p['v_leak']}")
        beta = 1.0 - dt / p["tau"]
        scale = p["r"] * dt / p["tau"]
    if kind != "LI" and (p["v_reset"] != 0).any():
        raise ValueError(f"node {name!r} ({kind}): v_reset must be 0; got {p['v_reset']}")
    reset = _text(getattr(node, "metadata", {}).get("reset", "zero"))
    if reset not in ("zero", "subtract"):
        raise ValueError(f"node {name!r} ({kind}): metadata reset {reset!r} is not supported")
    opts: dict[str, Any] = {"beta": _shared(beta)}
    if kind != "LI":
        opts.update(threshold=_shared(p["v_threshold"]), reset=reset)
    return opts, scale


def _weight_module(nir, name: str, node: Any) -> nn.Module:
    kind = type(node).__name__
    if kind in ("Affine", "Linear"):
        weight = _check_params(name, node, ("weight",))["weight"]
        if weight.ndim != 2:
            raise ValueError(f"node {name!r} ({kind}): weight must be 2-D; got {weight.shape}")
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=kind == "Affine")
        linear.weight.data = torch.tensor(weight, dtype=torch.float32)
        if kind == "Affine":
            bias = _check_params(name, node, ("bias",))["bias"]
            if bias.shape != (weight.shape[0],):
                raise ValueError(
                    f"node {name!r} (Affine): bias shape {bias.shape} does not match weight "
                    f"shape {weight.shape}"
                )
            linear.bias.data = torch.tensor(bias, dtype=torch.float32)
        return linear
    p = _check_params(name, node, ("weight", "bias"))
    weight = p["weight"]
    if weight.ndim != 4:
        raise ValueError(f"node {name!r} (Conv2d): weight must be 4-D; got {weight.shape}")
    padding = _text(node.padding)
    conv = nn.Conv2d(
        weight.shape[1] * node.groups,
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=tuple(int(s) for s in np.atleast_1d(node.stride)) * (2 // np.size(node.stride)),
        padding=padding
        if isinstance(padding, str)
        else tuple(int(s) for s in np.atleast_1d(padding)) * (2 // np.size(padding)),
        dilation=tuple(int(s) for s in np.atleast_1d(node.dilation))
        * (2 // np.size(node.dilation)),
        groups=int(node.groups),
    )
    conv.weight.data = torch.tensor(weight, dtype=torch.float32)
    conv.bias.data = torch.tensor(p["bias"], dtype=torch.float32)
    return conv


def _fold_scale(name: str, weight: nn.Module | None, scale: np.ndarray) -> None:
    """Multiply the output rows of ``weight`` by the neuron input scale ``r dt / tau``."""
    if np.allclose(scale, 1.0, rtol=1e-6, atol=0):
        return
    if weight is None:
        raise ValueError(
            f"node {name!r}: its input scale r * dt / tau = {scale.reshape(-1)[:4]} is not 1 "
            "and no Linear, Affine or Conv2d node precedes it to take it"
        )
    flat = scale.reshape(scale.shape[0], -1) if scale.ndim else scale.reshape(1, 1)
    if isinstance(weight, nn.Conv2d) and not np.allclose(flat, flat[:, :1]):
        raise ValueError(f"node {name!r}: an input scale that varies within a channel")
    factor = torch.tensor(flat[:, 0], dtype=torch.float32)
    with torch.no_grad():
        weight.weight.mul_(factor.view(-1, *([1] * (weight.weight.dim() - 1))))
        if weight.bias is not None:
            weight.bias.mul_(factor)


def load(graph: Any, *, dt_ms: float | None = None, backend: str = "auto") -> nn.Sequential:
    """A multi-step model of spikesub layers from an ``nir.NIRGraph`` (or a path to an NIR file).

    The result is an ``nn.Sequential`` that takes ``(T, B, ...)`` and returns the output
    node's sequence ``(T, B, ...)`` (``(B, ...)`` after a readout). An ``Affine``/``Linear``
    or ``Conv2d`` node followed by a neuron node becomes a
    :class:`~spikesub.models.snn.layers.SpikingLinear` / ``SpikingConv2d``; ``LIF`` and ``IF``
    become :class:`~spikesub.models.snn.layers.LIF` (recurrent when a weight node loops back
    into it), ``LI`` a :class:`LeakyIntegrator`, ``I`` (with ``r = 1 / dt``, last) a
    :class:`SpikeCount`, ``Flatten`` an ``nn.Flatten`` over the feature dimensions,
    ``AvgPool2d``/``SumPool2d`` a :class:`PerStep` ``nn.AvgPool2d``. Nested graphs are
    inlined.

    Args:
        graph: the graph, or the path of an NIR file.
        dt_ms: the step; by default the graph's ``metadata["dt"]`` (seconds) when it has one,
            else :data:`DEFAULT_DT_MS` (snnTorch's ``1e-4`` s). ``beta = 1 - dt / tau``.
        backend: the layers' kernel backend.

    Raises:
        ValueError: an unsupported node (named with its type), a missing or non-finite
            parameter, shapes that do not agree, a graph that is not a chain, an unreadable
            file (named).
    """
    nir = _nir()
    if isinstance(graph, (str, Path)):
        graph = read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be an nir.NIRGraph or a path; got {type(graph).__name__}")
    if dt_ms is None:
        meta_dt = (graph.metadata or {}).get("dt") if isinstance(graph.metadata, dict) else None
        dt = float(meta_dt) if meta_dt is not None else DEFAULT_DT_MS * _MS
    else:
        dt = _check_dt_ms(dt_ms) * _MS
    nodes, edges = _inline(nir, graph)
    supported = (*_NEURONS, *_WEIGHTS, "I", "Flatten", "AvgPool2d", "SumPool2d", "Input", "Output")
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in supported:
            raise ValueError(
                f"node {name!r} of type {kind} is not supported by spikesub.nir.load "
                f"(supported: {', '.join(supported)})"
            )
    order, recurrent = _chain(nir, nodes, edges)
    _check_graph_shapes(nir, graph, nodes, order)
    layers: list[tuple[str, nn.Module]] = []
    pending: tuple[str, nn.Module] | None = None  # a weight module waiting for its neuron
    readout = _text((nodes[order[-1]].metadata or {}).get("readout"))

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            layers.append(pending)
            pending = None

    for index, name in enumerate(order[1:-1], start=1):
        node = nodes[name]
        kind = type(node).__name__
        key = name.replace(".", "_").replace("/", "_")
        if kind in _WEIGHTS:
            flush()
            pending = (key, _weight_module(nir, name, node))
        elif kind in ("LIF", "IF"):
            opts, scale = _neuron(nir, name, node, dt)
            _fold_scale(name, pending[1] if pending else None, scale)
            rec_name = recurrent.get(name)
            if rec_name is not None:
                rec = _weight_module(nir, rec_name, nodes[rec_name])
                if not isinstance(rec, nn.Linear) or rec.in_features != rec.out_features:
                    raise ValueError(
                        f"node {rec_name!r}: a recurrent weight must be a square Affine/Linear"
                    )
                opts.update(recurrent=True, num_features=rec.in_features)
            if pending is not None and isinstance(pending[1], nn.Linear):
                lin = pending[1]
                layer = SpikingLinear(
                    lin.in_features, lin.out_features, bias=lin.bias is not None,
                    backend=backend, **opts,
                )  # fmt: skip
                layer.linear.load_state_dict(lin.state_dict())
                key, pending = pending[0], None
            elif pending is not None:
                conv = pending[1]
                if rec_name is not None:
                    raise ValueError(f"node {name!r}: a recurrent layer after a Conv2d")
                layer = SpikingConv2d(
                    conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, backend=backend, **opts,
                )  # fmt: skip
                layer.conv.load_state_dict(conv.state_dict())
                key, pending = pending[0], None
            else:
                layer = LIF(backend=backend, **opts)
            lif = layer if isinstance(layer, LIF) else layer.lif
            if rec_name is not None:
                lif.recurrent_linear.load_state_dict(_as_affine(rec).state_dict())
            layers.append((key, layer))
        elif kind == "LI":
            opts, scale = _neuron(nir, name, node, dt)
            _fold_scale(name, pending[1] if pending else None, scale)
            flush()
            layers.append((key, LeakyIntegrator(opts["beta"])))
        elif kind == "I":
            r = _check_params(name, node, ("r",))["r"]
            if index != len(order) - 2 or not np.allclose(r * dt, 1.0):
                raise ValueError(
                    f"node {name!r} (I): only a last integrator with r = 1 / dt (a spike count "
                    f"readout) is supported; got r * dt = {float(np.mean(r * dt))}"
                )
            flush()
            layers.append((key, SpikeCount()))
            readout = None
        elif kind == "Flatten":
            flush()
            end = int(node.end_dim)
            layers.append((key, nn.Flatten(int(node.start_dim) + 2, end + 2 if end >= 0 else end)))
        else:  # AvgPool2d, SumPool2d
            flush()
            layers.append((key, PerStep(_pool_module(name, node))))
    flush()
    if readout == "last_membrane":
        layers.append(("last_membrane", LastMembrane()))
    elif readout not in (None, "spike_count"):
        raise ValueError(f"output node {order[-1]!r}: readout {readout!r} is not supported")
    return nn.Sequential(OrderedDict(layers))


def _as_affine(linear: nn.Linear) -> nn.Linear:
    if linear.bias is not None:
        return linear
    out = nn.Linear(linear.in_features, linear.out_features)
    out.weight.data = linear.weight.data.clone()
    out.bias.data.zero_()
    return out


def _pool_module(name: str, node: Any) -> nn.AvgPool2d:
    pair = nn.modules.utils._pair
    kernel = tuple(int(k) for k in np.atleast_1d(node.kernel_size))
    stride = tuple(int(k) for k in np.atleast_1d(node.stride))
    padding = tuple(int(k) for k in np.atleast_1d(node.padding))
    return nn.AvgPool2d(
        pair(kernel[0]) if len(kernel) == 1 else kernel,
        pair(stride[0]) if len(stride) == 1 else stride,
        pair(padding[0]) if len(padding) == 1 else padding,
        divisor_override=1 if type(node).__name__ == "SumPool2d" else None,
    )


def _check_graph_shapes(nir, graph: Any, nodes: dict[str, Any], order: list[str]) -> None:
    """Shapes along the chain: the weights' sizes against the neurons' and the declared types."""
    size = None  # features entering the next node, when known
    input_type = nodes[order[0]].output_type.get("output")
    if input_type is not None:
        size = int(np.prod(input_type))
    for name in order[1:-1]:
        node = nodes[name]
        kind = type(node).__name__
        if kind in ("Affine", "Linear"):
            weight = np.asarray(node.weight)
            if weight.ndim == 2 and size is not None and weight.shape[1] != size:
                raise ValueError(
                    f"node {name!r} ({kind}): weight of shape {weight.shape} takes "
                    f"{weight.shape[1]} inputs, but {size} arrive"
                )
            size = int(weight.shape[0]) if weight.ndim == 2 else None
        elif kind in _NEURONS or kind == "I":
            n = int(np.asarray(node.r).size)
            if size is not None and n != size:
                raise ValueError(
                    f"node {name!r} ({kind}) has {n} neurons, but {size} inputs arrive"
                )
        else:  # convolutions, pooling, flatten: sizes known from their types only
            out = node.output_type.get("output")
            size = int(np.prod(out)) if out is not None and np.size(out) else None


# ---------------------------------------------------------------------------------------------
# Reservoirs
# ---------------------------------------------------------------------------------------------


def export_reservoir(reservoir: Any) -> Any:
    """An ``nir.NIRGraph`` of an :class:`~spikesub.models.network.reservoir.LIFReservoir`:
    ``input -> reservoir``, ``reservoir -> recurrent -> reservoir`` (the recurrent edge),
    ``reservoir -> output``; ``metadata["dt"]`` is the reservoir's step in seconds.

    The population ``tau_ms dv/dt = -(v - v_rest) + resistance I`` is written as NIR's ``LIF``
    with ``tau = tau_ms / 1000`` (seconds), ``r = resistance``, ``v_leak = v_rest +
    resistance * bias_current`` (a constant current moves the resting potential),
    ``v_threshold = v_th``, ``v_reset = v_reset``; the graph's input is the external current
    ``I`` of each neuron. Recurrent synapses ``W[post, pre]`` (``SparseWeights.to_dense()``):

    * ``synapse="delta"`` (a spike adds ``w`` to ``v``): NIR has no jump of ``v``; as in
      snnTorch's convention a spike is an input of 1 held for one step ``dt``, which an Euler
      step turns into ``dt / tau * r * w'``, so the ``Linear`` node holds
      ``w' = W * tau_post / (r_post * dt)``;
    * ``synapse="exponential"`` (a spike adds ``w`` to a current decaying with
      ``tau_syn_ms``): NIR's ``CubaLIF`` with ``tau_syn = tau_syn_ms / 1000``,
      ``tau_mem = tau``, ``w_in = tau_syn / dt`` (so a spike adds ``w``) and the ``Linear``
      node ``W``. CubaLIF has a single input port, so the graph's external input passes
      through the synaptic filter as well, unlike the reservoir's (a documented difference).

    The reservoir integrates each step exactly and spikes at ``v >= v_th``; NIR's equations
    are continuous and spike at ``v > v_threshold``, so simulators that step them by Euler
    differ from the reservoir by the discretisation.

    Raises:
        TypeError: an Izhikevich (or other non-LIF) reservoir: NIR's neuron nodes (LIF,
            CubaLIF, IF, LI, I) have no recovery variable ``u``, so the Izhikevich model
            cannot be written in NIR.
        ValueError: options NIR cannot express: a refractory period, noise, double-exponential
            synapses, inhibitory homeostasis.
    """
    from spikesub.models.network.neurons import LIFPopulation

    nir = _nir()
    population = getattr(reservoir, "population", None)
    if not isinstance(population, LIFPopulation):
        raise TypeError(
            f"export_reservoir needs an LIFReservoir; got {type(reservoir).__name__} with a "
            f"{type(population).__name__} population. NIR's neuron nodes (LIF, CubaLIF, IF, LI, "
            "I) have no recovery variable u, so an Izhikevich reservoir cannot be written in "
            "NIR: build an LIFReservoir (ss.LIFPopulation) to export"
        )
    if float(population.refractory_ms) > 0:
        raise ValueError(
            f"reservoir: refractory_ms = {population.refractory_ms} has no NIR equivalent "
            "(NIR's LIF has no refractory period); use refractory_ms=0"
        )
    if bool(np.any(np.asarray(reservoir.noise_std) != 0)):
        raise ValueError("reservoir: noise_std != 0 (a noise current) has no NIR equivalent")
    if getattr(reservoir, "homeostasis", None) is not None:
        raise ValueError("reservoir: inhibitory homeostasis has no NIR equivalent")
    synapse = reservoir.synapse
    if synapse not in ("delta", "exponential"):
        raise ValueError(
            f"reservoir: synapse {synapse!r} has no NIR equivalent (delta and exponential do)"
        )
    n = int(population.n)
    p = population.parameters()
    dt = float(reservoir.dt_ms) * _MS
    tau = p["tau_ms"] * _MS
    r = p["resistance"]
    v_leak = p["v_rest"] + r * np.broadcast_to(np.asarray(reservoir.bias_current, float), (n,))
    meta = {"reset": "subtract"} if population.reset == "subtract" else {}
    if synapse == "delta":
        neuron = nir.LIF(
            tau=tau, r=r.copy(), v_leak=v_leak, v_threshold=p["v_th"].copy(),
            v_reset=p["v_reset"].copy(), metadata=meta,
        )  # fmt: skip
        scale = tau / (r * dt)
    else:
        tau_syn = np.full(n, float(reservoir.tau_syn_ms) * _MS)
        neuron = nir.CubaLIF(
            tau_syn=tau_syn, tau_mem=tau, r=r.copy(), v_leak=v_leak,
            v_threshold=p["v_th"].copy(), v_reset=p["v_reset"].copy(), w_in=tau_syn / dt,
            metadata=meta,
        )  # fmt: skip
        scale = np.ones(n)
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([n])}),
        "reservoir": neuron,
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "reservoir"), ("reservoir", "output")]
    if reservoir.weights is not None:
        weights = reservoir.weights
        dense = weights.to_dense() if hasattr(weights, "to_dense") else weights
        dense = np.asarray(dense, dtype=np.float64)
        nodes["recurrent"] = nir.Linear(weight=dense * scale[:, None])
        edges += [("reservoir", "recurrent"), ("recurrent", "reservoir")]
    graph = nir.NIRGraph(
        nodes=nodes,
        edges=edges,
        metadata={"dt": dt, "source": "spikesub", "synapse": synapse},
        type_check=False,
    )
    _infer_types(graph)
    return graph
