"""The argument checks of spikesub.models.snn.validation: torch tensors and layer inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesub.models.snn.validation import (
    check_finite_tensor,
    check_layer_input,
    check_tensor,
    first_nonfinite_tensor,
)


def test_check_tensor():
    x = torch.zeros(2)
    assert check_tensor("x", x) is x
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got ndarray"):
        check_tensor("x", np.zeros(2))
    with pytest.raises(TypeError, match=r"floating-point tensor.*int64.*x.float\(\)"):
        check_tensor("x", torch.zeros(2, dtype=torch.int64))


def test_check_layer_input_says_what_it_expected():
    w = torch.zeros(3, 5)
    x = torch.zeros(4, 2, 5)
    assert check_layer_input("x", x, features=5, dtype=w.dtype, device=w.device) is x
    with pytest.raises(ValueError, match=r"x has 7 features \(dimension -1 of shape \(2, 7\)\) "):
        check_layer_input("x", torch.zeros(2, 7), features=5, dtype=w.dtype, device=w.device)
    with pytest.raises(TypeError, match=r"expected float32; pass x.float\(\), or .*layer.double"):
        check_layer_input("x", x.double(), features=5, dtype=w.dtype, device=w.device)
    with pytest.raises(TypeError, match=r"expected float64; pass x.double\(\)"):
        check_layer_input("x", x, features=5, dtype=torch.float64, device=w.device)
    with pytest.raises(ValueError, match="x is on device meta but the layer's weights are on cpu"):
        meta = torch.zeros(4, 2, 5, device="meta")
        check_layer_input("x", meta, features=5, dtype=w.dtype, device=w.device)
    with pytest.raises(ValueError, match="x must have 4 or 5 dimensions"):
        check_layer_input("x", x, features=None, dtype=None, device=None, ndims=(4, 5))
    with pytest.raises(ValueError, match="3 channels .* expects 4"):
        img = torch.zeros(2, 3, 8, 8)
        check_layer_input(
            "x", img, features=4, dtype=None, device=None, feature_dim=-3, what="channels"
        )


def test_check_layer_input_lets_autocast_choose_the_dtype():
    w = torch.zeros(3, 5)
    x = torch.zeros(2, 5, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        check_layer_input("x", x, features=5, dtype=w.dtype, device=w.device)
    with pytest.raises(TypeError, match="bfloat16"):
        check_layer_input("x", x, features=5, dtype=w.dtype, device=w.device)


def test_check_finite_tensor_names_the_first_bad_index():
    x = torch.zeros(4, 6)
    x[2, 5] = float("inf")
    x[3, 0] = float("nan")
    assert first_nonfinite_tensor(x) == (2, 5)
    with pytest.raises(ValueError, match=r"x\[2, 5\] is inf"):
        check_finite_tensor("x", x)
    assert first_nonfinite_tensor(torch.full((3,), 3e38)) is None  # the sum overflows
    assert check_finite_tensor("y", torch.arange(3)) is not None  # integers are finite
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        check_finite_tensor("y", [1.0])
