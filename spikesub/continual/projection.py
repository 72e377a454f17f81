"""Orthogonal projection of weight gradients, and the subspace algebra GPM is made of.

For a protected layer with weight gradient ``G`` (``(out, in)``; a Conv2d weight
``(out, C, kh, kw)`` is viewed as ``(out, C * kh * kw)``, the order of its unfolded patches):

* GPM: ``G <- G - G B B^T`` for an orthonormal basis ``B`` ``(in, k)`` of the old tasks'
  activity;
* HLOP: ``G <- G - G H^T H`` for the lateral weights ``H`` ``(k, in)`` of the Hebbian circuit.
  The Oja / GHA rows converge to orthonormal vectors, so ``H^T H`` is then the orthogonal
  projector onto their span; with ``orthonormalise=True`` the projector is built from the QR
  of ``H^T`` instead, which is exact also for rows not fully converged.

After the update ``W <- W - lr * G_proj`` the layer's output on any input ``x`` in the
protected subspace is unchanged: ``G_proj x = G (I - B B^T) x = 0``.

Energy bookkeeping follows Saha et al. (GPM, ICLR 2021) on the Gram matrix
``A = X^T X`` ``(in, in)`` of the activity rows ``X`` ``(n, in)`` (same singular values
squared as the SVD of ``X``, memory independent of ``n``).
"""

from __future__ import annotations

import time

import torch
from torch import nn

__all__ = [
    "GradientProjector",
    "ProjectedLinearFunction",
    "extend_basis",
    "grad_matrix",
    "orthonormal_basis",
    "principal_angles",
    "project_module_grad",
    "project_out",
    "project_out_lateral",
    "residual_spectrum",
    "select_k",
]


def grad_matrix(module: nn.Module) -> torch.Tensor | None:
    """``module.weight.grad`` viewed as ``(out, in)`` (a view: editing it edits the gradient)."""
    weight = module.weight
    if weight.grad is None:
        return None
    return weight.grad.view(weight.shape[0], -1)


