"""Gradient projection (GPM / HLOP), the subspace algebra, and the activity taps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikesub.continual.projection import (
    GradientProjector,
    extend_basis,
    grad_matrix,
    orthonormal_basis,
    principal_angles,
    project_module_grad,
    project_out,
    project_out_lateral,
    select_k,
)
from spikesub.continual.taps import (
    ActivityTap,
    activity_dim,
    activity_rows,
    presynaptic_trace,
    record_activity,
)
from spikesub.models.snn import SpikingConv2d, SpikingLinear

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("k", [0, 5, 30, 39, 40])
def test_gradient_projector_forms_equal_the_plain_formula_for_a_basis(k):
    n = 40
    basis = orthonormal_basis(torch.randn(n, max(k, 1), generator=_gen(k)))[:, :k]
    grad = torch.randn(7, n, generator=_gen(100))
    projector = GradientProjector.from_basis(basis)
    # few protected directions: subtract them; most of them: apply the small complement
    expected_form = {0: "identity", 5: "subtract", 30: "lowrank", 39: "lowrank", 40: "zero"}
    assert projector.form == expected_form[k]
    expected = project_out(grad, basis)
    assert torch.allclose(projector.apply(grad), expected, atol=1e-5)
    inplace = grad.clone()
    projector.apply_(inplace)
    assert torch.allclose(inplace, expected, atol=1e-5)
    if k:
        assert float((inplace @ basis).abs().max()) < 1e-5


def test_gradient_projector_lateral_rows_not_orthonormal_use_the_exact_operator():
    n, k = 30, 24
    lateral = 0.5 * torch.randn(k, n, generator=_gen(3)) / math.sqrt(n)  # norms ~0.5
    grad = torch.randn(5, n, generator=_gen(4))
    projector = GradientProjector.from_lateral(lateral)
    assert projector.form == "dense"  # I - H^T H has no zero eigenvalue: n^2 < 2 n k
    assert torch.allclose(projector.apply(grad), project_out_lateral(grad, lateral), atol=1e-5)
    double = GradientProjector.from_lateral(lateral.double()).to("cpu", torch.float64)
    assert double.apply(grad.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="columns"):
        projector.apply(torch.randn(5, n + 1))


def test_project_out_removes_basis_components():
    g = _gen()
    basis = orthonormal_basis(torch.randn(12, 4, generator=g))
    grad = torch.randn(5, 12, generator=g)
    projected = project_out(grad, basis)
    assert float((projected @ basis).abs().max()) < 1e-5
    # the part orthogonal to the basis is untouched
    complement = torch.eye(12) - basis @ basis.T
    torch.testing.assert_close(projected, grad @ complement, atol=1e-5, rtol=0)
    torch.testing.assert_close(project_out(grad, torch.zeros(12, 0)), grad)


def test_project_out_lateral_orthonormal_rows_and_qr_option():
    g = _gen(1)
    h = orthonormal_basis(torch.randn(12, 3, generator=g)).T  # orthonormal rows (3, 12)
    grad = torch.randn(4, 12, generator=g)
    assert float((project_out_lateral(grad, h) @ h.T).abs().max()) < 1e-5
    # rows that are not orthonormal: G - G H^T H is not a projection, the QR option is
    skewed = torch.tensor([[1.0, 0.5], [0.0, 2.0]]) @ h[:2]
    rough = project_out_lateral(grad, skewed)
    exact = project_out_lateral(grad, skewed, orthonormalise=True)
    assert float((rough @ skewed.T).abs().max()) > 0.1
    assert float((exact @ skewed.T).abs().max()) < 1e-5


def test_projected_step_keeps_linear_outputs_on_old_inputs():
    g = _gen(2)
    layer = nn.Linear(10, 6, bias=False)
    old_dirs = orthonormal_basis(torch.randn(10, 3, generator=g))
    x_old = torch.randn(50, 3, generator=g) @ old_dirs.T
    before = layer(x_old).detach()
    gram = x_old.double().T @ x_old.double()
    basis, info = extend_basis(gram, None, 0.999)
    assert info["k_new"] == 3
    x_new = torch.randn(50, 10, generator=g)  # overlaps the old subspace
    loss = layer(x_new).pow(2).sum()
    loss.backward()
    assert float((layer.weight.grad @ basis).abs().max()) > 1e-2
    project_module_grad(layer, basis)
    assert float((grad_matrix(layer) @ basis).abs().max()) < 1e-4
    with torch.no_grad():
        layer.weight -= 0.1 * layer.weight.grad
    torch.testing.assert_close(layer(x_old).detach(), before, atol=1e-4, rtol=0)


def test_projected_step_keeps_conv_outputs_on_old_images():
    g = _gen(3)
    conv = nn.Conv2d(2, 4, 3, bias=False)
    # old images: vertical stripes, so every patch lies in a 6-dimensional subspace of 18
    x_old = torch.randn(20, 2, 1, 6, generator=g).expand(20, 2, 6, 6).contiguous()
    before = conv(x_old).detach()
    rows = activity_rows(conv, x_old)
    assert rows.shape == (20 * 16, activity_dim(conv))
    basis, info = extend_basis(rows.double().T @ rows.double(), None, 1.0 - 1e-9)
    assert info["k_new"] == 6
    conv(torch.randn(8, 2, 6, 6, generator=g)).pow(2).sum().backward()
    project_module_grad(conv, basis)
    with torch.no_grad():
        conv.weight -= 0.05 * conv.weight.grad
    torch.testing.assert_close(conv(x_old).detach(), before, atol=1e-4, rtol=0)


def test_select_k_and_extend_basis_energies():
    energies = torch.tensor([6.0, 3.0, 1.0, 0.0])
    assert select_k(energies, 10.0, 0.0, 0.6) == 1
    assert select_k(energies, 10.0, 0.0, 0.9) == 2
    assert select_k(energies, 10.0, 0.0, 1.0) == 3
    assert select_k(energies, 20.0, 12.0, 0.5) == 0  # already captured
    with pytest.raises(ValueError, match="threshold"):
        select_k(energies, 10.0, 0.0, 1.5)
    g = _gen(4)
    x = torch.randn(400, 8, generator=g, dtype=torch.float64) * torch.tensor(
        [5.0, 4.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], dtype=torch.float64
    )
    basis, info = extend_basis(x.T @ x, None, 0.95)
    assert info["k_new"] == 2 and info["energy_after"] > 0.95
    torch.testing.assert_close(basis.T @ basis, torch.eye(2), atol=1e-5, rtol=0)
    again, info2 = extend_basis(x.T @ x, basis, 0.95)
    assert info2["k_new"] == 0 and again.shape == (8, 2)
    assert info2["energy_before"] == pytest.approx(info["energy_after"])


def test_principal_angles_known():
    e = torch.eye(3, dtype=torch.float64)
    tilted = torch.stack([torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 1.0]) / math.sqrt(2)])
    angles = principal_angles(e[:, :2], tilted.T.double())
    torch.testing.assert_close(
        angles, torch.tensor([0.0, 45.0], dtype=torch.float64), atol=1e-6, rtol=0
    )


# --- taps ---------------------------------------------------------------------------------


def test_tap_spiking_linear_static_and_sequence():
    layer = SpikingLinear(5, 7, steps=4)
    tap = ActivityTap(layer.linear)
    with tap:
        layer(torch.rand(3, 5))
        assert tap.pop().shape == (3, 5)
        layer(torch.rand(6, 3, 5))  # (T, B, in), one call
        rows = tap.pop()
        assert rows.shape == (18, 5)
    layer(torch.rand(3, 5))
    assert tap.pop().shape == (0, 5)  # stopped


def test_tap_records_presynaptic_traces_of_sequences_only():
    spikes = (torch.rand(6, 3, 5, generator=_gen(1)) < 0.3).float()
    trace = presynaptic_trace(spikes, 0.9)
    assert torch.allclose(trace[0], spikes[0]) and torch.allclose(
        trace[2], 0.81 * spikes[0] + 0.9 * spikes[1] + spikes[2]
    )
    layer = SpikingLinear(5, 7, steps=4)
    tap = ActivityTap(layer.linear, trace_decay=0.9)
    with tap:
        layer(spikes)
        assert torch.allclose(tap.pop(), trace.reshape(18, 5))
        static = torch.rand(3, 5)
        layer(static)  # a static input is not a sequence: recorded as it is
        assert torch.equal(tap.pop(), static)
    with pytest.raises(ValueError, match="trace_decay"):
        ActivityTap(layer.linear, trace_decay=1.5)


def test_projecting_out_the_trace_subspace_leaves_the_membrane_drive_unchanged():
    """With the LIF's decay, membrane = W tr_t (reset aside): a gradient projected out of the
    traces' span changes no membrane of the recorded inputs; truncated to k directions, the
    traces' principal subspace leaves less of the membrane drive unprotected than the
    spikes' principal subspace of the same size."""
    beta, n_in = 0.9, 40
    spikes = (torch.rand(30, 4, n_in, generator=_gen(2)) < 0.2).double()
    traces = presynaptic_trace(spikes, beta)
    rows = traces.reshape(-1, n_in)
    basis = orthonormal_basis(rows[:20].T)  # the traces of the first 5 steps of all inputs
    delta = project_out(torch.randn(7, n_in, generator=_gen(3), dtype=torch.float64), basis)
    membrane = torch.zeros(4, 7, dtype=torch.float64)
    for t in range(5):  # the membrane's own recursion, driven by delta s_t
        membrane = beta * membrane + spikes[t] @ delta.T
        assert membrane.abs().max() < 1e-9

    def top(x, k):
        return torch.linalg.svd(x, full_matrices=False)[2][:k].T

    def unprotected(b):
        return float(((rows - rows @ b @ b.T) ** 2).sum())

    spike_rows = spikes.reshape(-1, n_in)
    assert unprotected(top(rows, 10)) < unprotected(top(spike_rows, 10))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_tap_conv_rows_reproduce_the_convolution():
    conv = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, dilation=1, bias=False)
    x = torch.randn(2, 3, 7, 6, generator=_gen(5))
    rows = activity_rows(conv, x)
    out = conv(x)  # (N, out, H', W')
    expected = out.permute(0, 2, 3, 1).reshape(-1, 4)
    torch.testing.assert_close(rows @ conv.weight.view(4, -1).T, expected, atol=1e-5, rtol=0)
    same = nn.Conv2d(3, 2, 4, padding="same", bias=False)
    rows = activity_rows(same, x)
    expected = same(x).permute(0, 2, 3, 1).reshape(-1, 2)
    torch.testing.assert_close(rows @ same.weight.view(2, -1).T, expected, atol=1e-5, rtol=0)


