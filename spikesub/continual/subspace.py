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
the update on the same batch.

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

import time
from collections.abc import Sequence

import torch

from spikesub.continual.projection import (
    GradientProjector,
    orthonormal_basis,
    residual_spectrum,
    select_k,
)

__all__ = ["HEBBIAN_MODES", "HEBBIAN_RULES", "HebbianSubspace"]

HEBBIAN_RULES: tuple[str, ...] = ("oja", "gha")
"""Learning rules of the lateral weights."""

HEBBIAN_MODES: tuple[str, ...] = ("rate", "spiking")
"""``"rate"``: ``y = H x``; ``"spiking"``: IF ON/OFF neurons' spike counts."""

STEP_NORMS: tuple[str, ...] = ("trace", "top")
"""What the step size is divided by: the residual's mean squared norm, or its largest
eigenvalue (power iteration)."""


def _check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


def _check_float(name: str, value, low: float, high: float | None = None, *, open_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}")
    value = float(value)
    bad = value <= low if open_low else value < low
    if bad or (high is not None and value > high) or value != value:
        side = "(" if open_low else "["
        raise ValueError(
            f"{name} must lie in {side}{low}, {high if high is not None else 'inf'}]; got {value}"
        )
    return value


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
        self.n_inputs = _check_positive_int("n_inputs", n_inputs)
        if rule not in HEBBIAN_RULES:
            raise ValueError(f"rule must be one of {HEBBIAN_RULES}; got {rule!r}")
        if mode not in HEBBIAN_MODES:
            raise ValueError(f"mode must be one of {HEBBIAN_MODES}; got {mode!r}")
        self.rule = rule
        self.mode = mode
        self.lr = _check_float("lr", lr, 0.0, 1.0, open_low=True)
        self.momentum = _check_float("momentum", momentum, 0.0, 0.999999)
        self.n_iters = _check_positive_int("n_iters", n_iters)
        self.clamp = None if clamp is None else _check_float("clamp", clamp, 0.0, open_low=True)
        self.spike_steps = _check_positive_int("spike_steps", spike_steps)
        if step_norm not in STEP_NORMS:
            raise ValueError(f"step_norm must be one of {STEP_NORMS}; got {step_norm!r}")
        self.step_norm = step_norm
        self.power_iters = _check_positive_int("power_iters", power_iters)
        self._power_vector: torch.Tensor | None = None
        self.init_scale = _check_float("init_scale", init_scale, 0.0, open_low=True)
        self.max_norm = (
            None if max_norm is None else _check_float("max_norm", max_norm, 1.0, open_low=True)
        )
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
        self.seed = int(seed)
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
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be an int >= 0; got {k!r}")
        if self.k + k > self.n_inputs:
            raise ValueError(
                f"k = {k} would give {self.k + k} lateral neurons for n_inputs = "
                f"{self.n_inputs}; at most {self.n_inputs - self.k} can be added"
            )
        if k == 0:
            return
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

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"x must have shape (B, {self.n_inputs}); got {tuple(x.shape)}")
        return x.detach().to(self.dtype)

    def lateral_output(self, x: torch.Tensor) -> torch.Tensor:
        """Output ``y`` ``(B, k)`` of all lateral neurons for activity rows ``x`` ``(B, n)``."""
        x = self._check_x(x)
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
        no learning rows."""
        x = self._check_x(x)
        lr_scale = _check_float("lr_scale", lr_scale, 0.0, 1.0, open_low=True)
        if self.k_new == 0 or x.shape[0] == 0:
            return
        start = time.perf_counter()
        prepared = self._prepare(x)
        if prepared is not None:
            self._iterate(*prepared, lr_scale)
        self.hebbian_seconds += time.perf_counter() - start

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
            batches: activity rows ``(B_i, n)`` per batch.
            epochs: passes over ``batches`` (0: nothing is learnt).
            lr_final: final fraction of the step, in (0, 1].
            updates: the number of batch updates instead, the batches taken in turn
                (``epochs * len(batches)`` when None; 0: nothing is learnt).
        """
        epochs = _check_positive_int("epochs", epochs, minimum=0)
        lr_final = _check_float("lr_final", lr_final, 0.0, 1.0, open_low=True)
        if updates is not None:
            updates = _check_positive_int("updates", updates, minimum=0)
        if self.k_new == 0 or epochs == 0 or updates == 0:
            return
        start = time.perf_counter()
        prepared = [self._prepare(self._check_x(x)) for x in batches]
        prepared = [p for p in prepared if p is not None]
        if prepared:
            n_updates = epochs * len(prepared) if updates is None else updates
            total = max(n_updates - 1, 1)
            for done in range(n_updates):
                x, residual, energy = prepared[done % len(prepared)]
                # fast convergence first, little noise left in the rows that will be frozen
                scale = 1.0 - (1.0 - lr_final) * min(done / total, 1.0)
                self._iterate(x, residual, energy, scale)
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
        threshold: float = 0.97,
        *,
        gram: torch.Tensor | None = None,
    ) -> int:
        """New neurons needed so span(H_old) plus them captures ``threshold`` of the energy.

        The energy of activity rows ``x`` ``(N, n)`` (or of their Gram matrix ``gram`` =
        ``x^T x``) is ``||x||^2``; the part inside span(H_old) counts as protected, and the
        residual's eigenvalues are added largest first (GPM's residual SVD criterion).
        """
        threshold = _check_float("threshold", threshold, 0.0, 1.0)
        if gram is None:
            if x is None:
                raise ValueError("choose_k needs activity rows x or their gram matrix")
            xd = self._check_x(x).double()
            gram = xd.T @ xd
        elif tuple(gram.shape) != (self.n_inputs, self.n_inputs):
            raise ValueError(
                f"gram must have shape ({self.n_inputs}, {self.n_inputs}); got {tuple(gram.shape)}"
            )
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
