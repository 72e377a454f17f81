"""The lateral Hebbian circuit of one layer (HLOP, Xiao et al., ICLR 2024).

``k`` lateral neurons see the presynaptic activity ``x`` ``(n,)`` of a layer through weights
``H`` ``(k, n)``: ``y = H x``, and feed back ``x_hat = H^T y``. The rows are split into
``H_old`` ``(k_old, n)`` — frozen, the subspace protected for earlier tasks — and ``H_new``
``(k_new, n)``, which learn with a Hebbian / anti-Hebbian rule on the current task's activity:

* Oja's subspace rule: ``dH_new = mean_b y_new (x - H^T y)^T`` — Hebbian ``y x^T`` and
  anti-Hebbian ``-y y^T H``, the feedback going through ALL rows (old and new);
* GHA (Sanger): ``dH_new = mean_b [y_new x^T - LT(y y^T)_new H]`` with ``LT`` the lower
  triangle (diagonal included), rows ordered old then new; it yields ordered eigenvectors.

Both drive the new rows to an orthonormal basis of the principal subspace of the residual
``x - H_old^T H_old x`` of the activity (the uncentred second moment ``E[x x^T]``, which is
the span weight gradients live in), so after :meth:`HebbianSubspace.freeze` the rows of all
tasks together span the principal subspace of all tasks' activity.

Step size: the update is ``H_new += lr * v / e`` with ``v`` the momentum-filtered update
(``v <- momentum * v + dH``) and ``e`` the batch's mean squared norm of the residual
activity (``step_norm="trace"``, ``>= the largest residual eigenvalue``) or that largest
eigenvalue itself (``step_norm="top"``), which makes ``lr`` dimensionless and the rule
stable for ``lr < 1`` whatever the scale of ``x``. ``clamp`` bounds each element of
the step to ``[-clamp, clamp]``, ``max_norm`` the length of each row. ``n_iters`` repeats
the update on the same batch. A batch so large (or so small) that its squares would overflow
(or underflow) the weights' dtype is first scaled by a power of two, which the normalised
step does not see; NaN or infinite activity is refused, and a call whose update would leave
non-finite weights restores them and raises :class:`SubspaceDivergedError`.

Spiking mode: the lateral neurons are integrate-and-fire neurons driven by the current
``H x`` for ``spike_steps`` steps. Signed outputs use an ON and an OFF population (driven by
``relu(Hx)`` and ``relu(-Hx)``); each neuron's threshold is the batch's largest ``|Hx|``
for it (a gain control, so rates stay within one spike per step), its membrane starts at a
uniform random fraction of the threshold (dither: the count is then an unbiased estimate of
``drive * steps / threshold``), reset by subtraction. The post-synaptic trace is
``y = threshold * (count_on - count_off) / steps``, the presynaptic trace is ``x`` itself,
and the same Oja / GHA updates use this spiking ``y`` both in the Hebbian term and in the
feedback ``x_hat = H^T y``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch

from spikesub.continual.projection import (
    GradientProjector,
    orthonormal_basis,
    residual_spectrum,
    select_k,
)
from spikesub.models.errors import SpikesubError
from spikesub.models.memory import check_allocation
from spikesub.models.snn.validation import check_finite_tensor
from spikesub.models.validation import check_choice, check_int, check_real, size_in_bytes

__all__ = ["HEBBIAN_MODES", "HEBBIAN_RULES", "HebbianSubspace", "SubspaceDivergedError"]

HEBBIAN_RULES: tuple[str, ...] = ("oja", "gha")
"""Learning rules of the lateral weights."""

HEBBIAN_MODES: tuple[str, ...] = ("rate", "spiking")
"""``"rate"``: ``y = H x``; ``"spiking"``: IF ON/OFF neurons' spike counts."""

STEP_NORMS: tuple[str, ...] = ("trace", "top")
"""What the step size is divided by: the residual's mean squared norm, or its largest
eigenvalue (power iteration)."""


class SubspaceDivergedError(SpikesubError, FloatingPointError):
    """A Hebbian update made the lateral weights NaN or infinite; the subspace was restored
    to its state at the start of the call."""


