"""The task sequence: cue patterns on each task's own input channels, shared outputs.

Task ``t`` of a sequence owns ``n_channels`` input channels of its own (channels
``t * n_channels`` to ``(t + 1) * n_channels - 1`` of the reservoir's input) and ``n_classes``
cues. A cue is a short spatiotemporal pattern: ``n_segments`` random intensity vectors over
the task's channels (uniform on [0, 1]), each held for an equal part of the stimulus. Every
task maps its cues onto the SAME ``n_classes`` outputs (domain-incremental), so a readout
that learns task ``t`` must not overwrite what it learnt for the earlier tasks on the same
output units.

A trial (``(samples, channels)`` of the reservoir's input, one sample per ``sample_ms``) is
the cue's pattern plus Gaussian noise of standard deviation ``noise`` (new on every trial,
every sample and channel) for ``stimulus_samples``, then ``gap_samples`` of silence. The
response window is the second half of the stimulus: the readout is trained there (its gate
is open only there) and its output averaged there is the trial's answer (argmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikesub.models.validation import check_int, check_real

__all__ = ["CueTask", "TaskSequence", "Trials", "make_sequence"]


@dataclass(frozen=True)
class CueTask:
    """One task: its cues' patterns ``(n_classes, n_segments, n_channels)`` in [0, 1] and
    where its channels start in the reservoir's input."""

    patterns: np.ndarray
    first_channel: int

    @property
    def n_classes(self) -> int:
        return int(self.patterns.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.patterns.shape[2])


@dataclass(frozen=True)
class Trials:
    """Trials of one task: ``signal`` ``(n_trials * trial_samples, input_channels)``,
    ``labels`` ``(n_trials,)`` and the response window's samples within a trial."""

    signal: np.ndarray
    labels: np.ndarray
    trial_samples: int
    window: tuple[int, int]


class TaskSequence:
    """Tasks that share their outputs, each on its own input channels.

    Args:
        tasks: the tasks in training order; every one must have the same number of classes
            (the shared outputs) and the same cue shape ``(n_segments, n_channels)``.
        stimulus_samples: samples a cue lasts (>= 2, a multiple of ``n_segments``).
        gap_samples: silent samples after it (>= 0).
        noise: standard deviation of the Gaussian noise on the cue, >= 0.

    Raises:
        ValueError: no tasks, mismatched classes or cue shapes (the task and the shapes
            named), overlapping channels, or a setting out of range.
    """

    def __init__(
        self,
        tasks: list[CueTask],
        *,
        stimulus_samples: int = 12,
        gap_samples: int = 4,
        noise: float = 0.3,
    ) -> None:
        if not tasks:
            raise ValueError("a task sequence needs at least one task")
        first = tasks[0].patterns.shape
        for t, task in enumerate(tasks):
            shape = task.patterns.shape
            if len(shape) != 3:
                raise ValueError(
                    f"task {t}: patterns must be (n_classes, n_segments, n_channels); got {shape}"
                )
            if shape != first:
                raise ValueError(
                    f"task {t} has cues of shape {shape} (n_classes, n_segments, n_channels) "
                    f"but task 0 has {first}: every task of a sequence needs the same input "
                    "size and the same classes (the outputs are shared)"
                )
        ends = sorted((task.first_channel, task.first_channel + task.n_channels) for task in tasks)
        if any(b[0] < a[1] for a, b in zip(ends, ends[1:], strict=False)) or ends[0][0] < 0:
            raise ValueError("the tasks' input channels overlap: each task needs its own")
        self.tasks = list(tasks)
        self.stimulus_samples = check_int("stimulus_samples", stimulus_samples, minimum=2)
        self.gap_samples = check_int("gap_samples", gap_samples, minimum=0)
        self.noise = check_real("noise", noise, low=0.0)
        if self.stimulus_samples % self.n_segments:
            raise ValueError(
                f"stimulus_samples ({stimulus_samples}) must be a multiple of the cues' "
                f"{self.n_segments} segments"
            )

    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def n_classes(self) -> int:
        return self.tasks[0].n_classes

    @property
    def n_segments(self) -> int:
        return int(self.tasks[0].patterns.shape[1])

    @property
    def input_channels(self) -> int:
        """Channels of the reservoir's input: all tasks' channels."""
        return max(task.first_channel + task.n_channels for task in self.tasks)

    @property
    def trial_samples(self) -> int:
        return self.stimulus_samples + self.gap_samples

    @property
    def window(self) -> tuple[int, int]:
        """The response window's samples within a trial: the second half of the stimulus."""
        return self.stimulus_samples // 2, self.stimulus_samples

    def trials(self, task: int, n_trials: int, seed: int | np.random.Generator) -> Trials:
        """``n_trials`` noisy trials of task ``task``, labels drawn uniformly (seeded)."""
        task = check_int("task", task, minimum=0, maximum=len(self) - 1)
        n_trials = check_int("n_trials", n_trials, minimum=1)
        rng = np.random.default_rng(seed)
        cue = self.tasks[task]
        labels = rng.integers(0, self.n_classes, n_trials)
        length = self.trial_samples
        per_segment = self.stimulus_samples // self.n_segments
        signal = np.zeros((n_trials, length, self.input_channels))
        pattern = np.repeat(cue.patterns[labels], per_segment, axis=1)  # (trials, stim, ch)
        noise = self.noise * rng.standard_normal(pattern.shape)
        channels = slice(cue.first_channel, cue.first_channel + cue.n_channels)
        signal[:, : self.stimulus_samples, channels] = pattern + noise
        return Trials(signal.reshape(n_trials * length, -1), labels, length, self.window)


def make_sequence(
    n_tasks: int,
    n_classes: int,
    n_channels: int,
    *,
    n_segments: int = 2,
    seed: int | np.random.Generator = 0,
    **trial_options,
) -> TaskSequence:
    """A sequence of ``n_tasks`` tasks with random cue patterns (uniform on [0, 1]), task
    ``t`` on channels ``t * n_channels`` onwards; ``trial_options`` go to
    :class:`TaskSequence`."""
    n_tasks = check_int("n_tasks", n_tasks, minimum=1)
    n_classes = check_int("n_classes", n_classes, minimum=2)
    n_channels = check_int("n_channels", n_channels, minimum=1)
    n_segments = check_int("n_segments", n_segments, minimum=1)
    rng = np.random.default_rng(seed)
    tasks = [
        CueTask(rng.uniform(0.0, 1.0, (n_classes, n_segments, n_channels)), t * n_channels)
        for t in range(n_tasks)
    ]
    return TaskSequence(tasks, **trial_options)
