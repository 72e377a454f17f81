"""Figures of a "what and when" run folder, drawn only from its saved files.

:func:`plot` reads ``config.json``, ``metrics.json``, ``arrays.npz``,
``paradigm.npz``, ``examples.npz`` and ``raster_trial.npz`` and writes the PNGs into the run
folder; it works on an interrupted run too (it draws what is there).
:func:`save_docs_figures` writes the paradigm and summary figures under ``docs/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from spikesub.runs import load_npz, load_spikes, read_json, save_figure

METHOD_COLORS = {
    "three_factor": "tab:green",
    "force": "tab:red",
    "force_reset": "tab:orange",
    "ridge": "tab:gray",
}
CUE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")
OUTPUT_COLORS = {"when": "black", "what_A": "tab:blue", "what_B": "tab:red"}


MAX_RASTER_NEURONS = 3000
"""Above this many neurons the raster draws a fixed random sample of them (the rates below it
still count every neuron)."""


def _cue_color(c: int) -> str:
    return CUE_COLORS[c % len(CUE_COLORS)]


def _letter(ax, i: int, *, inside: bool = False) -> None:
    """Write panel letter ``i`` (a, b, ...) at the top left of ``ax``: just above and left of
    the corner, or ``inside`` it."""
    letter = "abcdefghijklmnopqrstuvwxyz"[i % 26] * (1 + i // 26)
    if inside:
        ax.text(0.02, 0.97, letter, transform=ax.transAxes, fontsize=11, fontweight="bold",
                ha="left", va="top")  # fmt: skip
    else:
        ax.annotate(letter, xy=(0, 1), xycoords="axes fraction", xytext=(-14, 4),
                    textcoords="offset points", fontsize=12, fontweight="bold", ha="right",
                    va="bottom")  # fmt: skip


def _block_edges(tpb: int, n_blocks: int) -> np.ndarray:
    """Trial indices where blocks start and end (half a trial before each block's first)."""
    return np.arange(n_blocks + 1) * tpb - 0.5


class _Run:
    """The saved files of one run folder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        if not self.dir.is_dir():
            raise FileNotFoundError(f"run folder {self.dir} does not exist")
        config_path = self.dir / "config.json"
        if not config_path.exists():
            raise FileNotFoundError(f"{self.dir} has no config.json")
        self.config = read_json(config_path)
        if self.config.get("experiment") != "whatwhen":
            raise ValueError(f"{self.dir} is not a 'whatwhen' run folder")
        self.methods: list[str] = self.config["methods"]
        self.labels: dict[str, str] = self.config["method_labels"]
        self.metrics = self._json("metrics.json")
        self.arrays = self._npz("arrays.npz")
        self.paradigm = self._npz("paradigm.npz")
        self.examples = self._npz("examples.npz")

    def _json(self, name: str) -> dict[str, Any] | None:
        path = self.dir / name
        return read_json(path) if path.exists() else None

    def _npz(self, name: str) -> dict[str, np.ndarray] | None:
        path = self.dir / name
        return load_npz(path) if path.exists() else None

    def color(self, m: str) -> str:
        return METHOD_COLORS.get(m, "black")

    def truth(self, kind: str, cue: int) -> tuple[np.ndarray, np.ndarray]:
        """The true delay (``kind="delay"``) or probability of outcome A of ``cue`` block by
        block, up to the last block with a finished trial, as ``(edges, values)`` for
        :meth:`~matplotlib.axes.Axes.stairs`: one value per block, so that a switch is a step
        at the block boundary."""
        a = self.arrays
        tpb = int(self.config["config"]["trials_per_block"])
        n_done = int(a["n_trials_done"])
        blocks = max(1, -(-n_done // tpb))
        if self.paradigm is not None:
            key = "delays_ms" if kind == "delay" else "probabilities"
            values = np.asarray(self.paradigm[key], dtype=float)[:blocks, cue]
        else:  # the values each block's trials of the cue had, carried over blocks without any
            key = "delay_ms" if kind == "delay" else "probability"
            values = np.full(blocks, np.nan)
            done = np.arange(a["cue"].size) < n_done
            for b in range(blocks):
                sel = done & (a["cue"] == cue) & (a["block"] == b)
                if sel.any():
                    values[b] = a[key][sel][0]
                elif b > 0:
                    values[b] = values[b - 1]
        return _block_edges(tpb, values.size), values


# ----------------------------------------------------------------------------------------------
# Single figures
# ----------------------------------------------------------------------------------------------


def paradigm_figure(run: _Run) -> Figure:
    """Targets and attention gates of each cue's trial, with delays, probabilities, switches."""
    p = run.paradigm
    targets, gates = p["targets"], p["gates"]
    dt, onset = float(p["dt_ms"]), float(p["onset_ms"])
    delays, probs = p["delays_ms"], p["probabilities"]
    k = targets.shape[0]
    fig = Figure(figsize=(9.0, 1.6 * k + 1.2), layout="constrained")
    axes = fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        valid = np.isfinite(targets[c, :, 0])
        t = np.arange(targets.shape[1])[valid] * dt
        ax.axvspan(onset, t[-1], color=_cue_color(c), alpha=0.08, lw=0)
        ax.plot(t, targets[c, valid, 0], color=OUTPUT_COLORS["when"], lw=1.6, label="when target")
        ax.plot(
            t, targets[c, valid, 1] * probs[0, c], color=OUTPUT_COLORS["what_A"], lw=1.6,
            label="what A target: 1 if outcome A (mean p)",
        )  # fmt: skip
        ax.plot(
            t, targets[c, valid, 1] * (1 - probs[0, c]), color=OUTPUT_COLORS["what_B"], lw=1.2,
            ls="--", label="what B target: 1 if outcome B (mean 1 - p)",
        )  # fmt: skip
        for j, (name, y) in enumerate((("when gate", -0.12), ("what gates", -0.24))):
            g = gates[c, valid, 0 if j == 0 else 1] > 0
            if g.any():
                ax.hlines(y, t[g][0], t[g][-1], color="0.4", lw=4)
                ax.text(t[g][-1] + 5, y, name, va="center", fontsize=7, color="0.3")
        ax.axvline(onset, color=_cue_color(c), lw=1)
        ax.axvline(onset + delays[0, c], color="black", lw=0.8, ls=":")
        text = f"cue {c}: outcome {delays[0, c]:g} ms after cue onset, p(A) = {probs[0, c]:g}"
        changed = [
            f"from block {b}: {'delay' if delays[b, c] != delays[0, c] else 'p'} -> "
            f"{delays[b, c] if delays[b, c] != delays[0, c] else probs[b, c]:g}"
            for b in range(1, delays.shape[0])
            if (delays[b, c] != delays[b - 1, c]) or (probs[b, c] != probs[b - 1, c])
        ]
        if changed:
            text += "  (" + "; ".join(changed) + ")"
        ax.set_title(text, fontsize=9, loc="left")
        ax.set_ylim(-0.32, 1.12)
        ax.set_yticks([0, 0.5, 1])
        _letter(ax, c)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=3, fontsize=8)
    axes[-1].set_xlabel("time in trial (ms); cue on from the coloured line, outcome at dotted")
    fig.suptitle(
        f"What and when paradigm: {k} cues, {int(p['trials_per_block'])} trials per block, "
        "outcome A with probability p, else B"
    )
    return fig


