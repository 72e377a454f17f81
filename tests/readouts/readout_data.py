"""Helpers shared by the readout tests: synthetic recordings and reference loops."""

from __future__ import annotations

import numpy as np

BACKENDS = ["numpy", "numba"]


def regression(seed=0, t=300, n=12, m=2):
    rng = np.random.default_rng(seed)
    x = rng.random((t, n))
    w_true = rng.standard_normal((m, n))
    return x, x @ w_true.T + 0.05 * rng.standard_normal((t, m))


def lms_loop(x, y, lr):
    w = np.zeros((y.shape[1], x.shape[1]))
    outs = []
    for r, target in zip(x, y, strict=True):
        out = w @ r
        outs.append(out)
        w += np.outer(lr * (target - out), r)
    return w, np.array(outs)


def bernoulli_cues(seed=0, steps_per_cue=5000, probs=(0.2, 0.4, 0.6, 0.8)):
    rng = np.random.default_rng(seed)
    cue = rng.integers(0, len(probs), size=steps_per_cue * len(probs))
    x = np.eye(len(probs))[cue]
    y = (rng.random(cue.size) < np.asarray(probs)[cue]).astype(np.float64)[:, None]
    return x, y, cue, np.asarray(probs)