def project_out(grad: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``G - G B B^T``: remove from the rows of ``grad`` ``(out, in)`` their components in the
    span of the orthonormal columns of ``basis`` ``(in, k)``. Returns a new tensor."""
    if basis.numel() == 0:
        return grad.clone()
    b = basis.to(grad.dtype)
    return grad - (grad @ b) @ b.T


def project_out_lateral(
    grad: torch.Tensor, lateral: torch.Tensor, *, orthonormalise: bool = False
) -> torch.Tensor:
    """``G - G H^T H`` for lateral weights ``H`` ``(k, in)``; with ``orthonormalise`` the
    exact projector of span(rows of H) (QR of ``H^T``). Returns a new tensor."""
    if lateral.numel() == 0:
        return grad.clone()
    if orthonormalise:
        return project_out(grad, orthonormal_basis(lateral.T))
    h = lateral.to(grad.dtype)
    return grad - (grad @ h.T) @ h


class GradientProjector:
    """The map ``G -> G M`` for a fixed symmetric ``M = I - S`` ``(n, n)``, in its cheapest
    exact form.

    ``S`` is what a projection method removes: ``B B^T`` for an orthonormal basis ``B``
    ``(n, k)`` (GPM, :meth:`from_basis`) or ``H^T H`` for lateral weights ``H`` ``(k, n)``
    (HLOP, :meth:`from_lateral`). Applied to the ``m`` rows of a gradient, the forms cost:

    * ``"subtract"``: ``G - (G A) C`` with ``A = B`` / ``H^T`` and ``C = A^T``: ``2 m n k``;
    * ``"lowrank"``: ``(G Q) (L Q^T)`` from the eigendecomposition ``M = Q L Q^T`` with the
      numerically zero eigenvalues dropped (``r`` left; ``r = n - k`` for an orthonormal
      basis): ``2 m n r``;
    * ``"dense"``: ``G M``: ``m n^2``.

    The cheapest is chosen once (the eigendecomposition is only computed when ``2 k > n``,
    where it can win); once most of a layer's input space is protected, applying the
    complement instead of the protected part is several times cheaper.

    Args:
        removed: ``A`` ``(n, k)``, with ``S = A A^T``.
        rtol: eigenvalues of ``M`` below ``rtol`` (it is at most 1 in size for the
            operators here) count as zero in the ``"lowrank"`` form.
    """

    def __init__(self, removed: torch.Tensor, *, rtol: float = 1e-6) -> None:
        if removed.dim() != 2:
            raise ValueError(f"removed must be a matrix (n, k); got shape {tuple(removed.shape)}")
        n, k = removed.shape
        self.n = int(n)
        self.k = int(k)
        a = removed.double()
        self.form = "identity" if k == 0 else "subtract"
        self._left = a
        self._right = a.T
        cost = 2 * n * k
        if 2 * k > n:
            m = torch.eye(n, dtype=torch.float64) - a @ a.T
            m = 0.5 * (m + m.T)
            if n * n < cost:
                self.form, self._left, self._right, cost = "dense", m, None, n * n
            evals, evecs = torch.linalg.eigh(m)
            keep = evals.abs() > rtol
            r = int(keep.sum())
            if 2 * n * r < cost:
                q = evecs[:, keep]
                self.form, self._left, self._right = "lowrank", q, evals[keep, None] * q.T
                if r == 0:
                    self.form = "zero"
        self.device = torch.device("cpu")
        self.dtype = torch.float64
        self.to(self.device, torch.float32)

    @classmethod
    def from_basis(cls, basis: torch.Tensor) -> GradientProjector:
        """``M = I - B B^T`` for an orthonormal ``basis`` ``(n, k)``."""
        return cls(basis)

    @classmethod
    def from_lateral(cls, lateral: torch.Tensor) -> GradientProjector:
        """``M = I - H^T H`` for lateral weights ``lateral`` ``(k, n)``."""
        return cls(lateral.T)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> GradientProjector:
        """Move the operator's factors (in place); returns ``self``."""
        device = torch.device(device)
        if (device, dtype) != (self.device, self.dtype):
            self._left = self._left.to(device, dtype)
            if self._right is not None:
                self._right = self._right.to(device, dtype)
            self.device, self.dtype = device, dtype
        return self

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``g M`` for ``g`` ``(m, n)`` (a new tensor)."""
        if g.shape[-1] != self.n:
            raise ValueError(f"g must have {self.n} columns; got shape {tuple(g.shape)}")
        if self.form == "identity":
            return g.clone()
        if self.form == "zero":
            return torch.zeros_like(g)
        left = self._left.to(g.device, g.dtype)
        if self.form == "dense":
            return g @ left
        right = self._right.to(g.device, g.dtype)
        if self.form == "subtract":
            return g - (g @ left) @ right
        return (g @ left) @ right

    def apply_(self, g: torch.Tensor) -> None:
        """``g <- g M`` in place."""
        if self.form == "identity":
            return
        if self.form == "subtract":
            left = self._left.to(g.device, g.dtype)
            right = self._right.to(g.device, g.dtype)
            g.sub_((g @ left) @ right)
        else:
            g.copy_(self.apply(g))


class ProjectedLinearFunction(torch.autograd.Function):
    """``rows @ weight.T + bias`` whose weight gradient is projected on the input side.

    ``apply(rows, weight, bias, projector, seconds)`` with ``rows`` ``(R, in)``: the forward
    and the input gradient are the Linear's; the weight gradient is ``grad^T (rows M)``, the
    gradient ``grad^T rows`` projected, ``G M`` — HLOP's ``delta (x - H^T H x)`` on the
    presynaptic activity. It costs ``R`` rows instead of ``out`` rows of projection, which
    pays when a call has fewer rows than the layer has outputs (a static input, computed
    once for all time steps). ``seconds`` (a one-element list) accumulates the time spent
    projecting.
    """

    @staticmethod
    def forward(ctx, rows, weight, bias, projector, seconds):
        ctx.save_for_backward(rows, weight)
        ctx.projector = projector
        ctx.seconds = seconds
        ctx.has_bias = bias is not None
        return nn.functional.linear(rows, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        rows, weight = ctx.saved_tensors
        grad_rows = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_rows = grad_out @ weight
        if ctx.needs_input_grad[1]:
            start = time.perf_counter()
            projected = ctx.projector.apply(rows.detach())
            ctx.seconds[0] += time.perf_counter() - start
            grad_weight = grad_out.t() @ projected
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return grad_rows, grad_weight, grad_bias, None, None


def project_module_grad(module: nn.Module, basis: torch.Tensor) -> None:
    """Project ``module.weight.grad`` in place with an orthonormal ``basis`` ``(in, k)``."""
    g = grad_matrix(module)
    if g is None or basis.numel() == 0:
        return
    b = basis.to(device=g.device, dtype=g.dtype)
    g.sub_((g @ b) @ b.T)


def orthonormal_basis(vectors: torch.Tensor, *, rtol: float = 1e-6) -> torch.Tensor:
    """Orthonormal basis ``(n, r)`` of the column span of ``vectors`` ``(n, k)`` (QR with
    the columns of negligible norm dropped, ``r <= k``)."""
    if vectors.numel() == 0:
        return vectors.new_zeros((vectors.shape[0], 0))
    q, r = torch.linalg.qr(vectors.double())
    diag = r.diagonal().abs()
    keep = diag > rtol * max(float(diag.max()), 1e-300)
    return q[:, keep].to(vectors.dtype)


def residual_spectrum(
    gram: torch.Tensor, basis: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Eigen-decomposition of the activity left after removing the span of ``basis``.

    Args:
        gram: ``X^T X`` ``(n, n)`` of the activity rows.
        basis: orthonormal ``(n, k)`` already protected, or None / empty.

    Returns:
        ``(energies, directions, total)``: residual energies (eigenvalues of
        ``P A P`` with ``P = I - B B^T``, descending, ``(n,)``), their eigenvectors as
        columns ``(n, n)``, and the total energy ``trace(A)``; all float64.
    """
    a = gram.double()
    a = 0.5 * (a + a.T)
    total = float(a.trace())
    if basis is not None and basis.numel():
        b = basis.double()
        p = torch.eye(a.shape[0], dtype=a.dtype) - b @ b.T
        a = p @ a @ p
        a = 0.5 * (a + a.T)
    evals, evecs = torch.linalg.eigh(a)
    order = torch.argsort(evals, descending=True)
    return evals[order].clamp_min(0.0), evecs[:, order], total


def select_k(
    energies: torch.Tensor, total: float, protected: float, energy_threshold: float
) -> int:
    """The smallest ``k`` such that ``(protected + sum(energies[:k])) / total >=
    energy_threshold``.

    ``protected`` is the energy already inside the existing subspace; returns 0 when that
    alone reaches the threshold, and ``len(energies)`` at most.
    """
    threshold = energy_threshold
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"energy_threshold must lie in [0, 1]; got {threshold}")
    if total <= 0:
        return 0
    if protected / total >= threshold:
        return 0
    cumulative = (protected + torch.cumsum(energies.double(), 0)) / total
    hit = torch.nonzero(cumulative >= threshold - 1e-12)
    return int(hit[0]) + 1 if hit.numel() else int(energies.numel())