def raster_figure(run: _Run) -> Figure | None:
    """Spikes of one trial: the neurons that fired, ordered by their mean spike time, with
    cue onset and outcome time marked, and below them the excitatory and inhibitory rates.
    Above :data:`MAX_RASTER_NEURONS` neurons, a fixed random sample of them is drawn."""
    path = run.dir / "raster_trial.npz"
    if not path.exists():
        return None
    spikes, excitatory = load_spikes(path)
    meta = read_json(run.dir / "raster_trial.json")
    n = spikes.n_neurons
    exc = excitatory if excitatory is not None else np.ones(n, bool)
    driven = np.zeros(n, bool)
    driven[np.asarray(meta["driven"], dtype=np.int64)] = True
    shown = np.ones(n, bool)
    if n > MAX_RASTER_NEURONS:
        shown[:] = False
        shown[np.random.default_rng(0).choice(n, MAX_RASTER_NEURONS, replace=False)] = True
    counts = np.bincount(spikes.indices, minlength=n)
    mean_time = np.bincount(spikes.indices, weights=spikes.times_ms, minlength=n)
    mean_time = np.where((counts > 0) & shown, mean_time / np.maximum(counts, 1), np.inf)
    order = np.argsort(mean_time, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    active = int(np.count_nonzero(counts))
    active_shown = int(np.count_nonzero((counts > 0) & shown))
    fig = Figure(figsize=(10.0, 6.2), layout="constrained")
    ax, ax_rate = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    groups = (
        ("driven by the cue (excitatory)", driven, "tab:green"),
        ("other excitatory", ~driven & exc, "tab:blue"),
        ("inhibitory", ~driven & ~exc, "tab:red"),
    )
    size = 4 if active_shown < 500 else 1.5
    for label, mask, color in groups:
        sel = (mask & shown)[spikes.indices]
        ax.scatter(spikes.times_ms[sel], rank[spikes.indices[sel]], s=size, c=color, marker="|",
                   linewidths=0.8, label=f"{label}: {int(np.count_nonzero(mask & (counts > 0)))}"
                   f" of {int(mask.sum())} fired")  # fmt: skip
    onset, outcome = meta["onset_ms"], meta["onset_ms"] + meta["delay_ms"]
    for a in (ax, ax_rate):
        a.axvline(onset, color="black", lw=1)
        a.axvline(outcome, color="black", lw=1, ls="--")
    sample = "" if shown.all() else f" (a random {MAX_RASTER_NEURONS} of the {n} drawn)"
    ax.set_ylabel("neurons that fired,\nby mean spike time")
    ax.set_ylim(-0.5, max(active_shown, 1) - 0.5)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=4,
              title="neurons", title_fontsize=8)  # fmt: skip
    ax.set_title(
        f"Trial {meta['trial_index']}: cue {meta['cue']} on at {onset:g} ms (solid line), "
        f"outcome {meta['outcome']} at {outcome:g} ms (dashed); {active} of {n} neurons "
        f"fired{sample}",
        fontsize=9,
        loc="left",
    )
    duration = spikes.duration_ms if spikes.duration_ms > 0 else float(spikes.times_ms.max())
    bin_ms = 10.0
    edges = np.arange(0.0, duration + bin_ms, bin_ms)
    ax_driven = ax_rate.twinx()  # the cue-driven neurons fire several times faster
    for a_, label, mask, color in (
        (ax_rate, "excitatory, not cue-driven", exc & ~driven, "tab:blue"),
        (ax_rate, "inhibitory", ~exc, "tab:red"),
        (ax_driven, "cue-driven (right axis)", driven, "tab:green"),
    ):
        if not mask.any():
            continue
        hist, _ = np.histogram(spikes.times_ms[mask[spikes.indices]], bins=edges)
        rate = hist / int(mask.sum()) / (bin_ms / 1000.0)
        a_.plot(edges[:-1] + bin_ms / 2, rate, color=color, lw=1.6, label=label,
                ls="--" if a_ is ax_driven else "-")  # fmt: skip
    ax_driven.set_ylim(bottom=0)
    ax_driven.set_ylabel("cue-driven (Hz)", color="tab:green")
    ax_driven.tick_params(axis="y", colors="tab:green")
    ax_rate.set_ylabel(f"rate (Hz,\n{bin_ms:g} ms bins)")
    ax_rate.set_xlabel("time in trial (ms)")
    ax_rate.set_xlim(0, duration)
    ax_rate.set_ylim(bottom=0)
    handles = ax_rate.get_legend_handles_labels()[0] + ax_driven.get_legend_handles_labels()[0]
    ax_rate.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0),
                   title="population rate", title_fontsize=8)  # fmt: skip
    _letter(ax, 0)
    _letter(ax_rate, 1)
    return fig