def _power_of_two_scaled(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` in ``dtype``, times a power of two that brings its largest magnitude near 1 when
    the products the update forms (squares of ``x`` summed over a batch and its inputs) could
    overflow or underflow ``dtype``; unscaled otherwise.

    The rule does not depend on the scale of ``x`` (its step is divided by the energy of the
    batch, and the spiking thresholds follow the drive), and a power of two changes no
    rounding, so this only keeps extreme batches (``1e30`` in float32) finite.
    """
    if not x.is_floating_point():
        x = x.double()
    if x.numel() == 0:
        return x.to(dtype)
    peak = float(x.abs().max())
    info = torch.finfo(dtype)
    high = math.sqrt(info.max / x.numel()) / 4.0
    low = math.sqrt(info.tiny) * 1024.0
    if peak == 0.0 or low <= peak <= high:
        return x.to(dtype)
    shift = -math.frexp(peak)[1]  # up to 1074 for a subnormal peak: scale in two halves
    half = shift // 2
    return (x.double() * 2.0**half * 2.0 ** (shift - half)).to(dtype)


class HebbianSubspace:
    """Lateral Hebbian neurons that learn the principal subspace of a layer's activity.

    Args:
        n_inputs: ``n``, the length of an activity row.
        rule: ``"oja"`` (subspace rule) or ``"gha"`` (Sanger's generalised Hebbian rule).
        mode: ``"rate"`` or ``"spiking"`` (see the module docstring).
        lr: dimensionless step size, in (0, 1] (normalised by the residual energy).
        momentum: momentum of the update, in [0, 1).
        n_iters: Hebbian iterations per batch, >= 1.
        clamp: bound on each element of a step (None: no bound), > 0.
        spike_steps: simulation steps of the spiking lateral neurons, >= 1.
        step_norm: ``"trace"`` (divide the step by the batch's mean squared residual norm)
            or ``"top"`` (by the largest eigenvalue of the residual's second moment,
            estimated by ``power_iters`` warm-started power iterations per batch: larger
            steps, faster convergence of the weaker directions, still stable for lr < 1).
        power_iters: power iterations per batch for ``step_norm="top"``, >= 1.
        init_scale: norm of the initial rows added by :meth:`add_neurons`, > 0.
        max_norm: rows longer than this after a step are scaled back to it (> 1; None: no
            bound). The rules' fixed points have unit rows, so this only tames transients
            (large steps with momentum can otherwise overshoot and diverge).
        seed: seed of the initial rows and of the spiking dither.
        dtype: dtype of the weights (float32 default).

    Attributes:
        H_old: ``(k_old, n)`` frozen rows; H_new: ``(k_new, n)`` learning rows.
    """

    def __init__(
        self,
        n_inputs: int,
        *,
        rule: str = "oja",
        mode: str = "rate",
        lr: float = 0.5,
        momentum: float = 0.0,
        n_iters: int = 1,
        clamp: float | None = None,
        spike_steps: int = 32,
        step_norm: str = "top",
        power_iters: int = 4,
        init_scale: float = 0.1,
        max_norm: float | None = 1.5,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.n_inputs = check_int("n_inputs", n_inputs, minimum=1)
        self.rule = check_choice("rule", rule, HEBBIAN_RULES)
        self.mode = check_choice("mode", mode, HEBBIAN_MODES)
        self.lr = check_real("lr", lr, low=0.0, high=1.0, low_open=True)
        self.momentum = check_real("momentum", momentum, low=0.0, high=0.999999)
        self.n_iters = check_int("n_iters", n_iters, minimum=1)
        self.clamp = None if clamp is None else check_real("clamp", clamp, low=0.0, low_open=True)
        self.spike_steps = check_int("spike_steps", spike_steps, minimum=1)
        self.step_norm = check_choice("step_norm", step_norm, STEP_NORMS)
        self.power_iters = check_int("power_iters", power_iters, minimum=1)
        self._power_vector: torch.Tensor | None = None
        self.init_scale = check_real("init_scale", init_scale, low=0.0, low_open=True)
        self.max_norm = (
            None if max_norm is None else check_real("max_norm", max_norm, low=1.0, low_open=True)
        )
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
        self.seed = check_int("seed", seed, minimum=0, maximum=2**63 - 1)
        self.dtype = dtype
        self.generator = torch.Generator().manual_seed(self.seed)
        self.H_old = torch.zeros((0, self.n_inputs), dtype=dtype)
        self.H_new = torch.zeros((0, self.n_inputs), dtype=dtype)
        self.velocity = torch.zeros_like(self.H_new)
        self.n_updates = 0
        self.hebbian_seconds = 0.0
        self._old_projector: GradientProjector | None = None

    # -- sizes ------------------------------------------------------------------------------

    @property
    def k_old(self) -> int:
        return int(self.H_old.shape[0])

    @property
    def k_new(self) -> int:
        return int(self.H_new.shape[0])

    @property
    def k(self) -> int:
        """All lateral neurons, old and new."""
        return self.k_old + self.k_new

    @property
    def H(self) -> torch.Tensor:
        """All rows, old then new, ``(k, n)``."""
        return torch.cat([self.H_old, self.H_new])

    # -- structure --------------------------------------------------------------------------

    def add_neurons(self, k: int) -> None:
        """Add ``k`` learning rows with random directions of norm ``init_scale`` (seeded)."""
        k = check_int("k", k, minimum=0)
        if self.k + k > self.n_inputs:
            raise ValueError(
                f"k = {k} would give {self.k + k} lateral neurons for n_inputs = "
                f"{self.n_inputs}; at most {self.n_inputs - self.k} can be added"
            )
        if k == 0:
            return
        # the float64 draw, the rows in the weights' dtype and their velocity
        check_allocation(
            f"add_neurons(k={k:,}) for n_inputs = {self.n_inputs:,}",
            size_in_bytes(3 * 8, k, self.n_inputs),
        )
        rows = torch.randn((k, self.n_inputs), generator=self.generator, dtype=torch.float64)
        rows = rows / rows.norm(dim=1, keepdim=True) * self.init_scale
        rows = rows.to(self.dtype)
        self.H_new = torch.cat([self.H_new, rows])
        self.velocity = torch.cat([self.velocity, torch.zeros_like(rows)])

    def freeze(self) -> None:
        """Move the learning rows into ``H_old`` (they stop learning and become protected)."""
        self.H_old = torch.cat([self.H_old, self.H_new])
        self.H_new = self.H_new.new_zeros((0, self.n_inputs))
        self._old_projector = None
        self.velocity = torch.zeros_like(self.H_new)

    def basis(self, *, include_new: bool = False) -> torch.Tensor:
        """Orthonormal basis ``(n, k_old)`` of span(H_old) (QR), float32; with
        ``include_new`` of span(H_old, H_new)."""
        rows = self.H if include_new else self.H_old
        return orthonormal_basis(rows.T.double()).float()

    # -- dynamics ---------------------------------------------------------------------------

    def _check_x(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """``x`` detached, after checking it is a real ``(B, n)`` tensor of finite values (the
        message names the first NaN / inf, e.g. ``x[3, 17]``)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
        if x.is_complex():
            raise TypeError(f"{name} must be a real tensor; got {x.dtype}")
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"{name} must have shape (B, {self.n_inputs}); got {tuple(x.shape)}")
        return check_finite_tensor(name, x.detach())

    def _in_dtype(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Checked ``x`` in the weights' dtype; ValueError if its values do not fit there."""
        x = self._check_x(x, name)
        converted = x.to(self.dtype)
        if x.dtype != self.dtype and x.numel() and not bool(torch.isfinite(converted).all()):
            raise ValueError(
                f"{name} has values too large for {self.dtype} (largest magnitude "
                f"{float(x.abs().max()):g}); rescale it"
            )
        return converted

    def _rows(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Checked activity rows for learning, in the weights' dtype, rescaled by a power of
        two where their magnitude would overflow or underflow the update."""
        return _power_of_two_scaled(self._check_x(x, name), self.dtype)

    def lateral_output(self, x: torch.Tensor) -> torch.Tensor:
        """Output ``y`` ``(B, k)`` of all lateral neurons for activity rows ``x`` ``(B, n)``.

        Raises:
            TypeError: ``x`` is not a real tensor.
            ValueError: another shape, a NaN / inf (the first one named), or values too
                large for the weights' dtype.
        """
        x = self._in_dtype(x)
        return self._output(x, self.H)

    def _output(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        drive = x @ h.T
        if self.mode == "rate" or drive.numel() == 0:
            return drive
        threshold = drive.abs().amax(dim=0, keepdim=True).clamp_min(1e-12)
        counts = torch.zeros_like(drive)
        for sign in (1.0, -1.0):
            current = (sign * drive).clamp_min(0.0)
            mem = threshold * torch.rand(drive.shape, generator=self.generator, dtype=drive.dtype)
            count = torch.zeros_like(drive)
            for _ in range(self.spike_steps):
                mem = mem + current
                spk = (mem >= threshold).to(drive.dtype)
                mem = mem - spk * threshold
                count = count + spk
            counts = counts + sign * count
        return threshold * counts / self.spike_steps

    def update(self, x: torch.Tensor, *, lr_scale: float = 1.0) -> None:
        """Hebbian learning of ``H_new`` on one batch of activity rows ``x`` ``(B, n)``
        (``n_iters`` iterations, step size ``lr * lr_scale``). Does nothing when there are
        no learning rows.

        Raises:
            TypeError: ``x`` is not a real tensor.
            ValueError: another shape or a NaN / inf in ``x`` (the first one named); the
                weights are left unchanged.
            SubspaceDivergedError: the weights became non-finite; they are restored.
        """
        x = self._rows(x)
        lr_scale = check_real("lr_scale", lr_scale, low=0.0, high=1.0, low_open=True)
        if self.k_new == 0 or x.shape[0] == 0:
            return
        start = time.perf_counter()
        saved = self._learning_state()
        prepared = self._prepare(x)
        if prepared is not None:
            self._iterate(*prepared, lr_scale)
        self._check_learnt(saved)
        self.hebbian_seconds += time.perf_counter() - start

    def _learning_state(self) -> tuple:
        """What a Hebbian call changes, to restore it if the call diverges."""
        vector = None if self._power_vector is None else self._power_vector.clone()
        return self.H_new.clone(), self.velocity.clone(), vector, self.n_updates

    def _check_learnt(self, saved: tuple) -> None:
        """Restore ``saved`` and raise if the learning rows are no longer finite."""
        if bool(torch.isfinite(self.H_new).all()) and bool(torch.isfinite(self.velocity).all()):
            return
        self.H_new, self.velocity, self._power_vector, self.n_updates = saved
        raise SubspaceDivergedError(
            "the Hebbian update made the lateral weights non-finite; they were restored to "
            "the start of the call; lower lr or set max_norm"
        )

    def learn(
        self,
        batches: Sequence[torch.Tensor],
        *,
        epochs: int = 1,
        lr_final: float = 1.0,
        updates: int | None = None,
    ) -> None:
        """Hebbian learning over recorded batches of activity rows, ``epochs`` passes.

        As :meth:`update` on every batch of every pass, with the step decaying linearly
        from ``lr`` to ``lr_final * lr`` over all the updates; each batch's residual
        ``x - H_old^T y_old`` and step normalisation are computed once, since the frozen
        rows do not change (in spiking mode the old neurons' spikes are drawn once per
        batch), so a pass after the first costs only the iterations on ``H_new``.

        Args:
            batches: a non-empty sequence of activity rows ``(B_i, n)`` per batch.
            epochs: passes over ``batches`` (0: nothing is learnt).
            lr_final: final fraction of the step, in (0, 1].
            updates: the number of batch updates instead, the batches taken in turn
                (``epochs * len(batches)`` when None; 0: nothing is learnt).

        Raises:
            TypeError: ``batches`` is not a sequence of real tensors.
            ValueError: ``batches`` is empty, or a batch has another shape or a NaN / inf
                (named as ``batches[i][row, column]``); the weights are left unchanged.
            SubspaceDivergedError: the weights became non-finite; they are restored.
        """
        epochs = check_int("epochs", epochs, minimum=0)
        lr_final = check_real("lr_final", lr_final, low=0.0, high=1.0, low_open=True)
        if updates is not None:
            updates = check_int("updates", updates, minimum=0)
        if isinstance(batches, torch.Tensor) or not isinstance(batches, Sequence):
            raise TypeError(
                f"batches must be a list of (B, {self.n_inputs}) tensors; "
                f"got {type(batches).__name__}"
            )
        if len(batches) == 0:
            raise ValueError("batches is empty; give at least one batch of activity rows")
        rows = [self._rows(x, f"batches[{i}]") for i, x in enumerate(batches)]
        if self.k_new == 0 or epochs == 0 or updates == 0:
            return
        start = time.perf_counter()
        saved = self._learning_state()
        prepared = [self._prepare(x) for x in rows]
        prepared = [p for p in prepared if p is not None]
        if prepared:
            n_updates = epochs * len(prepared) if updates is None else updates
            total = max(n_updates - 1, 1)
            for done in range(n_updates):
                x, residual, energy = prepared[done % len(prepared)]
                # fast convergence first, little noise left in the rows that will be frozen
                scale = 1.0 - (1.0 - lr_final) * min(done / total, 1.0)
                self._iterate(x, residual, energy, scale)
        self._check_learnt(saved)
        self.hebbian_seconds += time.perf_counter() - start

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """``(x, residual, energy)`` of a batch, or None when it carries no energy."""
        if x.shape[0] == 0:
            return None
        # The frozen rows' output and feedback do not change during the iterations: the
        # residual r = x - H_old^T y_old is computed once, and each iteration costs O(k_new).
        if self.k_old and self.mode == "rate":
            # x - H_old^T H_old x, in the cheapest form for the number of frozen rows
            if self._old_projector is None:
                self._old_projector = GradientProjector.from_lateral(self.H_old).to(
                    "cpu", self.dtype
                )
            residual = self._old_projector.apply(x)
        elif self.k_old:
            residual = x - self._output(x, self.H_old) @ self.H_old
        else:
            residual = x
        energy = self._step_scale(residual)
        if energy <= 0.0:
            return None
        return x, residual, energy

    def _iterate(
        self, x: torch.Tensor, residual: torch.Tensor, energy: float, lr_scale: float
    ) -> None:
        """``n_iters`` Hebbian iterations of ``H_new`` on one prepared batch."""
        batch = x.shape[0]
        step_size = self.lr * lr_scale / energy
        for _ in range(self.n_iters):
            h_new = self.H_new
            y_new = self._output(x, h_new)
            if self.rule == "oja":
                delta = y_new.T @ (residual - y_new @ h_new) / batch
            else:
                delta = (y_new.T @ residual - torch.tril(y_new.T @ y_new) @ h_new) / batch
            self.velocity = self.momentum * self.velocity + delta
            step = step_size * self.velocity
            if self.clamp is not None:
                step = step.clamp(-self.clamp, self.clamp)
            h_new = self.H_new + step
            if self.max_norm is not None:
                norms = h_new.norm(dim=1, keepdim=True)
                h_new = h_new * (self.max_norm / norms.clamp_min(self.max_norm))
            self.H_new = h_new
            self.n_updates += 1

    def _step_scale(self, residual: torch.Tensor) -> float:
        """The energy the step is normalised by (see ``step_norm``)."""
        batch = residual.shape[0]
        if self.step_norm == "trace":
            return float((residual * residual).sum()) / batch
        # largest eigenvalue of residual^T residual / B: power iteration, warm-started
        v = self._power_vector
        if v is None or v.shape[0] != self.n_inputs or float(v.norm()) == 0.0:
            v = torch.ones(self.n_inputs, dtype=self.dtype)
        v = v.to(residual.dtype)
        top = 0.0
        for _ in range(self.power_iters):
            w = residual.T @ (residual @ v) / batch
            top = float(w.norm())
            if top == 0.0:
                return 0.0
            v = w / top
        self._power_vector = v
        return top

    # -- energy criterion -------------------------------------------------------------------

    def choose_k(
        self,
        x: torch.Tensor | None = None,
        energy_threshold: float = 0.97,
        *,
        gram: torch.Tensor | None = None,
    ) -> int:
        """New neurons needed so span(H_old) plus them captures ``energy_threshold`` of the
        energy (a fraction in [0, 1], not a firing threshold).

        The energy of activity rows ``x`` ``(N, n)`` (or of their Gram matrix ``gram`` =
        ``x^T x``) is ``||x||^2``; the part inside span(H_old) counts as protected, and the
        residual's eigenvalues are added largest first (GPM's residual SVD criterion).

        Raises:
            TypeError: ``x`` or ``gram`` is not a real tensor.
            ValueError: wrong shapes, neither given, or a NaN / inf in ``x`` or ``gram`` (the
                first one named), before any linear algebra.
        """
        threshold = check_real("energy_threshold", energy_threshold, low=0.0, high=1.0)
        # the Gram matrix, the projected one and the eigenvectors, float64
        check_allocation(
            f"choose_k for n_inputs = {self.n_inputs:,}",
            size_in_bytes(3 * 8, self.n_inputs, self.n_inputs),
        )
        if gram is None:
            if x is None:
                raise ValueError("choose_k needs activity rows x or their gram matrix")
            # energy fractions do not depend on the scale of x: extreme rows are rescaled
            xd = _power_of_two_scaled(self._check_x(x), torch.float64)
            gram = xd.T @ xd
        else:
            if not isinstance(gram, torch.Tensor) or gram.is_complex():
                raise TypeError(f"gram must be a real torch.Tensor; got {type(gram).__name__}")
            if tuple(gram.shape) != (self.n_inputs, self.n_inputs):
                raise ValueError(
                    f"gram must have shape ({self.n_inputs}, {self.n_inputs}); "
                    f"got {tuple(gram.shape)}"
                )
            check_finite_tensor("gram", gram)
        basis = self.basis() if self.k_old else None
        energies, _, total = residual_spectrum(gram, basis)
        protected = max(total - float(energies.sum()), 0.0)
        k = select_k(energies, total, protected, threshold)
        return min(k, self.n_inputs - self.k)

    # -- state ------------------------------------------------------------------------------

    def config(self) -> dict:
        return {
            "n_inputs": self.n_inputs,
            "rule": self.rule,
            "mode": self.mode,
            "lr": self.lr,
            "momentum": self.momentum,
            "n_iters": self.n_iters,
            "clamp": self.clamp,
            "spike_steps": self.spike_steps,
            "step_norm": self.step_norm,
            "power_iters": self.power_iters,
            "init_scale": self.init_scale,
            "max_norm": self.max_norm,
            "seed": self.seed,
        }

    def state_dict(self) -> dict:
        """Weights, momentum, random state and counters (tensors cloned)."""
        return {
            "config": self.config(),
            "H_old": self.H_old.clone(),
            "H_new": self.H_new.clone(),
            "velocity": self.velocity.clone(),
            "generator": self.generator.get_state(),
            "power_vector": None if self._power_vector is None else self._power_vector.clone(),
            "n_updates": self.n_updates,
            "hebbian_seconds": self.hebbian_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output; ``n_inputs`` must match."""
        n = int(state["config"]["n_inputs"])
        if n != self.n_inputs:
            raise ValueError(f"state has n_inputs = {n}, this subspace {self.n_inputs}")
        for key in ("rule", "mode", "lr", "momentum", "n_iters", "clamp", "spike_steps"):
            setattr(self, key, state["config"][key])
        self.step_norm = state["config"].get("step_norm", "trace")
        self.power_iters = state["config"].get("power_iters", 4)
        vector = state.get("power_vector")
        self._power_vector = None if vector is None else vector.clone()
        self.init_scale = state["config"]["init_scale"]
        self.max_norm = state["config"].get("max_norm", 1.5)
        self.seed = state["config"]["seed"]
        self.H_old = state["H_old"].clone().to(self.dtype)
        self.H_new = state["H_new"].clone().to(self.dtype)
        self._old_projector = None
        self.velocity = state["velocity"].clone().to(self.dtype)
        self.generator.set_state(state["generator"])
        self.n_updates = int(state["n_updates"])
        self.hebbian_seconds = float(state["hebbian_seconds"])
