"""snnTorch interop: run ``snntorch.Leaky`` layers on the fused LIF kernels.

* :func:`from_snntorch_leaky`: a multi-step :class:`~spikesub.models.snn.layers.LIF` with a
  ``Leaky``'s parameters, for whole ``(T, B, ...)`` sequences;
* :class:`LeakyStep`: a single-step drop-in for ``Leaky`` (snnTorch's call convention), and
  :func:`swap_snntorch_leaky`, which puts one in place of every ``Leaky`` of a model, so that
  a user's own time loop runs unchanged.

The snnTorch idioms a swapped model keeps: ``spk, mem = lif(x, mem)`` with
``mem = lif.init_leaky()`` (or ``reset_mem()``), ``init_hidden=True`` (the membrane kept in
``lif.mem``), ``output=True``, ``reset_mechanism`` ``"subtract"``, ``"zero"`` and ``"none"``,
``learn_beta``, ``learn_threshold``, and ``snntorch.utils.reset(net)``, which the first swap
wraps so that it zeroes the membranes of a net's :class:`LeakyStep` layers as well. Other
snnTorch neurons (``Synaptic``, ``Alpha``, ``RLeaky``, ...) stay as they are, and the swap
says so in one warning that names them.

snnTorch is imported only when a conversion needs it.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import torch
from torch import nn

from spikesub.kernels.lif_sequence import SURROGATE_IDS
from spikesub.models.snn.functional import (
    _RESET_IDS,
    RESET_MODES,
    LIFSequenceFunction,
    _resolve_lif_backend,
    lif_sequence,
)
from spikesub.models.snn.layers import LIF, LIFParameters
from spikesub.models.snn.surrogate import SpikeFunction
from spikesub.models.snn.validation import (
    broadcast_param,
    check_float_tensor,
    check_threshold_values,
)

_SNNTORCH_SURROGATES = {
    "atan": ("atan", "alpha"),
    "fast_sigmoid": ("fast_sigmoid", "slope"),
    "sigmoid": ("sigmoid", "slope"),
    "straight_through_estimator": ("straight_through", None),
}


def _snntorch_surrogate(leaky: nn.Module) -> tuple[str, float]:
    """Name and slope of an snnTorch ``spike_grad`` built by ``snntorch.surrogate``."""
    fn = leaky.spike_grad
    if getattr(leaky, "surrogate_disable", False):
        raise ValueError("leaky uses surrogate_disable=True, which has no surrogate to reproduce")
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", "")
    factory = qualname.split(".<locals>")[0]
    if module != "snntorch.surrogate" or factory not in _SNNTORCH_SURROGATES:
        raise ValueError(
            f"leaky.spike_grad {qualname or fn!r} is not supported; supported snntorch.surrogate "
            f"factories: {tuple(_SNNTORCH_SURROGATES)}"
        )
    name, slope_var = _SNNTORCH_SURROGATES[factory]
    if slope_var is None:
        return name, 1.0
    cells = [c.cell_contents for c in fn.__closure__ or ()]
    closure = dict(zip(fn.__code__.co_freevars, cells, strict=True))
    return name, float(closure[slope_var])


def _leaky_options(leaky: nn.Module) -> dict[str, Any]:
    try:
        import snntorch
    except ImportError as exc:  # pragma: no cover - snntorch is an optional dependency
        raise ImportError("snntorch is needed to convert snntorch.Leaky layers") from exc
    if not isinstance(leaky, snntorch.Leaky):
        raise TypeError(f"leaky must be a snntorch.Leaky; got {type(leaky).__name__}")
    reset = leaky.reset_mechanism
    if reset not in (*RESET_MODES, "none"):
        raise ValueError(
            f"leaky.reset_mechanism must be one of {(*RESET_MODES, 'none')}; got {reset!r}"
        )
    if not getattr(leaky, "reset_delay", True):
        raise ValueError("leaky.reset_delay=False is not supported (only snnTorch's default True)")
    if leaky.inhibition:
        raise ValueError("leaky.inhibition=True is not supported")
    if leaky.state_quant:
        raise ValueError("leaky.state_quant is not supported")
    gsf = leaky.graded_spikes_factor
    if isinstance(gsf, nn.Parameter) or bool((torch.as_tensor(gsf) != 1).any()):
        raise ValueError("leaky.graded_spikes_factor must be 1 (not learnable) to convert")
    surrogate, slope = _snntorch_surrogate(leaky)
    return {
        "beta": leaky.beta.detach().clone(),
        "threshold": leaky.threshold.detach().clone(),
        "learn_beta": isinstance(leaky.beta, nn.Parameter),
        "learn_threshold": isinstance(leaky.threshold, nn.Parameter),
        "reset": reset,
        "surrogate": surrogate,
        "slope": slope,
        "init_hidden": bool(leaky.init_hidden),
        "output": bool(leaky.output),
    }


def from_snntorch_leaky(leaky: nn.Module, *, backend: str = "auto") -> LIF:
    """A multi-step :class:`LIF` with the parameters of a ``snntorch.Leaky``.

    ``beta``, ``threshold`` (values, and whether they are learnable), reset mechanism and
    surrogate (atan, fast_sigmoid, sigmoid, straight-through estimator, with their slope)
    are copied. The result runs over whole ``(T, B, ...)`` sequences.

    Raises:
        TypeError: ``leaky`` is not a ``snntorch.Leaky``.
        ValueError: it uses an option without an equivalent (reset "none", inhibition,
            graded spikes, ``reset_delay=False``, state quantisation, other surrogates).
    """
    opts = _leaky_options(leaky)
    if opts["reset"] == "none":
        raise ValueError(
            'leaky.reset_mechanism="none" is not supported by the multi-step LIF (its kernels '
            "reset); swap_snntorch_leaky's LeakyStep runs it"
        )
    opts.pop("init_hidden")
    opts.pop("output")
    return LIF(**opts, backend=backend)


class LeakyStep(LIFParameters):
    """Single-step drop-in for ``snntorch.Leaky`` on the fused kernels.

    Follows snnTorch's call convention: ``spk, mem = layer(x_t, mem)`` (or, with
    ``init_hidden=True``, ``spk = layer(x_t)`` keeping the membrane in ``self.mem``, and
    ``spk, mem`` when ``output=True``). ``x_t`` has any shape; ``beta``/``threshold``
    broadcast against it as in snnTorch. Without ``mem`` the stored membrane is used
    (zeros when its shape does not match), as in snnTorch. ``reset="none"`` (snnTorch's
    ``reset_mechanism="none"``: the membrane is never reset) runs as plain PyTorch
    operations; the other resets run the fused kernel. Build it with
    :func:`swap_snntorch_leaky` or :meth:`from_leaky`.
    """

    def __init__(
        self,
        beta: torch.Tensor | float = 0.9,
        threshold: torch.Tensor | float = 1.0,
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset: str = "subtract",
        surrogate: str = "atan",
        slope: float = 2.0,
        init_hidden: bool = False,
        output: bool = False,
        backend: str = "auto",
    ) -> None:
        no_reset = reset == "none"
        super().__init__(
            beta,
            threshold,
            learn_beta,
            learn_threshold,
            "zero" if no_reset else reset,
            surrogate,
            slope,
            backend,
        )
        if no_reset:
            self.reset = "none"
        self.init_hidden = bool(init_hidden)
        self.output = bool(output)
        self.register_buffer("mem", torch.zeros(0), persistent=False)
        self._resolved_backends: dict[torch.device, str] = {}
        self._checked_threshold: tuple[int, int] | None = None

    @classmethod
    def from_leaky(cls, leaky: nn.Module, *, backend: str = "auto") -> LeakyStep:
        """Build from a ``snntorch.Leaky`` (same checks as :func:`from_snntorch_leaky`)."""
        layer = cls(**_leaky_options(leaky), backend=backend)
        return layer.to(leaky.beta.device)

    def reset_mem(self) -> torch.Tensor:
        """Zero the stored membrane (snnTorch's ``reset_mem``)."""
        self.mem = torch.zeros_like(self.mem)
        return self.mem

    def init_leaky(self) -> torch.Tensor:
        """snnTorch's older name of :meth:`reset_mem`."""
        return self.reset_mem()

    def detach_hidden(self) -> None:
        """Detach the stored membrane from the graph (truncated BPTT)."""
        self.mem = self.mem.detach()

    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):
        """One step: returns ``spk, mem`` (or ``spk`` with ``init_hidden`` and not ``output``)."""
        if self.init_hidden and mem is not None:
            raise TypeError("`mem` should not be passed as an argument while `init_hidden=True`")
        check_float_tensor("input_", input_)
        if mem is not None:
            self.mem = mem
        if self.mem.shape != input_.shape:
            self.mem = torch.zeros_like(input_)
        shape = input_.shape
        if self.reset == "none":
            mem = self.beta.clamp(0, 1) * self.mem + input_
            spk = SpikeFunction.apply(mem - self.threshold, self.surrogate, self.slope)
            self.mem = mem
            if self.init_hidden and not self.output:
                return spk
            return spk, mem
        fast = self._kernel_step(input_)
        if fast is None:
            beta = broadcast_param("beta", self.beta, shape)
            threshold = broadcast_param("threshold", self.threshold, shape)
            spk, new_mem = lif_sequence(
                input_.reshape(1, 1, -1),
                beta,
                threshold,
                self.mem.reshape(1, -1).to(input_.dtype),
                reset=self.reset,
                surrogate=self.surrogate,
                slope=self.slope,
                backend=self.backend,
                clamp_beta=True,
            )
        else:
            spk, new_mem = fast
        spk = spk.view(shape)
        self._buffers["mem"] = new_mem.view(shape)  # nn.Module.__setattr__ costs a step's 2 %
        if self.init_hidden and not self.output:
            return spk
        return spk, self.mem

    def _kernel_step(self, input_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """One step straight through the kernels' autograd function, or None where
        :func:`lif_sequence` must run (and check) it.

        A per-step loop calls this once per layer and step, so it does per call only what a
        step needs: ``beta`` and ``threshold`` as ``(F,)`` over the trailing dimensions they
        cover (``input_``'s leading ones count as batch, not copied per element as a full
        broadcast would), the kernel backend resolved once per device, and the threshold's
        range checked again only when the tensor has changed (its version counter moved).
        ``input_`` is not checked for non-finite values each step (as in snnTorch).
        """
        beta, threshold = self.beta, self.threshold
        shape = input_.shape
        n_tail = max(beta.dim(), threshold.dim(), 1)
        if (
            n_tail > len(shape)
            or beta.device != input_.device
            or threshold.device != input_.device
            or input_.numel() == 0
        ):
            return None
        backend = self._resolved_backends.get(input_.device)
        if backend is None:
            backend = _resolve_lif_backend(self.backend, input_, self.surrogate)
            self._resolved_backends[input_.device] = backend
        if backend == "torch":
            return None
        tail = shape[len(shape) - n_tail :]
        features = math.prod(tail)
        beta_f = broadcast_param("beta", beta, tail).to(input_.dtype).clamp(0, 1)
        threshold_f = broadcast_param("threshold", threshold, tail).to(input_.dtype)
        version = (threshold._version, id(threshold))
        if version != self._checked_threshold:
            check_threshold_values(threshold_f.detach())
            self._checked_threshold = version
        mem0 = self.mem.reshape(-1, features)
        if mem0.dtype != input_.dtype:
            mem0 = mem0.to(input_.dtype)
        return LIFSequenceFunction.apply(
            input_.reshape(1, -1, features),
            beta_f,
            threshold_f,
            mem0,
            _RESET_IDS[self.reset],
            SURROGATE_IDS[self.surrogate],
            self.slope,
            backend,
            None,
        )


def _reset_leaky_steps(reset):
    """``snntorch.utils.reset`` that also zeroes the :class:`LeakyStep` layers of ``net``."""

    @functools.wraps(reset)
    def wrapper(net):
        out = reset(net)
        for module in net.modules():
            if isinstance(module, LeakyStep):
                module.reset_mem()
        return out

    wrapper._spikesub_wraps = reset
    return wrapper


def _wrap_snntorch_reset() -> None:
    """Wrap ``snntorch.utils.reset`` once, so that ``utils.reset(net)`` resets swapped layers."""
    import snntorch.utils

    if not hasattr(snntorch.utils.reset, "_spikesub_wraps"):
        snntorch.utils.reset = _reset_leaky_steps(snntorch.utils.reset)


def swap_snntorch_leaky(model: nn.Module, *, backend: str = "auto") -> nn.Module:
    """Replace every ``snntorch.Leaky`` in ``model`` by an equivalent :class:`LeakyStep`.

    The replacement keeps snnTorch's single-step call convention, so a user's time loop
    (``spk, mem = lif(x_t, mem)``, or ``nn.Sequential`` with ``init_hidden=True``) runs
    unchanged. Modules are replaced in place; returns ``model`` (or the replacement when
    ``model`` itself is a ``Leaky``). Stored membranes are reset by ``LeakyStep.reset_mem``
    or by ``snntorch.utils.reset(net)``, which this function wraps (once per process) so that
    it resets :class:`LeakyStep` layers as well.

    Other snnTorch neurons (``Synaptic``, ``Alpha``, ``RLeaky``, ``RSynaptic``, ``Lapicque``,
    ...) have no fused kernel here: they are left in place, and one ``UserWarning`` names
    their types.
    """
    import snntorch

    _wrap_snntorch_reset()
    if isinstance(model, snntorch.Leaky):
        return LeakyStep.from_leaky(model, backend=backend)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    left: set[str] = set()
    _swap(model, backend, snntorch, left)
    if left:
        warnings.warn(
            f"swap_snntorch_leaky: left {', '.join(sorted(left))} as snnTorch modules (only "
            "snntorch.Leaky runs on the fused kernels)",
            UserWarning,
            stacklevel=2,
        )
    return model


def _swap(model: nn.Module, backend: str, snntorch: Any, left: set[str]) -> None:
    for name, child in list(model.named_children()):
        if isinstance(child, snntorch.Leaky):
            setattr(model, name, LeakyStep.from_leaky(child, backend=backend))
        elif isinstance(child, snntorch.SpikingNeuron):
            left.add(type(child).__name__)
        else:
            _swap(child, backend, snntorch, left)