def test_tap_spiking_conv_sequence():
    layer = SpikingConv2d(2, 3, 3, padding=1, steps=2)
    with ActivityTap(layer.conv) as tap:
        layer(torch.rand(4, 5, 2, 6, 6))  # (T, B, C, H, W): the conv runs on T * B images
        assert tap.pop().shape == (4 * 5 * 36, 18)


def test_tap_snntorch_time_loop():
    snntorch = pytest.importorskip("snntorch")
    fc = nn.Linear(5, 6)
    leaky = snntorch.Leaky(beta=0.8)
    tap = ActivityTap(fc)
    tap.start()
    mem = leaky.init_leaky()
    x = torch.rand(4, 5)
    for _ in range(7):
        spk, mem = leaky(fc(x), mem)
    tap.stop()
    rows = tap.pop()
    assert rows.shape == (7 * 4, 5)
    torch.testing.assert_close(rows[:4], x)


def test_tap_subsampling_seeded_and_record_activity():
    layer = nn.Linear(4, 2)
    x = torch.arange(40.0).reshape(10, 4)
    a, b = ActivityTap(layer, max_rows=3, seed=1), ActivityTap(layer, max_rows=3, seed=1)
    with a, b:
        layer(x)
        record_activity(layer, x[:2])  # fed without calling the module
    ra, rb = a.pop(), b.pop()
    assert ra.shape == (5, 4)
    torch.testing.assert_close(ra, rb)
    assert all(any(torch.equal(r, row) for row in x) for r in ra)
    record_activity(layer, x)  # no started tap: ignored
    assert a.pop().shape == (0, 4)
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        ActivityTap(nn.ReLU())
    with pytest.raises(ValueError, match="groups"):
        ActivityTap(nn.Conv2d(4, 4, 3, groups=2))