def extend_basis(
    gram: torch.Tensor,
    basis: torch.Tensor | None,
    energy_threshold: float,
    *,
    max_k: int | None = None,
) -> tuple[torch.Tensor, dict]:
    """GPM's basis update: add the top residual directions until ``energy_threshold`` of the
    activity energy is inside the subspace.

    Args:
        gram: ``X^T X`` ``(n, n)`` of the current task's activity.
        basis: current orthonormal basis ``(n, k)`` or None.
        energy_threshold: fraction of the energy to capture, in [0, 1].
        max_k: cap on the number of directions added.

    Returns:
        ``(new_basis, info)``: the basis ``(n, k + k_new)`` (float32) and
        ``{"k_new", "energy_before", "energy_after", "total"}`` (fractions of the total).
    """
    n = gram.shape[0]
    if basis is None:
        basis = gram.new_zeros((n, 0), dtype=torch.float32)
    energies, directions, total = residual_spectrum(gram, basis)
    residual = float(energies.sum())
    protected = max(total - residual, 0.0)
    k_new = select_k(energies, total, protected, energy_threshold)
    k_new = min(k_new, n - basis.shape[1])
    if max_k is not None:
        k_new = min(k_new, max_k)
    if k_new > 0:
        stacked = torch.cat([basis.double(), directions[:, :k_new]], dim=1)
        new_basis = orthonormal_basis(stacked).float()
    else:
        new_basis = basis.float()
    after = protected + float(energies[:k_new].sum())
    denom = total if total > 0 else 1.0
    info = {
        "k_new": int(new_basis.shape[1] - basis.shape[1]),
        "energy_before": protected / denom,
        "energy_after": after / denom,
        "total": total,
    }
    return new_basis, info


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (degrees, ascending) between the column spans of ``a`` ``(n, p)`` and
    ``b`` ``(n, q)``; ``min(p, q)`` angles (the columns are orthonormalised first)."""
    if a.numel() == 0 or b.numel() == 0:
        return torch.zeros(0, dtype=torch.float64)
    qa = orthonormal_basis(a.double())
    qb = orthonormal_basis(b.double())
    s = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(s)).sort().values