def _row_label(label: str, cue: int | None, index: int) -> str:
    """'switch 1 (delay): last trial before' -> three short lines for a row of the grid."""
    head, _, tail = label.partition(": ")
    where = f"cue {cue}, trial {index}" if cue is not None else f"trial {index}"
    return f"{head}\n{tail}\n{where}" if tail else f"{head}\n{where}"


def outputs_figure(run: _Run) -> Figure | None:
    """Outputs against targets for chosen trials before and after each switch, per method."""
    ex = run.examples
    if ex is None:
        return None
    labels = [str(s) for s in ex["label"]]
    n, k = len(labels), len(run.methods)
    dt, onset = float(ex["dt_ms"]), float(ex["onset_ms"])
    fig = Figure(figsize=(3.2 * k + 1.4, 1.9 * n + 1.2), layout="constrained")
    axes = fig.subplots(n, k, sharex=True, sharey=True, squeeze=False)
    cue = run.arrays["cue"] if run.arrays is not None else None
    for i, label in enumerate(labels):
        y = ex["targets"][i]
        valid = np.isfinite(y[:, 0])
        t = np.arange(y.shape[0])[valid] * dt - onset
        for j, m in enumerate(run.methods):
            ax = axes[i, j]
            out = ex[f"outputs__{m}"][i][valid]
            ax.plot(t, y[valid, 0], color="0.6", lw=3, alpha=0.6, label="when target")
            ax.plot(t, y[valid, 1], color=OUTPUT_COLORS["what_A"], lw=3, alpha=0.25,
                    label="what A target (1 if outcome A)")  # fmt: skip
            ax.plot(t, out[:, 0], color=OUTPUT_COLORS["when"], lw=1.1, label="when output")
            ax.plot(t, out[:, 1], color=OUTPUT_COLORS["what_A"], lw=1.1, label="what A output")
            ax.plot(t, out[:, 2], color=OUTPUT_COLORS["what_B"], lw=0.9, label="what B output")
            ax.set_ylim(-0.4, 1.4)
            ax.axvline(0, color="black", lw=0.5)
            _letter(ax, i * k + j, inside=True)
            if i == 0:
                ax.set_title(run.labels.get(m, m), fontsize=12)
            if j == 0:
                idx = int(ex["trial_index"][i])
                c = int(cue[idx]) if cue is not None else None
                ax.set_ylabel(_row_label(label, c, idx), fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=5, fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("time from cue onset (ms)", fontsize=10)
    fig.suptitle("Predictions (weights before the trial) against targets", fontsize=13)
    return fig


def timing_figure(run: _Run) -> Figure | None:
    """Peak time of "when" over trials against the true delay, per method and cue."""
    a = run.arrays
    if a is None:
        return None
    n_done = int(a["n_trials_done"])
    k = len(run.methods)
    fig = Figure(figsize=(3.3 * k + 1.2, 3.8), layout="constrained")
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    index = np.arange(a["cue"].size)
    done = index < n_done
    cues = [int(c) for c in np.unique(a["cue"][done])]
    for i, (ax, m) in enumerate(zip(axes, run.methods, strict=True)):
        peak = a[f"peak_time_ms__{m}"]
        for c in cues:
            sel = done & (a["cue"] == c)
            edges, delay = run.truth("delay", c)
            ax.stairs(delay, edges, color=_cue_color(c), lw=1.5, alpha=0.6, baseline=None)
            ax.plot(index[sel], peak[sel], ".", ms=3, color=_cue_color(c), label=f"cue {c}")
        ax.set_title(run.labels.get(m, m), fontsize=10)
        ax.set_xlabel("trial")
        _letter(ax, i)
    axes[0].set_ylabel("peak time of 'when' after cue onset (ms)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right upper", fontsize=8, markerscale=3)
    fig.suptitle("When: predicted peak time (dots) against the true delay (lines)")
    return fig


def magnitude_figure(run: _Run) -> Figure | None:
    """Mean magnitude of the "what" outputs against the outcome probability, with the fit."""
    if run.metrics is None:
        return None
    k = len(run.methods)
    fig = Figure(figsize=(3.2 * k, 3.7), layout="constrained")
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    grid = np.linspace(0, 1, 11)
    for i, (ax, m) in enumerate(zip(axes, run.methods, strict=True)):
        prob = run.metrics["methods"][m]["probability"]
        for lv in prob["levels"]:
            c = _cue_color(lv["cue"])
            ax.plot(lv["p"], lv["magnitude_A"], "o", color=c, ms=5)
            ax.plot(1 - lv["p"], lv["magnitude_B"], "s", color=c, ms=4, mfc="none")
        ax.plot(grid, grid, color="0.7", lw=1, ls=":")
        slope, icpt, corr = prob["slope"], prob["intercept"], prob["correlation"]
        title = run.labels.get(m, m)
        if slope is not None and icpt is not None:
            ax.plot(grid, slope * grid + icpt, color=run.color(m), lw=1.2)
            if corr is not None:
                title += f"\nslope {slope:.2f}, r = {corr:.3f}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("outcome probability")
        _letter(ax, i)
    axes[0].set_ylabel("mean output over the wait")
    fig.suptitle(
        "What: magnitude against probability (filled: A vs p, open: B vs 1 - p; "
        "colour: cue; dotted: identity)"
    )
    return fig


def recovery_figure(run: _Run) -> Figure | None:
    """Trials of the switched cue needed to come back within tolerance, per switch and method."""
    if run.metrics is None:
        return None
    methods = run.methods
    switches = run.metrics["methods"][methods[0]]["recovery"]
    if not switches:
        return None
    fig = Figure(figsize=(4.6 + 2.2 * len(switches), 3.9), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(methods)
    top = max(
        [
            r["trials_in_segment"]
            for m in methods
            for r in run.metrics["methods"][m]["recovery"]
            if r["trials_in_segment"]
        ]
        or [1]
    )
    for j, m in enumerate(methods):
        for i, r in enumerate(run.metrics["methods"][m]["recovery"]):
            x = i + (j - (len(methods) - 1) / 2) * width
            value = r["trials_to_recover"]
            if value is None:
                ax.annotate(
                    "", xy=(x, top * 1.12), xytext=(x, 0), arrowprops={
                        "arrowstyle": "->", "color": run.color(m), "lw": 2},
                )  # fmt: skip
                ax.text(x, top * 1.14, "never" if r["complete"] else "…", ha="center",
                        fontsize=8, color=run.color(m))  # fmt: skip
            else:
                ax.bar(x, max(value, 0.15), width=width * 0.9, color=run.color(m))
                ax.text(x, value + top * 0.02, str(value), ha="center", fontsize=8)
        ax.bar(0, 0, color=run.color(m), label=run.labels.get(m, m))
    for i, r in enumerate(switches):
        label = "trials of the cue\nbefore the next switch" if i == 0 else None
        ax.hlines(r["trials_in_segment"], i - 0.45, i + 0.45, color="0.5", ls=":", lw=1.2,
                  label=label)  # fmt: skip
    ax.set_xticks(range(len(switches)))
    ax.set_xticklabels(
        [f"{r['kind']} switch, cue {r['cue']}\n(block {r['block']}, -> {r['value']:g})"
         for r in switches], fontsize=8,
    )  # fmt: skip
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("trials of the switched cue to recover")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        "Adaptation after each switch (arrow: never back within tolerance before the run ended)",
        fontsize=9,
    )
    return fig


def learning_figure(run: _Run) -> Figure | None:
    """The switched cues trial by trial: peak time (delay switch) and magnitude (p switch);
    below them, when the run kept it, the three-factor rule's attention per cue."""
    a = run.arrays
    if a is None or not run.config.get("switches"):
        return None
    switches = run.config["switches"]
    n_done = int(a["n_trials_done"])
    tpb = int(run.config["config"]["trials_per_block"])
    attention = "attention_gate__three_factor" in a
    n_rows = len(switches) + int(attention)
    fig = Figure(figsize=(10.0, 3.0 * n_rows + 0.6), layout="constrained")
    axes = list(fig.subplots(n_rows, 1, squeeze=False, sharex=True)[:, 0])
    for i, ax in enumerate(axes):
        _letter(ax, i)
    if attention:
        _attention_panel(run, axes[-1], switches, n_done, tpb)
        axes = axes[:-1]
    index = np.arange(a["cue"].size)
    for ax, sw in zip(axes, switches, strict=True):
        sel = (a["cue"] == sw["cue"]) & (index < n_done)
        if sw["kind"] == "delay":
            key, ylabel = "peak_time_ms", "peak time (ms)"
        else:
            key, ylabel = "magnitude_A", "what A magnitude"
        for m in run.methods:
            ax.plot(index[sel], a[f"{key}__{m}"][sel], ".-", ms=3, lw=0.8, color=run.color(m),
                    label=run.labels.get(m, m))  # fmt: skip
        edges, truth = run.truth(sw["kind"], int(sw["cue"]))
        ax.stairs(truth, edges, color="black", lw=1.6, ls="--", baseline=None,
                  label="true value")  # fmt: skip
        ax.axvline(sw["block"] * tpb - 0.5, color="0.5", lw=0.8)
        ax.set_ylabel(ylabel)
        ax.set_title(
            f"cue {sw['cue']}: {sw['kind']} switch at block {sw['block']} -> {sw['value']:g}",
            fontsize=9, loc="left",
        )  # fmt: skip
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncol=5, fontsize=8)
    fig.axes[-1].set_xlabel("trial")
    return fig


