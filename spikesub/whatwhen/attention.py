"""Surprise-driven attention for the three-factor rule (associability, Pearce & Hall 1980).

Each cue ``c`` keeps an associability ``alpha_c`` that tracks the recent size of the "when"
prediction error on the trials of that cue. After a trial of cue ``c`` with surprise ``S``

    alpha_c <- (1 - rate) alpha_c + rate S,

and the next trial of that cue learns with the gate level

    g = floor + (1 - floor) clip(alpha_c / ref, 0, 1)

(multiplying the 0/1 "when" window; plasticity stays 0 outside it). The learning rate is
fixed: attention opens plasticity after surprises and closes it down to ``floor`` once the
predictions are good, so a switch is relearned fast and the steady state stays precise.

The surprise of a trial is the "when" timing error of the prediction made before the trial's
learning, relative to the delay (interval timing is scalar: errors scale with the interval),

    S = |t_peak - delay| / delay,

with ``t_peak`` the time of the peak of the "when" output from cue onset (the expected event
time) and ``delay`` the actual event time; a prediction without a peak in its window counts as
``S = 1``. Normalised amplitude errors (mean |err| / mean |target| over the window) were
measured first and set aside: the height the "when" output reaches at long delays is limited
by the reservoir's fading memory, so with them the surprise of well-timed long-delay cues
stayed near that of a switched cue (1.1-1.5 against about 2) and attention never closed.

Only "when" is attended. The "what" outputs learn the outcome probability, an average over
stochastic outcomes: their error stays large on every trial of a cue with p near 0.5, so an
associability driven by it would keep their gate open for ever (the partial-reinforcement
effect of the Pearce-Hall rule) and only add noise to the average they must form.
"""

from __future__ import annotations

import math

import numpy as np

from spikesub.models.validation import check_real


def trial_surprise(peak_time_ms: float, delay_ms: float) -> float:
    """Surprise of one trial: ``|peak_time_ms - delay_ms| / delay_ms``.

    Args:
        peak_time_ms: time of the peak of the predicted "when" output, from cue onset, in ms
            (NaN: no peak, counted as surprise 1).
        delay_ms: the actual delay from cue onset to the event, in ms, > 0.

    Returns:
        the relative timing error (>= 0).
    """
    if isinstance(delay_ms, bool) or not math.isfinite(float(delay_ms)) or delay_ms <= 0:
        raise ValueError(f"delay_ms must be a finite number > 0; got {delay_ms!r}")
    if not math.isfinite(float(peak_time_ms)):
        return 1.0
    return abs(float(peak_time_ms) - float(delay_ms)) / float(delay_ms)


def update_associability(alpha: float, surprise: float, rate: float) -> float:
    """One trial of ``alpha <- (1 - rate) alpha + rate surprise`` (``rate`` in (0, 1])."""
    rate = check_real("rate", rate, low=0.0, high=1.0, low_open=True)
    if not math.isfinite(surprise) or surprise < 0:
        raise ValueError(f"surprise must be a finite number >= 0; got {surprise}")
    return (1.0 - rate) * float(alpha) + rate * float(surprise)


def attention_gate(alpha: float, floor: float, ref: float) -> float:
    """Gate level ``floor + (1 - floor) clip(alpha / ref, 0, 1)``, in ``[floor, 1]``.

    Args:
        alpha: associability (>= 0).
        floor: the gate at no surprise, in [0, 1].
        ref: associability at which the gate is fully open, > 0.
    """
    floor = check_real("floor", floor, low=0.0, high=1.0)
    if isinstance(ref, bool) or not math.isfinite(float(ref)) or ref <= 0:
        raise ValueError(f"ref must be a finite number > 0; got {ref!r}")
    return floor + (1.0 - floor) * min(max(float(alpha) / float(ref), 0.0), 1.0)


def associability_trace(surprises: np.ndarray, *, rate: float, initial: float = 1.0) -> np.ndarray:
    """Associability after each trial of one cue, for a sequence of surprises.

    Args:
        surprises: ``(n_trials,)`` surprise of each trial of the cue, in order.
        rate: ``kappa`` in (0, 1].
        initial: associability before the first trial.

    Returns:
        ``(n_trials,)`` float64, ``alpha`` after each trial.
    """
    out = np.empty(len(surprises), np.float64)
    alpha = float(initial)
    for i, s in enumerate(np.asarray(surprises, dtype=np.float64)):
        alpha = update_associability(alpha, float(s), rate)
        out[i] = alpha
    return out
