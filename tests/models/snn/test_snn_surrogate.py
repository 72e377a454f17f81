"""Surrogate gradients: the built-in ones against snnTorch's, and custom registrations."""

from __future__ import annotations

import pytest
import torch
from snn_helpers import SURROGATE_CASES

from spikesub.models.snn import lif_sequence, register_surrogate, surrogates


def test_auto_backend_and_custom_surrogate():
    calls = []

    def boxcar(u, slope):
        calls.append(slope)
        return (u.abs() < 1.0 / slope).to(u.dtype) * slope / 2

    register_surrogate("boxcar_test", boxcar, overwrite=True)
    try:
        x = torch.rand(6, 2, 3, requires_grad=True)
        spk, _ = lif_sequence(x, 0.9, 0.5, surrogate="boxcar_test", slope=4.0)
        spk.sum().backward()
        assert calls and calls[0] == 4.0
        assert x.grad is not None
        ref_x = x.detach().clone().requires_grad_()
        spk_ref, _ = lif_sequence(ref_x, 0.9, 0.5, surrogate="atan", backend="torch")
        assert torch.equal(spk.detach(), spk_ref.detach())
        with pytest.raises(ValueError, match="custom surrogate"):
            lif_sequence(x, 0.9, surrogate="boxcar_test", backend="numba")
        with pytest.raises(ValueError, match="built-in"):
            register_surrogate("atan", boxcar)
        with pytest.raises(ValueError, match="already registered"):
            register_surrogate("boxcar_test", boxcar)
        with pytest.raises(TypeError, match="fn"):
            register_surrogate("other", 3)
    finally:
        surrogates.pop("boxcar_test", None)


def test_builtin_surrogates_match_snntorch_derivatives():
    u = torch.linspace(-3, 3, 61, requires_grad=True)
    for name, slope, factory in SURROGATE_CASES:
        fn = factory()
        (grad_ref,) = torch.autograd.grad(fn(u).sum(), u)
        torch.testing.assert_close(surrogates[name](u.detach(), slope), grad_ref)