def _attention_panel(run: _Run, ax, switches, n_done: int, tpb: int) -> None:
    """Gate level of the three-factor "when" output on each trial, one line per cue."""
    a = run.arrays
    gate = a["attention_gate__three_factor"]
    index = np.arange(gate.size)
    for c in range(int(a["cue"].max()) + 1):
        sel = (a["cue"] == c) & (index < n_done)
        ax.plot(index[sel], gate[sel], ".-", ms=3, lw=0.8, color=_cue_color(c), label=f"cue {c}")
    for sw in switches:
        ax.axvline(sw["block"] * tpb - 0.5, color="0.5", lw=0.8)
        ax.text(sw["block"] * tpb, 1.02, f"{sw['kind']} switch, cue {sw['cue']}", fontsize=7,
                va="bottom")  # fmt: skip
    cfg = run.config["config"]
    on = bool(cfg.get("tf_attention", False))
    floor = cfg.get("tf_attention_floor")
    if on and floor is not None:
        ax.axhline(floor, color="0.5", ls=":", lw=1.0, label="floor")
    ax.set_ylim(-0.02, 1.12)
    ax.set_ylabel('three-factor gate\n("when")')
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    title = (
        f"attention: surprise-driven gate per cue (rate {cfg.get('tf_attention_rate')}, "
        f"floor {floor}, full at associability {cfg.get('tf_attention_ref')})"
        if on
        else "attention off: fixed gate"
    )
    ax.set_title(title, fontsize=9, loc="left")


def angles_figure(run: _Run) -> Figure | None:
    """Principal angle between the "what" and "when" weight subspaces over learning."""
    a = run.arrays
    if a is None:
        return None
    fig = Figure(figsize=(8.0, 3.8), layout="constrained")
    ax = fig.subplots()
    for m in run.methods:
        angle = a[f"angle_deg__{m}"]
        blocks = np.arange(angle.size)
        ok = np.isfinite(angle)
        ax.plot(blocks[ok], angle[ok], "o-", ms=3, color=run.color(m), label=run.labels.get(m, m))
    ref = float(a["random_reference_angle_deg"])
    ax.axhline(ref, color="black", ls="--", lw=1, label=f"random weights ({ref:.1f} deg)")
    ax.axhline(70.0, color="0.6", ls=":", lw=1, label="70 deg")
    for sw in run.config.get("switches", []):
        ax.axvline(sw["block"] - 0.5, color="0.8", lw=0.8)
    ax.set_ylim(0, 92)
    ax.set_xlabel("block (weights at its end; grey: switches)")
    ax.set_ylabel("principal angle (deg)")
    ax.set_title("Angle between span(what A, what B) and span(when)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------

FIGURES = (
    ("paradigm.png", paradigm_figure),
    ("raster.png", raster_figure),
    ("outputs.png", outputs_figure),
    ("timing.png", timing_figure),
    ("magnitude_probability.png", magnitude_figure),
    ("recovery.png", recovery_figure),
    ("learning.png", learning_figure),
    ("angles.png", angles_figure),
)
"""File name and drawing function of every figure, in the order they are written."""

DOCS_FIGURES = {
    "whatwhen-paradigm.png": paradigm_figure,
    "whatwhen-learning.png": learning_figure,
    "whatwhen-recovery.png": recovery_figure,
    "whatwhen-angles.png": angles_figure,
    "whatwhen-magnitude.png": magnitude_figure,
}


def plot(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Draw every figure of a "what and when" run folder from its saved files.

    Args:
        run_dir: a folder written by :func:`spikesub.whatwhen.run.run`.
        out_dir: where to write the PNGs (default: the run folder).

    Returns:
        the paths written (figures whose files are missing, as in an interrupted run, are
        skipped).

    Raises:
        FileNotFoundError: no such folder, or no ``config.json`` in it.
        ValueError: the folder is not a "whatwhen" run.
    """
    run = _Run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.dir
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, draw in FIGURES:
        if draw is paradigm_figure and run.paradigm is None:
            continue
        fig = draw(run)
        if fig is not None:
            written.append(save_figure(fig, out / name))
    return written


def save_docs_figures(run_dir: str | Path, docs_dir: str | Path = "docs") -> list[Path]:
    """Write the README's figures (``whatwhen-*.png``) from a run folder into ``docs_dir``."""
    run = _Run(run_dir)
    docs = Path(docs_dir)
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in DOCS_FIGURES.items():
        fig = draw(run)
        if fig is not None:
            written.append(save_figure(fig, docs / name))
    return written
